"""``make demo``: a local cloud and one simulated terminal through a scripted morning.

Everything runs through the real code path: a pty serial scanner types member cards and
mobiles, the cashier flow commits to the SQLite ledger and outbox, receipts are rendered
and composed as ESC/POS bytes (saved as ``.bin`` and decoded back to ``.png``), and the
outbox is pushed over signed HTTP on loopback to a cloud process on SQLite.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent.config import AgentConfig
from agent.drivers.escpos_decoder import decode, drawer_kicks, receipt_image
from agent.drivers.profiles import ScannerProfile, load_profile
from agent.drivers.serial_scanner import SerialScanner
from agent.drivers.simulator import PtyScannerSimulator
from agent.errors import UnknownMember
from agent.identity import enroll, load_identity
from agent.ledger import book
from agent.offline_queue import outbox
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from common.persian import normalize_text

STORE_NAME = "فروشگاه ونک"
OWNER_PASSWORD = "vafa-owner"
HQ_USER, HQ_PASSWORD = "admin", "vafa-admin"


@dataclass(frozen=True)
class Visit:
    """One customer at the counter: what the cashier scans or types, and the purchase."""

    scan: str  # a mobile in the form the customer says it, or "card:<name>" for a returning card
    name: str
    amount_rial: int
    redeem: int = 0


MORNING = (
    Visit("0912 345 6789", "زهرا محمدی", 1_250_000),
    Visit("+98 935 111 2233", "علی رضایی", 3_400_000),
    Visit("۰۹۱۹۸۷۶۵۴۳۲", "مريم كريمي", 560_000),  # Persian digits; Arabic ي and ك in the name
    Visit("card:زهرا محمدی", "", 890_000, redeem=100),
    Visit("00989121112233", "حسین احمدی", 12_800_000),
    Visit("card:علی رضایی", "", 2_150_000, redeem=300),
    Visit("9361234567", "سارا حسینی", 745_000),
    Visit("card:حسین احمدی", "", 4_600_000, redeem=1_000),
    Visit("card:مريم كريمي", "", 1_980_000),
    Visit("0912-345-6789", "", 315_000),
)


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cloud_command(instance: Path, *args: str) -> dict[str, Any]:
    """Run one ``vafa-cloud`` command on an instance folder and return its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "cloud", "--instance", str(instance), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@contextlib.contextmanager
def cloud_server(instance: Path, port: int) -> Iterator[str]:
    """Serve ``vafa-cloud`` (waitress, SQLite in ``instance``) and yield its base URL."""
    log = (instance / "cloud.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "cloud", "--instance", str(instance), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until a cloud process answers its health check; raise if it dies or stays mute."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the cloud exited with {process.returncode}; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the cloud did not answer within 30 s")


def _morning(
    terminal: Terminal, scanner: SerialScanner, sim: PtyScannerSimulator, out: Path
) -> dict[str, Any]:
    cards: dict[str, str] = {}
    receipts, kicks = [], 0
    for number, visit in enumerate(MORNING, start=1):
        card_of = normalize_text(visit.scan.removeprefix("card:"))
        sim.scan(cards[card_of] if visit.scan.startswith("card:") else visit.scan)
        scanned = scanner.read(timeout=5)
        if scanned is None:
            raise RuntimeError(f"visit {number}: the scanner produced nothing")
        try:
            member = terminal.flow.identify(scanned)
        except UnknownMember:
            member = terminal.flow.enrol(scanned, visit.name, consent=True)
            cards[member.name] = member.card_code
        sale = terminal.flow.sale(member.id, visit.amount_rial, visit.redeem)
        printed = terminal.print_receipt(sale)
        kicks += len(drawer_kicks(decode(printed.escpos)))
        receipts.append(_save_receipt(out, sale.receipt_no, printed.escpos))
        print(
            f"  رسید {sale.receipt_no:>2}: {sale.member.name} — {visit.amount_rial:,} ریال, "
            f"+{sale.points_earned} −{sale.points_redeemed} → {sale.balance}",
            flush=True,
        )
    return {"receipts": receipts, "drawer_kicks": kicks, "members": len(cards)}


def _save_receipt(out: Path, number: int, data: bytes) -> str:
    stem = out / "receipts" / f"receipt-{number:03d}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".bin").write_bytes(data)
    image = receipt_image(data)
    if image is None:
        raise RuntimeError(f"receipt {number} holds no raster image")
    image.save(stem.with_suffix(".png"))
    return str(stem.with_suffix(".png"))


def run_demo(out: Path, once: bool) -> dict[str, Any]:
    """Run the demo; with ``once``, return the summary instead of serving until Ctrl-C."""
    shutil.rmtree(out, ignore_errors=True)
    (out / "cloud").mkdir(parents=True)
    setup = cloud_command(out / "cloud", "store", "create", "--name", STORE_NAME)
    cloud_command(out / "cloud", "user", "create", "--username", HQ_USER, "--password", HQ_PASSWORD)
    with cloud_server(out / "cloud", free_port()) as cloud_url:
        config = AgentConfig(
            data_dir=out / "terminal", cloud_url=cloud_url, feedback_base_url=cloud_url
        )
        enroll(cloud_url, setup["enrolment_code"], config.data_dir)
        terminal = Terminal(config, store_name=STORE_NAME)
        from agent.web.app import set_owner_password

        set_owner_password(terminal, OWNER_PASSWORD)
        profile = load_profile("generic-serial-scanner")
        assert isinstance(profile, ScannerProfile)
        sim = PtyScannerSimulator(suffix=profile.suffix)
        scanner = SerialScanner(sim.port_path, profile)
        print(f"Vafa demo: cloud at {cloud_url}, scanner on {sim.port_path}", flush=True)
        try:
            result = _morning(terminal, scanner, sim, out)
            client = SyncClient(load_identity(config.data_dir))
            drained = client.drain(terminal.conn, terminal.vault)
            cloud_totals = cloud_command(out / "cloud", "totals")
            # HQ's pages read what the analytics pass stores (daily in production): run one.
            analytics = cloud_command(out / "cloud", "analytics", "run")
            summary = {
                "sales": len(MORNING),
                "members": result["members"],
                "receipts": result["receipts"],
                "drawer_kicks": result["drawer_kicks"],
                "events_synced": drained.acked,
                "agent_points_total": book.total_member_points(terminal.conn),
                "cloud_points_total": cloud_totals["points_total"],
                "cloud_sales": cloud_totals["sales"],
                "queue_depth": outbox.depth(terminal.conn),
                "analysed_members": analytics["members"],
                "ledger_problems": book.verify(terminal.conn),
            }
            client.close()
            if not once:
                _serve_until_interrupted(terminal, cloud_url)
        finally:
            scanner.close()
            sim.close()
            terminal.close()
    return summary


def _serve_until_interrupted(terminal: Terminal, cloud_url: str) -> None:
    from waitress import create_server

    from agent.service import start_sync
    from agent.web.app import create_app

    poller = start_sync(terminal)
    server = create_server(create_app(terminal), host="127.0.0.1", port=free_port(), threads=4)
    owner_url = f"http://127.0.0.1:{server.effective_port}/"
    threading.Thread(target=server.run, daemon=True).start()
    print(
        f"\nStore-owner page: {owner_url}  (password: {OWNER_PASSWORD})\n"
        f"HQ page:          {cloud_url}/hq/  (user {HQ_USER}, password: {HQ_PASSWORD})\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        server.close()
        if poller is not None:
            poller.stop()

"""Kill -9 the terminal at hundreds of random points during sales, redemptions and sync.

A child process runs the real agent code (simulated printer) against a real cloud in its
own process: it sells, redeems, refunds now and then, and syncs (push and pull) every few
sales, writing each sale id to a pipe only after its commit returned. The harness kills it
with SIGKILL at a random moment, reboots the terminal (integrity check, migrations) and
checks it, again and again; at the end it drains everything and compares with the cloud.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from agent.config import AgentConfig
from agent.demo import cloud_command, cloud_server, free_port
from agent.errors import AgentError
from agent.identity import enroll, load_identity
from agent.ledger import book
from agent.offline_queue import outbox
from agent.offline_queue.pull import pull
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.balances import running_total_problems
from cloud.reports import totals

MOBILES = [f"0912300{n:04d}" for n in range(8)]
BOOT_TIMEOUT = 60.0  # a slow machine boots the terminal in well under this


@dataclass
class CrashReport:
    """What the crash run did and found."""

    kills: int
    confirmed_sales: int
    terminal_sales: int
    cloud_sales: int
    events: int
    refunds: int
    redemptions: int
    seconds: float


def _work(config: AgentConfig, member_ids: list[str], seed: int, write_fd: int) -> None:
    """Child: sell, redeem, refund and sync forever; confirm each sale after its commit."""
    rng = random.Random(seed)
    terminal = Terminal(config)
    client = SyncClient(load_identity(config.data_dir), timeout=2.0)
    os.write(write_fd, b"U\n")  # booted: the harness's random window starts now
    count = 0
    while True:
        member_id = rng.choice(member_ids)
        redeem = 20 if rng.random() < 0.3 and terminal.flow.balance(member_id) >= 20 else 0
        try:
            sale = terminal.flow.sale(member_id, rng.randrange(50_000, 2_000_000), redeem)
        except AgentError:  # the offline redemption cap, say: the cashier tries without
            continue
        os.write(write_fd, f"S {sale.sale_id}\n".encode())
        count += 1
        if rng.random() < 0.05:
            terminal.flow.refund(sale.sale_id)
            os.write(write_fd, f"R {sale.sale_id}\n".encode())
        if count % 7 == 0:
            try:
                client.drain(terminal.conn, terminal.vault, batch_size=50)
                pull(client, terminal.conn, terminal.vault)
            except AgentError:
                pass


def _one_life(
    config: AgentConfig, member_ids: list[str], rng: random.Random
) -> tuple[list[str], list[str]]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            _work(config, member_ids, rng.randrange(2**32), write_fd)
        finally:
            os._exit(1)
    os.close(write_fd)
    data = bytearray()
    if rng.random() < 0.9:  # most kills land in sales and sync, the rest during the boot
        data += _read_until(read_fd, b"U\n", time.monotonic() + BOOT_TIMEOUT)
    deadline = time.monotonic() + rng.uniform(0.0, 0.15)
    data += _read_until(read_fd, None, deadline)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    lines = [line.split() for line in data.decode().split("\n")[:-1]]
    sold = [parts[1] for parts in lines if len(parts) == 2 and parts[0] == "S"]
    refunded = [parts[1] for parts in lines if len(parts) == 2 and parts[0] == "R"]
    return sold, refunded


def _read_until(read_fd: int, marker: bytes | None, deadline: float) -> bytes:
    """What the child wrote until ``marker`` appeared (or the pipe closed) or ``deadline``."""
    data = bytearray()
    while time.monotonic() < deadline and (marker is None or marker not in data):
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    return bytes(data)


def _check_terminal(conn: sqlite3.Connection, confirmed: list[str], refunded: list[str]) -> None:
    stored = dict(conn.execute("SELECT id, refunded_at FROM sales").fetchall())
    lost = [sale for sale in confirmed if sale not in stored]
    assert not lost, f"confirmed sales lost: {lost[:3]}"
    assert len(set(confirmed)) == len(confirmed), "a sale id confirmed twice"
    assert all(stored[sale] for sale in refunded), "a confirmed refund is missing"
    assert book.verify(conn) == [], book.verify(conn)
    seqs = [row[0] for row in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)), "the outbox sequence has a gap"


def run(folder: Path, kills: int, seed: int = 20261122) -> CrashReport:
    """Run the whole crash scenario in ``folder``; raise AssertionError on any breach."""
    started = time.monotonic()
    rng = random.Random(seed)
    cloud_dir = folder / "cloud"
    code = str(
        cloud_command(cloud_dir, "store", "create", "--name", "شعبه آزمون")["enrolment_code"]
    )
    with cloud_server(cloud_dir, free_port()) as url:
        config = AgentConfig(data_dir=folder / "terminal", cloud_url=url)
        enroll(url, code, config.data_dir)
        setup = Terminal(config)
        member_ids = [
            setup.flow.enrol(m, f"عضو {i}", consent=True).id for i, m in enumerate(MOBILES)
        ]
        setup.close()
        confirmed: list[str] = []
        refunded: list[str] = []
        for _ in range(kills):
            sold, undone = _one_life(config, member_ids, rng)
            confirmed += sold
            refunded += undone
            terminal = Terminal(config)  # boot: integrity check and migrations again
            try:
                _check_terminal(terminal.conn, confirmed, refunded)
            finally:
                terminal.close()
        terminal = Terminal(config)
        client = SyncClient(load_identity(config.data_dir))
        client.drain(terminal.conn, terminal.vault)
        assert outbox.depth(terminal.conn) == 0
        report = _compare_with_cloud(terminal, cloud_dir, confirmed, refunded, kills)
        client.close()
        terminal.close()
    report.seconds = time.monotonic() - started
    return report


def _compare_with_cloud(
    terminal: Terminal, cloud_dir: Path, confirmed: list[str], refunded: list[str], kills: int
) -> CrashReport:
    engine = sa.create_engine(f"sqlite:///{cloud_dir / 'vafa-cloud.db'}")
    try:
        with engine.connect() as conn:
            cloud_sales = dict(conn.execute(sa.text("SELECT id, refunded_at FROM sales")).all())
            unbalanced = conn.execute(
                sa.text(
                    "SELECT entry_id FROM ledger_postings GROUP BY entry_id HAVING SUM(amount) != 0"
                )
            ).all()
            cloud_points = totals(conn)["points_total"]
            drift = running_total_problems(conn)
            (events, contiguous, highest) = conn.execute(
                sa.text(
                    "SELECT (SELECT COUNT(*) FROM events), contiguous_seq, highest_seq"
                    " FROM terminals"
                )
            ).one()
    finally:
        engine.dispose()
    terminal_sales = {row[0] for row in terminal.conn.execute("SELECT id FROM sales")}
    (outbox_rows,) = terminal.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
    assert set(cloud_sales) == terminal_sales, "the cloud's sales differ from the terminal's"
    assert set(confirmed) <= set(cloud_sales), "a confirmed sale never reached the cloud"
    assert all(cloud_sales[sale] for sale in refunded), "a refund never reached the cloud"
    assert not unbalanced, f"unbalanced entries at the cloud: {unbalanced[:3]}"
    assert not drift, f"running totals differ from the postings: {drift[:3]}"
    assert cloud_points == book.total_member_points(terminal.conn), "points differ"
    assert events == outbox_rows == contiguous == highest, "events lost or doubled"
    (redemptions,) = terminal.conn.execute(
        "SELECT COUNT(*) FROM sales WHERE points_redeemed > 0"
    ).fetchone()
    return CrashReport(
        kills=kills,
        confirmed_sales=len(confirmed),
        terminal_sales=len(terminal_sales),
        cloud_sales=len(cloud_sales),
        events=int(events),
        refunds=len(refunded),
        redemptions=int(redemptions),
        seconds=0.0,
    )

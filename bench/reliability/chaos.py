"""Several terminals sell and sync at once, for minutes, through a fault-injecting proxy.

Each terminal runs in a thread of its own with its own SQLite file, selling, redeeming
(across stores too, after pulls), refunding and syncing (push and pull) through the proxy
to a real cloud in another process, until the time is up. Then every outbox is drained
through the same faults, and the cloud must equal the terminals' model exactly.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa

from agent.config import AgentConfig
from agent.demo import cloud_command, cloud_server, free_port
from agent.errors import AgentError, SyncError
from agent.identity import enroll
from agent.ledger import book
from agent.offline_queue import outbox
from agent.offline_queue.pull import pull
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.reports import totals
from tests.support.fault_proxy import FAULTS, FaultPlan, FaultProxy


@dataclass
class ChaosReport:
    """What the chaos run did and found."""

    terminals: int
    seconds: float
    sales: int
    events: int
    failed_syncs: int
    faults: dict[str, int] = field(default_factory=dict)
    overdrawn_members: int = 0


def _enrol_fleet(cloud_dir: Path, folder: Path, url: str, count: int) -> list[AgentConfig]:
    configs = []
    for index in range(count):
        store = cloud_command(cloud_dir, "store", "create", "--name", f"شعبه {index}")
        config = AgentConfig(data_dir=folder / f"terminal-{index}", cloud_url=url)
        enroll(url, str(store["enrolment_code"]), config.data_dir)
        configs.append(config)
    return configs


def _shop(
    config: AgentConfig,
    proxy_url: str,
    seed: int,
    keep_going: Callable[[], bool],
    out: dict[str, int],
) -> None:
    """Thread: one terminal's day, selling and syncing through the faulty network."""
    from agent.identity import load_identity

    rng = random.Random(seed)
    terminal = Terminal(config)
    client = SyncClient(replace(load_identity(config.data_dir), cloud_url=proxy_url), timeout=5)
    own = [
        terminal.flow.enrol(f"0912{seed % 1000:03d}{n:04d}", f"عضو {n}", consent=True).id
        for n in range(15)
    ]
    sales = failures = 0
    while keep_going():
        known = [row[0] for row in terminal.conn.execute("SELECT id FROM members")]
        member = rng.choice(known if rng.random() < 0.3 else own)
        redeem = 30 if rng.random() < 0.25 and terminal.flow.balance(member) >= 30 else 0
        try:
            sale = terminal.flow.sale(member, rng.randrange(50_000, 3_000_000), redeem)
            sales += 1
            if rng.random() < 0.03:
                terminal.flow.refund(sale.sale_id)
        except AgentError:
            pass  # the offline redemption cap: the cashier sells without redeeming
        if sales % 25 == 0:
            try:
                client.drain(terminal.conn, terminal.vault, batch_size=100)
                pull(client, terminal.conn, terminal.vault)
            except SyncError:
                failures += 1
    while outbox.depth(terminal.conn):
        try:
            client.drain(terminal.conn, terminal.vault, batch_size=100)
        except SyncError:
            failures += 1
    out["sales"], out["failures"] = sales, failures
    client.close()
    terminal.close()


def run(folder: Path, terminals: int, seconds: float, seed: int = 1122) -> ChaosReport:
    """Run the chaos scenario; raise AssertionError if the cloud differs from the fleet."""
    cloud_dir = folder / "cloud"
    cloud_command(cloud_dir, "migrate")
    with cloud_server(cloud_dir, free_port()) as url:
        configs = _enrol_fleet(cloud_dir, folder, url, terminals)
        port = int(url.rsplit(":", 1)[1])
        with FaultProxy(port, FaultPlan(seed=seed)) as proxy:
            started = time.monotonic()
            until = started + seconds
            give_up = until + max(60.0, 5 * seconds)

            def keep_going() -> bool:
                """Until the time is up and every fault has struck (a slow machine sends
                fewer requests in the same time), within a hard limit."""
                now = time.monotonic()
                every_fault = all(proxy.counts[name] for name in FAULTS)
                return now < until or (now < give_up and not every_fault)

            results: list[dict[str, int]] = [{} for _ in configs]
            threads = [
                threading.Thread(
                    target=_shop, args=(config, proxy.url, seed + i, keep_going, results[i])
                )
                for i, config in enumerate(configs)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started  # longer than asked if a fault was late
            faults = {name: proxy.counts[name] for name in (*FAULTS, "clean")}
    assert all(results), "a terminal thread died"
    return _compare(cloud_dir, configs, results, elapsed, faults)


def _compare(
    cloud_dir: Path,
    configs: list[AgentConfig],
    results: list[dict[str, int]],
    seconds: float,
    faults: dict[str, int],
) -> ChaosReport:
    local_points = local_sales = local_events = 0
    for config in configs:
        terminal = Terminal(config)
        try:
            assert book.verify(terminal.conn) == [], f"{config.data_dir}: ledger broken"
            local_points += book.total_member_points(terminal.conn)
            local_sales += terminal.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0]
            local_events += terminal.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        finally:
            terminal.close()
    engine = sa.create_engine(f"sqlite:///{cloud_dir / 'vafa-cloud.db'}")
    try:
        with engine.connect() as conn:
            cloud = totals(conn)
            events = conn.execute(sa.text("SELECT COUNT(*) FROM events")).scalar_one()
            marks = conn.execute(sa.text("SELECT contiguous_seq, highest_seq FROM terminals")).all()
    finally:
        engine.dispose()
    assert cloud["points_total"] == local_points, (cloud["points_total"], local_points)
    assert cloud["sales"] == local_sales, (cloud["sales"], local_sales)
    assert events == local_events, (events, local_events)
    assert all(low == high for low, high in marks), f"sequence gaps: {marks}"
    assert all(faults[name] > 0 for name in FAULTS), faults
    return ChaosReport(
        terminals=len(configs),
        seconds=seconds,
        sales=local_sales,
        events=int(events),
        failed_syncs=sum(r["failures"] for r in results),
        faults=faults,
        overdrawn_members=int(cloud["overdrawn_members"]),
    )

"""Several terminals sync through a fault-injecting proxy; the cloud ends up exact.

GIVEN three enrolled terminals selling, and a proxy on loopback that drops, resets,
delays, duplicates, replays later and loses responses after the cloud committed,
WHEN each terminal keeps draining its outbox through the proxy until it is empty,
THEN the cloud holds every event exactly once: its points, sales and event counts equal
the terminals' own, and no terminal has a sequence gap.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agent.config import AgentConfig
from agent.errors import SyncError
from agent.identity import enroll
from agent.ledger import book
from agent.offline_queue import outbox
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.app import create_app
from cloud.balances import running_total_problems
from cloud.fleet import create_enrolment_code, create_store
from cloud.reports import totals
from cloud.tables import events, terminals
from tests.support.fault_proxy import FAULTS, FaultPlan, FaultProxy
from tests.support.live_server import live_server

TERMINALS = 3
SALES_PER_TERMINAL = 3_320  # with 60 enrolments: 10,020 events in all
ROUNDS = 10


def _cloud(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    url = (
        f"sqlite:///{tmp_path / 'cloud.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_engine_url")
    )
    return create_app(
        {"DATABASE_URL": url, "PII_KEY_FILE": str(tmp_path / "cloud.key"), "SECRET_KEY": "t"}
    )


def _drain_until_empty(terminal: Terminal, client: SyncClient) -> int:
    failures = 0
    while outbox.depth(terminal.conn):
        try:
            client.drain(terminal.conn, terminal.vault, batch_size=100)
        except SyncError:
            failures += 1
            assert failures < 500, "the outbox never drained"
    return failures


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_terminals_sync_exactly_through_network_faults(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    app = _cloud(backend, tmp_path, request)
    engine = app.extensions["vafa"].engine
    with (
        live_server(app) as cloud_url,
        FaultProxy(int(cloud_url.rsplit(":", 1)[1]), FaultPlan()) as proxy,
    ):
        fleet = []
        for index in range(TERMINALS):
            with engine.begin() as conn:
                code = create_enrolment_code(conn, create_store(conn, f"فروشگاه {index}"))
            config = AgentConfig(data_dir=tmp_path / f"terminal-{index}")
            identity = enroll(cloud_url, code, config.data_dir)
            terminal = Terminal(config)
            client = SyncClient(dataclasses.replace(identity, cloud_url=proxy.url), timeout=5)
            members = [
                terminal.flow.enrol(f"09{index + 1}{n:08d}", f"عضو {n}", consent=True).id
                for n in range(20)
            ]
            fleet.append((terminal, client, members))
        failures = 0
        for round_no in range(ROUNDS):
            for terminal, client, members in fleet:
                for n in range(SALES_PER_TERMINAL // ROUNDS):
                    member = members[(round_no + n) % len(members)]
                    redeem = 10 if terminal.flow.balance(member) >= 10 and n % 3 == 0 else 0
                    terminal.flow.sale(member, 150_000 + 1_000 * n, redeem)
                failures += _drain_until_empty(terminal, client)

        with engine.connect() as conn:
            cloud = totals(conn)
            cloud_events = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
            drift = running_total_problems(conn)
            watermarks = conn.execute(
                sa.select(terminals.c.contiguous_seq, terminals.c.highest_seq)
            ).all()
        local_points = sum(book.total_member_points(t.conn) for t, _, _ in fleet)
        local_sales = sum(
            t.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] for t, _, _ in fleet
        )
        local_events = sum(
            t.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] for t, _, _ in fleet
        )
        assert cloud["points_total"] == local_points > 0
        assert cloud["sales"] == local_sales == TERMINALS * SALES_PER_TERMINAL
        assert cloud_events == local_events
        assert drift == []
        assert all(contiguous == highest for contiguous, highest in watermarks)
        assert failures > 0
        assert all(proxy.counts[fault] > 0 for fault in FAULTS), proxy.counts
        for terminal, client, _ in fleet:
            assert book.verify(terminal.conn) == []
            client.close()
            terminal.close()
    engine.dispose()

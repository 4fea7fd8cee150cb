"""The outbox drains to the real cloud app, survives lost responses and resends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agent.ledger import book
from agent.offline_queue import outbox
from cloud.reports import totals
from cloud.tables import events


def _sell(terminal, count: int) -> None:  # type: ignore[no-untyped-def]
    member = terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    for index in range(count):
        terminal.flow.sale(member.id, 100_000 * (index + 1))


def test_drain_empties_the_outbox_and_totals_match(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, client, cloud_app = enrolled
    _sell(terminal, 12)
    result = client.drain(terminal.conn, terminal.vault, batch_size=5)
    assert (result.sent, result.acked, result.batches) == (13, 13, 3)
    assert outbox.depth(terminal.conn) == 0
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        cloud = totals(conn)
    assert cloud["points_total"] == book.total_member_points(terminal.conn) > 0
    assert cloud["sales"] == 12


def test_resending_after_a_lost_response_applies_nothing_twice(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, client, cloud_app = enrolled
    _sell(terminal, 3)
    pending = outbox.pending(terminal.conn, terminal.vault, 100)
    # The cloud commits, but the answer never reaches the terminal:
    answer = client.post_signed("/api/v1/sync/events", {"events": [e.to_dict() for e in pending]})
    assert {r["status"] for r in answer["results"]} == {"applied"}
    assert outbox.depth(terminal.conn) == 4
    client.drain(terminal.conn, terminal.vault)
    assert outbox.depth(terminal.conn) == 0
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 4
        assert totals(conn)["points_total"] == book.total_member_points(terminal.conn)


def test_unreachable_cloud_keeps_events_queued(terminal) -> None:  # type: ignore[no-untyped-def]
    from agent.errors import SyncError
    from agent.identity import TerminalIdentity, load_or_create_key
    from agent.offline_queue.sync import SyncClient

    identity = TerminalIdentity(
        "t" * 32, "s" * 32, "x", "http://127.0.0.1:9", load_or_create_key(terminal.config.data_dir)
    )
    client = SyncClient(identity, timeout=1.0)
    _sell(terminal, 2)
    with pytest.raises(SyncError, match="cannot reach"):
        client.drain(terminal.conn, terminal.vault)
    client.close()
    assert outbox.depth(terminal.conn) == 3

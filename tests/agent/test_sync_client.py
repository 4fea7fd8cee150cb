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


def test_three_days_offline_drain_completely_once_the_cloud_returns(enrolled) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a terminal whose cloud is unreachable for three days of sales (its poller failing
    and backing off) WHEN the cloud returns THEN one attempt drains every event, in order,
    with no gap, and the cloud's figures equal the terminal's; the cloud stamps its own time."""
    import datetime as dt

    from agent.identity import TerminalIdentity
    from agent.offline_queue.poller import SyncPoller
    from agent.offline_queue.sync import SyncClient
    from cloud.tables import sales, terminals
    from common.persian import now_tehran

    terminal, client, cloud_app = enrolled
    start = now_tehran() - dt.timedelta(days=3)
    ticks = iter(range(10**6))
    terminal.flow.clock = lambda: start + dt.timedelta(minutes=10 * next(ticks))
    dead = SyncClient(
        TerminalIdentity(
            client.identity.terminal_id,
            client.identity.store_id,
            client.identity.store_name,
            "http://127.0.0.1:9",
            client.identity.private_key,
        ),
        timeout=1.0,
    )
    poller = SyncPoller(terminal.conn, terminal.vault, dead, interval=5.0)
    members = [terminal.flow.enrol(f"0912555{i:04d}", f"عضو {i}", consent=True) for i in range(20)]
    for day in range(3):
        for n in range(144):  # one sale every ten minutes, around the clock
            member = members[(day * 144 + n) % len(members)]
            terminal.flow.sale(member.id, 100_000 + 10_000 * n)
        assert poller.run_once() is False
    dead.close()
    assert (poller.online, poller.failures) == (False, 3)
    assert poller.next_delay() >= 5.0 * 2**3 / 2  # backing off, not hammering the cloud
    backlog = outbox.depth(terminal.conn)
    kinds = dict(terminal.conn.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind"))
    assert (kinds["member.enrolled"], kinds["sale.completed"]) == (20, 3 * 144)
    assert backlog == sum(kinds.values())  # the rest are tier changes

    poller.client = client
    assert poller.run_once() is True

    assert outbox.depth(terminal.conn) == 0 and poller.online and poller.last_success
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        figures = totals(conn)
        assert figures["sales"] == 3 * 144
        assert figures["points_total"] == book.total_member_points(terminal.conn)
        row = conn.execute(sa.select(terminals)).one()
        assert row.contiguous_seq == row.highest_seq == backlog
        received = conn.execute(sa.select(sa.func.min(sales.c.received_at))).scalar_one()
        oldest_sale = conn.execute(sa.select(sa.func.min(sales.c.terminal_time))).scalar_one()
    # The cloud's time is its own: the sales were made days ago but received now.
    assert dt.datetime.fromisoformat(oldest_sale) < now_tehran() - dt.timedelta(days=2)
    received = received if received.tzinfo else received.replace(tzinfo=dt.UTC)
    assert abs((received - now_tehran()).total_seconds()) < 120


@pytest.mark.parametrize(
    ("status", "text"),
    [(401, "<html>login</html>"), (502, "<html>bad gateway</html>"), (200, "<html>hi</html>")],
)
def test_a_proxy_answering_html_is_a_sync_error_not_a_crash(
    terminal, status: int, text: str
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a captive portal or proxy between terminal and cloud that answers HTML
    WHEN the terminal syncs THEN it gets a SyncError naming the status, and keeps its queue."""
    import httpx

    from agent.errors import SyncError
    from agent.identity import TerminalIdentity, load_or_create_key
    from agent.offline_queue.sync import SyncClient

    def portal(environ, start_response):  # type: ignore[no-untyped-def]
        start_response(f"{status} Whatever", [("Content-Type", "text/html")])
        return [text.encode()]

    identity = TerminalIdentity(
        "t" * 32, "s" * 32, "x", "http://portal.test", load_or_create_key(terminal.config.data_dir)
    )
    client = SyncClient(identity, transport=httpx.WSGITransport(app=portal))
    _sell(terminal, 1)
    with pytest.raises(SyncError, match=str(status) if status != 200 else "not JSON"):
        client.drain(terminal.conn, terminal.vault)
    client.close()
    assert outbox.depth(terminal.conn) == 2

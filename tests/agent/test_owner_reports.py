"""The owner's figures per Tehran day, the sales pages, and the recorded sync outcomes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from agent import reports
from agent.errors import InputError
from agent.offline_queue import status
from common.persian import TEHRAN


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TEHRAN)


def test_week_counts_each_tehran_day_and_refunds_on_their_own_day(terminal) -> None:  # type: ignore[no-untyped-def]
    """GIVEN sales and enrolments on three days, one sale just before midnight and one
    refunded the next day WHEN the week is added up THEN each lands on its Tehran day."""
    flow = terminal.flow
    today = reports.today()
    two_ago, yesterday = today - dt.timedelta(days=2), today - dt.timedelta(days=1)
    flow.clock = lambda: _at(two_ago, 10)
    ali = flow.enrol("09121110001", "علی", True)
    first = flow.sale(ali.id, 2_000_000)
    flow.clock = lambda: _at(yesterday, 23, 59)
    late = flow.sale(ali.id, 500_000)
    flow.enrol("09121110002", "ندا", True)
    flow.clock = lambda: _at(today, 0, 1)
    flow.sale(ali.id, 700_000, redeem_points=first.points_earned // 2)
    flow.refund(late.sale_id)

    days = {d.day: d for d in reports.week(terminal.conn, today)}
    assert list(days) == [today - dt.timedelta(days=n) for n in range(7)]
    assert (days[two_ago].sales, days[two_ago].revenue_rial, days[two_ago].members_joined) == (
        1,
        2_000_000,
        1,
    )
    assert days[two_ago].points_issued == first.points_earned > 0
    assert (days[yesterday].sales, days[yesterday].members_joined, days[yesterday].refunds) == (
        1,
        1,
        0,
    )
    assert (days[today].sales, days[today].refunds, days[today].refunded_rial) == (1, 1, 500_000)
    assert days[today].points_redeemed == first.points_earned // 2
    assert days[today].net_rial == 700_000 - 500_000
    assert all(days[today - dt.timedelta(days=n)].sales == 0 for n in range(3, 7))


def test_members_pulled_from_the_cloud_did_not_join_here(terminal) -> None:  # type: ignore[no-untyped-def]
    """GIVEN one member enrolled at this till today and one enrolled at another store whose
    snapshot arrives today WHEN today's figures are added up THEN one member joined."""
    from agent.ledger.db import write_transaction
    from agent.members import apply_snapshot

    now = dt.datetime.now(TEHRAN)
    terminal.flow.clock = lambda: now
    terminal.flow.enrol("09121110001", "علی", True)
    snapshot = {
        "member_id": "b" * 32,
        "mobile": "+989121110009",
        "name": "مینا",
        "marketing_consent": True,
        "card_code": "2900000000093",
        "tier": "normal",
        "points_elsewhere": 120,
    }
    with write_transaction(terminal.conn):
        apply_snapshot(terminal.conn, terminal.vault, snapshot, now.isoformat())
    assert terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0] == 2
    assert reports.day_totals(terminal.conn, now.date()).members_joined == 1


def test_sales_pages_newest_first_filtered_by_day(terminal) -> None:  # type: ignore[no-untyped-def]
    flow = terminal.flow
    today = reports.today()
    flow.clock = lambda: _at(today - dt.timedelta(days=1), 12)
    member = flow.enrol("09121110003", "سارا", True)
    for n in range(3):
        flow.sale(member.id, 100_000 + n)
    flow.clock = lambda: _at(today, 9)
    for n in range(30):
        flow.sale(member.id, 200_000 + n)
    rows, total = reports.sales_page(terminal.conn, None, 1)
    assert total == 33 and len(rows) == reports.PER_PAGE
    assert [r["receipt_no"] for r in rows] == list(range(33, 33 - reports.PER_PAGE, -1))
    rows, total = reports.sales_page(terminal.conn, None, 2)
    assert len(rows) == 8 and rows[-1]["receipt_no"] == 1
    rows, total = reports.sales_page(terminal.conn, today - dt.timedelta(days=1), 1)
    assert total == 3 and [r["amount_rial"] for r in rows] == [100_002, 100_001, 100_000]
    assert [r["receipt_no"] for r in reports.day_sales(terminal.conn, today)][:2] == [4, 5]


def test_parse_day_reads_jalali_in_any_digits() -> None:
    assert reports.parse_day("۱۴۰۵/۰۹/۱۰") == dt.date(2026, 12, 1)
    assert reports.parse_day("1405-9-10") == dt.date(2026, 12, 1)
    for bad in ("1405/13/01", "1405/09", "دیروز", "1401/12/30"):
        with pytest.raises(InputError) as caught:
            reports.parse_day(bad)
        assert caught.value.fa == "تاریخ را به شکل ۱۴۰۵/۰۹/۱۰ وارد کنید"


def test_the_poller_records_push_pull_and_failure_for_the_sync_page(enrolled) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a poller against the real cloud app WHEN a round succeeds THEN the last push and
    pull are recorded; WHEN the cloud is unreachable THEN the error is, and they stay."""
    from agent.offline_queue.poller import SyncPoller
    from agent.offline_queue.sync import SyncClient

    terminal, client, _cloud = enrolled
    member = terminal.flow.enrol("09121110004", "رضا", True)
    terminal.flow.sale(member.id, 300_000)
    before = status.read(terminal.conn)
    assert before.last_push is None and before.oldest_pending is not None
    poller = SyncPoller(terminal.conn, terminal.vault, client, interval=10)
    assert poller.run_once()
    after = status.read(terminal.conn)
    assert after.last_push is not None and after.last_pull is not None
    assert after.last_pull >= after.last_push and after.oldest_pending is None
    assert after.last_error == ""

    dead = SyncClient(
        dataclasses.replace(client.identity, cloud_url="http://127.0.0.1:9"), timeout=1
    )
    terminal.flow.sale(member.id, 400_000)  # something to push this time
    assert not SyncPoller(terminal.conn, terminal.vault, dead, interval=10).run_once()
    dead.close()
    failed = status.read(terminal.conn)
    assert "cannot reach" in failed.last_error and failed.last_error_at is not None
    assert failed.last_push == after.last_push

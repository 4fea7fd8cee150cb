"""Points over time: refunds, expiry by lots, tiers on a window, the offline redemption cap."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.errors import InputError, InsufficientBalance
from agent.flow import CashierFlow
from agent.ledger import accounts, book
from agent.ledger.db import write_transaction
from agent.offline_queue import outbox
from agent.rules import EarningRules
from agent.terminal import Terminal
from common.persian import TEHRAN


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 21, 10, 0, tzinfo=TEHRAN)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flow(terminal: Terminal, clock: Clock) -> CashierFlow:
    rules = EarningRules(points_validity_days=30, offline_redeem_cap=500, tier_window_days=90)
    terminal.flow = CashierFlow(terminal.conn, terminal.vault, rules, clock=clock)
    return terminal.flow


def _member(flow: CashierFlow) -> str:
    return flow.enrol("09123456789", "زهرا محمدی", consent=True).id


def _ack_all(flow: CashierFlow) -> None:
    ids = [e.id for e in outbox.pending(flow.conn, flow.vault, 10_000)]
    with write_transaction(flow.conn):
        outbox.mark_acked(flow.conn, ids, "acked")


def test_refund_returns_redeemed_and_takes_back_earned(flow: CashierFlow) -> None:
    member = _member(flow)
    flow.sale(member, 5_000_000)  # +500
    sale = flow.sale(member, 1_000_000, redeem_points=200)  # −200 +100
    assert flow.balance(member) == 400
    refund = flow.refund(sale.sale_id)
    assert refund.balance == 500
    assert len(refund.entry_ids) == 2
    assert book.verify(flow.conn) == []
    kinds = [e.kind for e in outbox.pending(flow.conn, flow.vault, 100)]
    assert kinds[-1] == "sale.refunded"
    with pytest.raises(InputError, match="already refunded"):
        flow.refund(sale.sale_id)


def test_refund_of_points_already_spent_books_an_overdraft(flow: CashierFlow) -> None:
    member = _member(flow)
    first = flow.sale(member, 3_000_000)  # +300
    _ack_all(flow)
    flow.sale(member, 0, redeem_points=250)  # spends most of them
    flow.refund(first.sale_id)  # 300 to take back, only 50 left
    assert flow.balance(member) == 0
    assert book.balance(flow.conn, accounts.OVERDRAFT) == -250
    assert book.verify(flow.conn) == []


def test_expiry_takes_oldest_lots_first(flow: CashierFlow, clock: Clock) -> None:
    member = _member(flow)
    flow.sale(member, 1_000_000)  # lot A: 100, expires day 30
    clock.advance(days=20)
    flow.sale(member, 2_000_000)  # lot B: 200, expires day 50
    _ack_all(flow)
    flow.sale(member, 0, redeem_points=120)  # 100 from A, then 20 from B
    clock.advance(days=15)  # day 35: A is past its date but already empty
    assert flow.expire_due() == 0
    clock.advance(days=20)  # day 55: B expires with 180 left
    assert flow.expire_due() == 180
    assert flow.balance(member) == 0
    assert book.balance(flow.conn, accounts.POINTS_EXPIRED) == 180
    assert book.verify(flow.conn) == []


def test_tier_follows_points_earned_in_the_window_not_the_balance(
    flow: CashierFlow, clock: Clock
) -> None:
    member = _member(flow)
    result = flow.sale(member, 12_000_000)  # 1,200 points: silver
    assert result.member.tier == "silver"
    _ack_all(flow)
    flow.sale(member, 0, redeem_points=500)  # spending does not lower the tier
    assert flow.identify("09123456789").tier == "silver"
    clock.advance(days=91)  # the earning leaves the 90-day window
    assert flow.review_tiers() == 1
    assert flow.identify("09123456789").tier == "normal"
    (changes,) = flow.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'member.tier_changed'"
    ).fetchone()
    assert changes == 2  # up to silver, then back down, each reported to the cloud


def test_tier_multiplier_applies_to_earning(flow: CashierFlow) -> None:
    member = _member(flow)
    flow.sale(member, 10_000_000)  # 1,000 points reach silver
    assert flow.sale(member, 1_000_000).points_earned == 125  # 100 × 1.25


def test_offline_redemption_cap(flow: CashierFlow) -> None:
    member = _member(flow)
    flow.sale(member, 20_000_000)  # 2,000 points
    _ack_all(flow)
    flow.sale(member, 0, redeem_points=300)
    with pytest.raises(InsufficientBalance, match="offline redemption cap"):
        flow.sale(member, 0, redeem_points=201)  # 300 + 201 unconfirmed > 500
    flow.sale(member, 0, redeem_points=200)  # exactly at the cap
    _ack_all(flow)  # the cloud confirmed: the cap frees up
    flow.sale(member, 0, redeem_points=400)
    assert flow.balance(member) == 2_000 - 900


def test_refunds_expiry_and_tiers_reach_the_cloud_exactly(enrolled, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from cloud.reports import totals

    terminal, client, cloud_app = enrolled
    flow = CashierFlow(
        terminal.conn, terminal.vault, EarningRules(points_validity_days=30), clock=clock
    )
    member = _member(flow)
    keep = flow.sale(member, 15_000_000)
    undo = flow.sale(member, 2_000_000, redeem_points=300)
    flow.refund(undo.sale_id)
    client.drain(terminal.conn, terminal.vault)
    flow.refund(keep.sale_id)
    flow.sale(member, 4_000_000)
    clock.advance(days=31)
    flow.expire_due()
    client.drain(terminal.conn, terminal.vault)
    assert outbox.depth(terminal.conn) == 0
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        assert totals(conn)["points_total"] == book.total_member_points(terminal.conn) == 0
    assert book.verify(terminal.conn) == []

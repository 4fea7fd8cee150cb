"""Pull: a terminal learns the chain's earning rules and the members of other stores."""

from __future__ import annotations

import pytest

from agent.errors import InsufficientBalance, SyncError, UnknownMember
from agent.ledger import accounts, book
from agent.members import points_elsewhere
from agent.offline_queue.pull import CURSOR_KEY, ETAG_KEY, load_rules, pull, setting
from cloud import snapshots
from cloud.balances import chain_balances
from cloud.reports import totals
from cloud.tables import member_overdrafts


def _set_rules(cloud_app, rules: object) -> str:  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        return snapshots.set_rules(conn, rules)


def test_a_member_enrolled_at_one_store_is_recognised_at_another(two_stores) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a member enrolled and buying at store A, synced to the cloud
    WHEN store B pulls
    THEN B finds the member by mobile and by card, and knows the points held at A."""
    (a, a_client), (b, b_client) = two_stores
    member = a.flow.enrol("09121112233", "مریم كريمی", consent=True, birthday="12-30")
    sale = a.flow.sale(member.id, 2_500_000)
    a_client.drain(a.conn, a.vault)
    with pytest.raises(UnknownMember):
        b.flow.identify("0912 111 2233")

    result = pull(b_client, b.conn, b.vault)

    assert result.members == 1
    found = b.flow.identify("+98 912 111 2233")
    assert (found.id, found.card_code, found.name) == (member.id, member.card_code, "مریم کریمی")
    assert found.birthday == (12, 30)
    assert b.flow.identify(member.card_code).id == member.id
    assert points_elsewhere(b.conn, member.id) == sale.balance > 0
    assert book.balance(b.conn, accounts.member_points(member.id)) == 0  # nothing of A's here
    assert b.flow.balance(member.id) == sale.balance  # yet B shows the chain-wide balance
    assert points_elsewhere(a.conn, member.id) == 0  # A is not told about its own points


def test_a_second_pull_sends_nothing_new_and_new_points_arrive(two_stores) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), (b, b_client) = two_stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a.flow.sale(member.id, 1_000_000)
    a_client.drain(a.conn, a.vault)
    pull(b_client, b.conn, b.vault)
    cursor = int(setting(b.conn, CURSOR_KEY))
    assert cursor > 0

    assert pull(b_client, b.conn, b.vault).members == 0
    assert int(setting(b.conn, CURSOR_KEY)) == cursor

    second = a.flow.sale(member.id, 3_000_000)
    a_client.drain(a.conn, a.vault)
    assert pull(b_client, b.conn, b.vault).members == 1
    assert points_elsewhere(b.conn, member.id) == second.balance
    assert int(setting(b.conn, CURSOR_KEY)) > cursor


def test_pull_pages_through_many_changed_members(two_stores, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), (b, b_client) = two_stores
    monkeypatch.setattr(snapshots, "PAGE", 3)
    ids = set()
    for index in range(8):
        member = a.flow.enrol(f"0912000{index:04d}", f"عضو {index}", consent=False)
        a.flow.sale(member.id, 500_000)
        a_client.drain(a.conn, a.vault)  # one batch per member: eight versions
        ids.add(member.id)
    assert pull(b_client, b.conn, b.vault).members == 8
    known = {row[0] for row in b.conn.execute("SELECT id FROM members")}
    assert known == ids


def test_earning_rules_change_reaches_the_terminal_once(two_stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    (_, _), (b, b_client) = two_stores
    member = b.flow.enrol("09351234567", "علی رضایی", consent=True)
    before = b.flow.sale(member.id, 1_000_000).points_earned
    etag = _set_rules(cloud_app, {"rial_per_point": 1_000, "per_sale_cap": 100_000})

    assert pull(b_client, b.conn, b.vault).rules_changed
    assert setting(b.conn, ETAG_KEY) == etag
    b.refresh_rules()
    after = b.flow.sale(member.id, 1_000_000).points_earned
    assert after == 1_000 != before
    assert not pull(b_client, b.conn, b.vault).rules_changed  # same ETag: nothing resent


def test_rules_the_terminal_cannot_use_are_refused_unstored(two_stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    (_, _), (b, b_client) = two_stores
    _set_rules(cloud_app, {"rial_per_point": -5})
    with pytest.raises(SyncError, match=r"rules this terminal cannot use.*rial_per_point"):
        pull(b_client, b.conn, b.vault)
    assert setting(b.conn, ETAG_KEY) == ""
    assert load_rules(b.conn) == b.flow.rules


def _sync(terminal, client) -> None:  # type: ignore[no-untyped-def]
    client.drain(terminal.conn, terminal.vault)
    pull(client, terminal.conn, terminal.vault)


def _cloud_view(cloud_app, member_id: str):  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        overdraft = conn.execute(
            member_overdrafts.select().where(member_overdrafts.c.member_id == member_id)
        ).first()
        return chain_balances(conn, [member_id])[member_id], overdraft, totals(conn)


def test_points_earned_at_one_store_are_redeemed_at_another(two_stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    """GIVEN 250 points earned at A and known to B WHEN B redeems 200 (its own ledger holds 0)
    THEN the redemption draws on points held elsewhere, B's ledger verifies, and the cloud's
    chain-wide balance is 50 with no overdraft; a refund at B puts the 200 back."""
    (a, a_client), (b, b_client) = two_stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    assert a.flow.sale(member.id, 2_500_000).balance == 250
    a_client.drain(a.conn, a.vault)
    pull(b_client, b.conn, b.vault)

    sale = b.flow.sale(member.id, 400_000, redeem_points=200)

    assert sale.balance == 250 - 200 + sale.points_earned
    assert book.balance(b.conn, accounts.member_drawn(member.id)) == -200
    assert book.verify(b.conn) == []
    b_client.drain(b.conn, b.vault)
    balance, overdraft, figures = _cloud_view(cloud_app, member.id)
    assert balance == sale.balance
    assert overdraft is None and figures["overdraft_points"] == 0
    assert figures["points_total"] == balance

    refund = b.flow.refund(sale.sale_id)
    assert book.balance(b.conn, accounts.member_drawn(member.id)) == 0
    assert refund.balance == 250
    assert book.verify(b.conn) == []


def test_a_member_cannot_redeem_more_than_the_chain_wide_balance(two_stores) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), (b, b_client) = two_stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a.flow.sale(member.id, 1_000_000)  # 100 points
    _sync(a, a_client)
    pull(b_client, b.conn, b.vault)
    with pytest.raises(InsufficientBalance, match="101 > balance 100"):
        b.flow.sale(member.id, 200_000, redeem_points=101)
    assert book.verify(b.conn) == []
    assert b.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] == 0


def test_the_same_points_redeemed_at_two_offline_stores_book_an_overdraft(
    two_stores, cloud_app
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN 300 points earned at A, known to B
    WHEN both stores, offline, redeem the same 300 points
    THEN both redemptions reach the cloud, the member owes 300, the overdraft is booked and
    shown in the totals, both terminals then show -300, and later earnings settle it."""
    (a, a_client), (b, b_client) = two_stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a.flow.sale(member.id, 3_000_000)
    _sync(a, a_client)
    pull(b_client, b.conn, b.vault)

    a_sale = a.flow.sale(member.id, 0, redeem_points=300)  # both offline
    b_sale = b.flow.sale(member.id, 0, redeem_points=300)
    assert a_sale.balance == b_sale.balance == 0
    _sync(a, a_client)
    _sync(b, b_client)

    balance, overdraft, figures = _cloud_view(cloud_app, member.id)
    assert balance == -300
    assert overdraft is not None and overdraft.points == 300 and overdraft.settled_at is None
    assert (figures["overdrawn_members"], figures["overdraft_points"]) == (1, 300)
    assert figures["points_redeemed"] == 600
    pull(a_client, a.conn, a.vault)
    assert a.flow.balance(member.id) == b.flow.balance(member.id) == -300
    with pytest.raises(InsufficientBalance):
        a.flow.sale(member.id, 0, redeem_points=1)

    a.flow.sale(member.id, 5_000_000)  # 500 points: 200 after the debt
    _sync(a, a_client)
    balance, overdraft, figures = _cloud_view(cloud_app, member.id)
    assert balance == 200
    assert overdraft is not None and overdraft.points == 0 and overdraft.settled_at is not None
    assert figures["overdraft_points"] == 0
    assert book.verify(a.conn) == book.verify(b.conn) == []

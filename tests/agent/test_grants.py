"""Grants: points and credit the cloud gives a member land once, at one terminal, and are spent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.errors import InputError, InsufficientBalance
from agent.ledger import accounts, book
from agent.offline_queue import outbox
from agent.offline_queue.pull import pull
from cloud.balances import chain_balances
from cloud.errors import BadRequest
from cloud.grants import create_grant
from cloud.reports import totals
from cloud.tables import grants, sales
from tests.support.cloud_terminal import open_terminal as _open_terminal


@pytest.fixture
def stores(cloud_app, tmp_path: Path) -> Iterator[tuple]:  # type: ignore[type-arg]
    """Yield two terminals of store A and one of store B, with a member enrolled at A."""
    a1 = _open_terminal(cloud_app, tmp_path / "a1", "شعبه ونک")
    b = _open_terminal(cloud_app, tmp_path / "b", "شعبه تجریش")
    yield a1, b
    for terminal, client in (a1, b):
        client.close()
        terminal.close()


def _give(cloud_app, member_id: str, kind: str, amount: int, note: str = "") -> str:  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        return create_grant(conn, member_id, kind, amount, "survey", "hq:maryam", note=note)


def _grant_row(cloud_app, grant_id: str):  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        return conn.execute(sa.select(grants).where(grants.c.id == grant_id)).one()


def test_a_points_grant_lands_once_at_the_home_store(stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a member of store A and 500 survey points granted by HQ
    WHEN store B and then store A pull, A pulls again, and A drains
    THEN only A books the grant, once, as a lot the member can spend; the cloud marks the grant
    applied and counts the points chain-wide."""
    (a, a_client), (b, b_client) = stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a_client.drain(a.conn, a.vault)
    grant_id = _give(cloud_app, member.id, "points", 500, note="ممنون از نظرتان")

    assert pull(b_client, b.conn, b.vault).grants == 0  # not B's member
    assert pull(a_client, a.conn, a.vault).grants == 1
    assert pull(a_client, a.conn, a.vault).grants == 0  # sent again, booked once
    assert a.flow.balance(member.id) == 500
    assert a.conn.execute("SELECT note FROM grants").fetchone()[0] == "ممنون از نظرتان"
    assert book.verify(a.conn) == []
    row = _grant_row(cloud_app, grant_id)
    assert row.terminal_id == a_client.identity.terminal_id and row.applied_at is None

    a_client.drain(a.conn, a.vault)
    assert outbox.depth(a.conn) == 0
    row = _grant_row(cloud_app, grant_id)
    assert row.applied_at is not None and row.event_id
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        assert chain_balances(conn, [member.id])[member.id] == 500
        assert totals(conn)["points_total"] == book.total_member_points(a.conn) == 500
    assert a.flow.sale(member.id, 400_000, redeem_points=300).balance == 500 - 300 + 40


def test_a_lost_pull_answer_is_resent_and_still_booked_once(stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), _ = stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a_client.drain(a.conn, a.vault)
    _give(cloud_app, member.id, "points", 70)
    answer = a_client.post_signed("/api/v1/sync/pull", {"members_cursor": 0, "rules_etag": ""})
    assert [g["amount"] for g in answer["grants"]] == [70]  # answer lost on the way
    assert pull(a_client, a.conn, a.vault).grants == 1
    assert pull(a_client, a.conn, a.vault).grants == 0
    assert a.flow.balance(member.id) == 70


def test_credit_is_granted_then_spent_on_a_sale_and_given_back_by_a_refund(
    stores, cloud_app
) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), _ = stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a_client.drain(a.conn, a.vault)
    _give(cloud_app, member.id, "credit", 200_000)
    pull(a_client, a.conn, a.vault)
    assert a.flow.credit(member.id) == 200_000

    with pytest.raises(InsufficientBalance, match="credit 250000 > balance 200000"):
        a.flow.sale(member.id, 1_000_000, redeem_credit_rial=250_000)
    with pytest.raises(InputError, match="exceeds the purchase"):
        a.flow.sale(member.id, 100_000, redeem_credit_rial=150_000)
    sale = a.flow.sale(member.id, 1_000_000, redeem_credit_rial=150_000)
    assert (sale.credit_redeemed_rial, sale.credit_rial) == (150_000, 50_000)
    assert book.balance(a.conn, accounts.CREDIT_REDEEMED) == 150_000
    a_client.drain(a.conn, a.vault)
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        stored = conn.execute(sa.select(sales.c.credit_redeemed_rial)).scalar_one()
    assert stored == 150_000

    a.flow.refund(sale.sale_id)
    assert a.flow.credit(member.id) == 200_000
    assert book.verify(a.conn) == []
    a_client.drain(a.conn, a.vault)
    assert outbox.depth(a.conn) == 0


def test_a_grant_applied_event_from_another_terminal_is_refused(stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    """A terminal cannot claim a grant the cloud handed to another one."""
    (a, a_client), (b, b_client) = stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a_client.drain(a.conn, a.vault)
    grant_id = _give(cloud_app, member.id, "points", 40)
    pull(a_client, a.conn, a.vault)
    pull(b_client, b.conn, b.vault)  # B now knows the member
    event = outbox.pending(a.conn, a.vault, 10)[0]
    forged = dict(event.to_dict(), seq=1, id="f" * 32)
    answer = b_client.post_signed("/api/v1/sync/events", {"events": [forged]})
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["field"] == "payload.grant_id"
    assert _grant_row(cloud_app, grant_id).applied_at is None


@pytest.mark.parametrize(
    ("kind", "amount", "field"),
    [
        ("gift", 10, "kind"),
        ("points", 0, "amount"),
        ("points", -5, "amount"),
        ("credit", 10**12, "amount"),
        ("points", True, "amount"),
    ],
)
def test_a_bad_grant_is_refused_naming_the_field(stores, cloud_app, kind, amount, field) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), _ = stores
    member = a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a_client.drain(a.conn, a.vault)
    with pytest.raises(BadRequest) as caught:
        _give(cloud_app, member.id, kind, amount)
    assert caught.value.field == field
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(grants)).scalar_one() == 0

"""Coupons: issued at HQ, pulled with the member, used once at the counter, counted at HQ."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.errors import InputError
from agent.offline_queue.pull import pull
from cloud.coupons import create_coupon
from cloud.errors import BadRequest
from cloud.tables import coupons, sales
from tests.support.cloud_terminal import open_terminal as _open_terminal


@pytest.fixture
def stores(cloud_app, tmp_path: Path) -> Iterator[tuple]:  # type: ignore[type-arg]
    """Yield (terminal, client) of stores A and B and a member of A known to both."""
    a = _open_terminal(cloud_app, tmp_path / "a", "شعبه ونک")
    b = _open_terminal(cloud_app, tmp_path / "b", "شعبه تجریش")
    member = a[0].flow.enrol("09121112233", "مریم کریمی", consent=True)
    a[0].flow.sale(member.id, 100_000)  # a recent buyer: B pulls her too
    a[1].drain(a[0].conn, a[0].vault)
    yield a, b, member
    for terminal, client in (a, b):
        client.close()
        terminal.close()


def _issue(cloud_app, member_id: str, value: int, **kw) -> str:  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        return create_coupon(conn, member_id, value, kw.pop("days", 30), "win-back", "hq", **kw)


def _coupon_row(cloud_app, code: str):  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        return conn.execute(sa.select(coupons).where(coupons.c.code == code)).one()


def test_a_coupon_travels_with_the_member_and_is_used_once(stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    """GIVEN HQ issues a 50,000 Rial coupon to a member
    WHEN both stores pull and the member uses it at B
    THEN B records the discount once, refuses a second use, and the cloud counts one use and
    stops sending the coupon with the member's snapshot."""
    (a, a_client), (b, b_client), member = stores
    code = _issue(cloud_app, member.id, 50_000, min_purchase_rial=200_000)
    pull(a_client, a.conn, a.vault)
    pull(b_client, b.conn, b.vault)
    assert [c.code for c in a.flow.coupons(member.id)] == [code]
    assert [(c.code, c.value_rial) for c in b.flow.coupons(member.id)] == [(code, 50_000)]

    with pytest.raises(InputError, match="below the coupon's minimum") as short:
        b.flow.sale(member.id, 150_000, coupon=code)
    assert short.value.fa == "مبلغ خرید برای این کد تخفیف کافی نیست"
    sale = b.flow.sale(member.id, 300_000, coupon=code.lower())
    assert sale.coupon_rial == 50_000
    assert b.flow.coupons(member.id) == []
    with pytest.raises(InputError, match="already used"):
        b.flow.sale(member.id, 300_000, coupon=code)
    b_client.drain(b.conn, b.vault)

    row = _coupon_row(cloud_app, code)
    assert (row.uses, row.sale_id) == (1, sale.sale_id)
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        stored = conn.execute(
            sa.select(sales.c.coupon_code, sales.c.coupon_rial).where(sales.c.id == sale.sale_id)
        ).one()
    assert tuple(stored) == (code, 50_000)
    pull(a_client, a.conn, a.vault)
    assert a.flow.coupons(member.id) == []  # A learns it was used


def test_two_offline_stores_honouring_one_coupon_are_both_recorded(stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), (b, b_client), member = stores
    code = _issue(cloud_app, member.id, 20_000)
    pull(a_client, a.conn, a.vault)
    pull(b_client, b.conn, b.vault)
    first = a.flow.sale(member.id, 100_000, coupon=code)  # both offline
    second = b.flow.sale(member.id, 100_000, coupon=code)
    a_client.drain(a.conn, a.vault)
    b_client.drain(b.conn, b.vault)
    row = _coupon_row(cloud_app, code)
    assert (row.uses, row.sale_id) == (2, first.sale_id)
    assert second.coupon_rial == 20_000


def test_a_coupon_of_another_member_or_expired_is_refused(stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), _, member = stores
    other = a.flow.enrol("09351234567", "علی رضایی", consent=False)
    a_client.drain(a.conn, a.vault)
    code = _issue(cloud_app, member.id, 10_000, days=1)
    pull(a_client, a.conn, a.vault)
    with pytest.raises(InputError, match="no coupon") as wrong:
        a.flow.sale(other.id, 100_000, coupon=code)
    assert wrong.value.fa == "این کد تخفیف برای این عضو نیست"
    a.flow.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert a.flow.coupons(member.id) == []
    with pytest.raises(InputError, match="expired"):
        a.flow.sale(member.id, 100_000, coupon=code)
    assert (
        a.conn.execute("SELECT COUNT(*) FROM sales WHERE coupon_code IS NOT NULL").fetchone()[0]
        == 0
    )


@pytest.mark.parametrize(
    ("value", "days", "field"),
    [(0, 30, "value_rial"), (10**10, 30, "value_rial"), (1000, 0, "valid_days")],
)
def test_a_bad_coupon_is_refused_at_hq(stores, cloud_app, value, days, field) -> None:  # type: ignore[no-untyped-def]
    _, _, member = stores
    with pytest.raises(BadRequest) as caught:
        _issue(cloud_app, member.id, value, days=days)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("coupon", "field"),
    [
        ({"code": "CP-NOSUCHCODE", "value_rial": 1}, "payload.coupon.code"),
        ("CP-NOSUCHCODE", "payload.coupon"),
        (None, None),
    ],
)
def test_the_cloud_refuses_a_sale_naming_a_coupon_it_never_issued(
    stores, cloud_app, coupon, field
) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), _, member = stores
    a.flow.sale(member.id, 100_000)
    from agent.offline_queue import outbox

    event = outbox.pending(a.conn, a.vault, 10)[0].to_dict()
    event["payload"]["coupon"] = coupon
    answer = a_client.post_signed("/api/v1/sync/events", {"events": [event]})
    result = answer["results"][0]
    assert result["status"] == ("applied" if field is None else "rejected")
    assert result.get("field") == field

"""What one analytics pass keeps for the next: members' category spend (``keptspend.py``)
and the closed months' points (``grid.points_by_month``), each checked against reading
everything again, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Flask

from cloud.analytics import grid
from cloud.analytics.demo import fill
from cloud.analytics.keptspend import KEPT, include, kept_spend
from cloud.analytics.lines import copied_through
from cloud.analytics.months import month_key, month_start
from cloud.analytics.preferences import Spend, spend_columns
from cloud.tables import (
    events,
    ledger_entries,
    ledger_postings,
    member_category_spend,
    points_closed_months,
    sale_lines,
    sales,
    settings,
    spend_refunds,
)

AS_OF = dt.datetime(2026, 11, 30, 20, tzinfo=dt.UTC)
Pairs = dict[tuple[str, str], tuple[int, int]]


def _pairs(spend: Spend) -> Pairs:
    rows = zip(
        spend.member.tolist(),
        spend.category.tolist(),
        spend.purchases.tolist(),
        spend.rial.tolist(),
        strict=True,
    )
    return {(spend.members[m], spend.categories[c]): (n, r) for m, c, n, r in rows}


def _both(engine: sa.Engine, as_of: dt.datetime) -> tuple[Pairs, Pairs]:
    """Return the kept spend (brought up to date, committed) and every line grouped again."""
    with engine.begin() as conn:
        kept = _pairs(kept_spend(conn, as_of))
    with engine.connect() as conn:
        return kept, _pairs(spend_columns(conn, as_of))


def _kept_setting(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        value = conn.execute(sa.select(settings.c.value).where(settings.c.key == KEPT))
        return str(value.scalar_one())


def _sale_with_lines(
    conn: sa.Connection, sale_id: str, member_id: str, at: dt.datetime, lines: list[tuple[str, int]]
) -> None:
    """Store a website order's sale and its lines, received at ``at``."""
    store = conn.execute(sa.select(sales.c.store_id).limit(1)).scalar_one()
    conn.execute(
        sa.insert(sales),
        [
            {
                "id": sale_id,
                "member_id": member_id,
                "store_id": store,
                "receipt_no": 0,
                "amount_rial": sum(r for _, r in lines),
                "points_earned": 0,
                "points_redeemed": 0,
                "channel": "website",
                "terminal_time": at.isoformat(),
                "received_at": at,
            }
        ],
    )
    conn.execute(
        sa.insert(sale_lines),
        [
            {
                "sale_id": sale_id,
                "line_no": n,
                "member_id": member_id,
                "category": category,
                "sku": "",
                "quantity": 1,
                "amount_rial": rial,
                "received_at": at,
            }
            for n, (category, rial) in enumerate(lines)
        ],
    )


def test_kept_spend_follows_new_lines_refunds_and_late_orders(cloud_app_any: Flask) -> None:
    """GIVEN a demo chain WHEN passes keep the spend while sales are refunded, lines come
    after the boundary, within the last hour and behind it THEN each pass's spend is
    what grouping every line again gives."""
    context = cloud_app_any.extensions["vafa"]
    engine = context.engine
    fill(engine, context.vault, 60, seed=5, as_of=AS_OF, lines_copied=True)
    kept, fresh = _both(engine, AS_OF)
    assert kept == fresh and len(fresh) > 100
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(member_category_spend))
        assert 0 < rows.scalar_one() <= len(fresh)
        copied = copied_through(conn)
        old_sales = list(
            conn.execute(
                sa.select(sales.c.id, sales.c.member_id)
                .where(sales.c.refunded_at.is_(None))
                .order_by(sales.c.received_at)
                .limit(3)
            )
        )
    assert copied is not None
    # The boundary is an hour before the newest copied event (those may be copied again).
    assert _kept_setting(engine).startswith((copied - dt.timedelta(hours=1)).isoformat())

    with engine.begin() as conn:  # old sales refunded: taken off once
        conn.execute(
            sa.update(sales)
            .where(sales.c.id.in_([s for s, _ in old_sales]))
            .values(refunded_at=AS_OF)
        )
    later = AS_OF + dt.timedelta(days=1)
    kept, fresh = _both(engine, later)
    assert kept == fresh
    kept, fresh = _both(engine, later)  # a second pass takes nothing off again
    assert kept == fresh
    with engine.connect() as conn:
        left_out = set(conn.execute(sa.select(spend_refunds.c.sale_id)).scalars())
    assert {s for s, _ in old_sales} <= left_out

    member = old_sales[0][1]
    with engine.begin() as conn:  # lines after the boundary: grouped on each pass, not kept
        _sale_with_lines(conn, "w-new", member, AS_OF + dt.timedelta(hours=2), [("نان", 7_000)])
        _sale_with_lines(conn, "w-tail", member, later, [("تازه", 9_000), ("نان", 1_000)])
    kept, fresh = _both(engine, later)
    assert kept == fresh
    assert fresh[(member, "تازه")] == (1, 9_000)

    before = _kept_setting(engine)
    with engine.begin() as conn:  # an order dated behind the boundary, added as imported
        _sale_with_lines(conn, "w-late", member, AS_OF - dt.timedelta(days=90), [("نان", 5_000)])
        include(conn, ["w-late"])
    assert _kept_setting(engine) != before  # one more line counted up to the boundary
    kept, fresh = _both(engine, later)
    assert kept == fresh

    with engine.begin() as conn:  # a line written behind it by hand: the count tells
        _sale_with_lines(conn, "w-hand", member, AS_OF - dt.timedelta(days=80), [("نان", 3_000)])
    kept, fresh = _both(engine, later)
    assert kept == fresh


def test_the_kept_sums_are_read_not_grouped_again(cloud_app_any: Flask) -> None:
    """GIVEN kept spend WHEN a kept row is altered behind the pass's back THEN the next pass
    shows it (the lines were not grouped again), and a pass dated before the boundary
    groups the lines itself and keeps nothing."""
    context = cloud_app_any.extensions["vafa"]
    engine = context.engine
    fill(engine, context.vault, 30, seed=6, as_of=AS_OF, lines_copied=True)
    kept, _ = _both(engine, AS_OF)
    (member, category), (purchases, rial) = next(iter(sorted(kept.items())))
    with engine.begin() as conn:
        conn.execute(
            sa.update(member_category_spend)
            .where(
                member_category_spend.c.member_id == member,
                member_category_spend.c.category == category,
            )
            .values(amount_rial=rial + 1)
        )
    kept, fresh = _both(engine, AS_OF + dt.timedelta(days=1))
    assert kept[(member, category)] == (purchases, rial + 1)
    assert fresh[(member, category)] == (purchases, rial)
    setting = _kept_setting(engine)
    earlier = AS_OF - dt.timedelta(days=200)
    kept, fresh = _both(engine, earlier)
    assert kept == fresh and len(fresh) < len(_both(engine, AS_OF)[1])
    assert _kept_setting(engine) == setting


def _fresh_points(conn: sa.Connection, as_of: dt.datetime) -> dict[tuple[str, str], int]:
    first = grid._first_moment(conn, as_of)
    assert first is not None
    return grid._points(conn, as_of, first)


def _book(conn: sa.Connection, n: int, terminal: str, member: str, at: dt.datetime) -> None:
    """Store an event received at ``at`` booking 40 points to ``member``."""
    conn.execute(
        sa.insert(events),
        [
            {
                "id": f"x-e{n}",
                "terminal_id": terminal,
                "seq": 10_000_000 + n,
                "kind": "points.granted",
                "digest": "d",
                "received_at": at,
            }
        ],
    )
    conn.execute(sa.insert(ledger_entries), [{"id": f"x-l{n}", "event_id": f"x-e{n}", "kind": "k"}])
    conn.execute(
        sa.insert(ledger_postings),
        [
            {"entry_id": f"x-l{n}", "account": f"member:{member}:points", "amount": 40},
            {"entry_id": f"x-l{n}", "account": "system:points_issued", "amount": -40},
        ],
    )


def test_closed_months_points_are_kept_and_read_again_when_they_change(
    cloud_app_any: Flask,
) -> None:
    """GIVEN a demo chain WHEN a pass keeps the closed months' points THEN later passes
    read only the open month (a kept figure altered shows), an event landing in a closed
    month makes them read every month again, and a new month moves the boundary."""
    context = cloud_app_any.extensions["vafa"]
    engine = context.engine
    fill(engine, context.vault, 40, seed=7, as_of=AS_OF)
    open_month = month_key(AS_OF)
    with engine.begin() as conn:
        points = grid.points_by_month(conn, AS_OF, keep=True)
        assert points == _fresh_points(conn, AS_OF) and points
        kept = {
            (r.store_id, r.month): r.net_points
            for r in conn.execute(sa.select(points_closed_months))
        }
        terminal, store = conn.execute(
            sa.select(sales.c.terminal_id, sales.c.store_id).where(sales.c.terminal_id.is_not(None))
        ).first()  # type: ignore[misc]
        member = conn.execute(sa.select(sales.c.member_id)).scalars().first()
    assert kept == {k: v for k, v in points.items() if k[1] < open_month}
    assert any(k[1] == open_month for k in points)  # the open month is read, not kept

    closed = max(k for k in kept if k[0] == store)
    with engine.begin() as conn:  # altered: the pass shows it, so it did not read it again
        conn.execute(
            sa.update(points_closed_months)
            .where(
                points_closed_months.c.store_id == closed[0],
                points_closed_months.c.month == closed[1],
            )
            .values(net_points=kept[closed] + 7)
        )
        assert grid.points_by_month(conn, AS_OF)[closed] == kept[closed] + 7
        conn.execute(  # put back
            sa.update(points_closed_months)
            .where(
                points_closed_months.c.month == closed[1], points_closed_months.c.store_id == store
            )
            .values(net_points=kept[closed])
        )

    with engine.begin() as conn:  # booked in the open month: added to the kept months
        _book(conn, 1, terminal, member, AS_OF - dt.timedelta(hours=1))
        assert grid.points_by_month(conn, AS_OF, keep=True) == _fresh_points(conn, AS_OF)
    in_closed = month_start(closed[1]) + dt.timedelta(days=3)
    with engine.begin() as conn:  # received in a closed month (as demo data or a test)
        _book(conn, 2, terminal, member, in_closed)
        points = grid.points_by_month(conn, AS_OF, keep=True)
        assert points == _fresh_points(conn, AS_OF)
        assert points[closed] == kept[closed] + 40

    earlier = month_start(closed[1]) + dt.timedelta(days=10)
    next_month = month_start(grid.next_month(open_month)) + dt.timedelta(days=2)
    with engine.begin() as conn:
        assert grid.points_by_month(conn, earlier) == _fresh_points(conn, earlier)
        assert grid.points_by_month(conn, next_month, keep=True) == _fresh_points(conn, next_month)
        months = set(conn.execute(sa.select(points_closed_months.c.month)).scalars())
    assert open_month in months  # closed now, so kept

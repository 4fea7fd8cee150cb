"""The store owner's figures from the terminal's own ledger: per Jalali day, the week, a
page of sales, the end-of-day report.

Times are stored as ISO text in Tehran time (``CashierFlow`` stamps them with
``now_tehran``; Iran keeps +03:30 all year), so a Tehran day is a text range and every
query is an index range scan on ``created_at``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

import jdatetime

from agent.errors import InputError
from common.persian import TEHRAN, jalali_datetime, now_tehran, to_ascii_digits

PER_PAGE = 25


@dataclass(frozen=True)
class DayTotals:
    """One Tehran day at this terminal."""

    day: dt.date
    sales: int
    revenue_rial: int  # every sale made that day, refunded or not
    refunds: int  # sales refunded that day (whenever they were made)
    refunded_rial: int
    points_issued: int
    points_redeemed: int
    credit_redeemed_rial: int
    coupon_rial: int
    members_joined: int

    @property
    def net_rial(self) -> int:
        """Return the day's sales less the refunds made that day."""
        return self.revenue_rial - self.refunded_rial


def today() -> dt.date:
    """Return today's date in Tehran."""
    return now_tehran().date()


def bounds(day: dt.date) -> tuple[str, str]:
    """Return the ISO texts of the day's Tehran midnight and the next one."""
    start = dt.datetime.combine(day, dt.time(), TEHRAN)
    return start.isoformat(), (start + dt.timedelta(days=1)).isoformat()


def day_totals(conn: sqlite3.Connection, day: dt.date) -> DayTotals:
    """Add up one Tehran day's sales, refunds, points and new members."""
    start, end = bounds(day)
    sales, revenue, issued, redeemed, credit, coupons = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(amount_rial), 0), COALESCE(SUM(points_earned), 0),"
        " COALESCE(SUM(points_redeemed), 0), COALESCE(SUM(credit_redeemed_rial), 0),"
        " COALESCE(SUM(coupon_rial), 0) FROM sales WHERE created_at >= ? AND created_at < ?",
        (start, end),
    ).fetchone()
    refunds, refunded = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(amount_rial), 0) FROM sales"
        " WHERE refunded_at >= ? AND refunded_at < ?",
        (start, end),
    ).fetchone()
    # Enrolments made here, from the outbox (never pruned): members.created_at is also the
    # time a member enrolled elsewhere was first pulled from the cloud.
    (joined,) = conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'member.enrolled'"
        " AND created_at >= ? AND created_at < ?",
        (start, end),
    ).fetchone()
    return DayTotals(
        day, sales, revenue, refunds, refunded, issued, redeemed, credit, coupons, joined
    )


def week(conn: sqlite3.Connection, last: dt.date | None = None) -> list[DayTotals]:
    """Return the seven days ending with ``last`` (default today), newest first."""
    last = last or today()
    return [day_totals(conn, last - dt.timedelta(days=n)) for n in range(7)]


def sales_page(
    conn: sqlite3.Connection, day: dt.date | None, page: int, per_page: int = PER_PAGE
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of sales (newest first), of one day or of all, and how many in all."""
    where, args = "", tuple[str, ...]()
    if day is not None:
        where, args = "WHERE created_at >= ? AND created_at < ?", bounds(day)
    (total,) = conn.execute(f"SELECT COUNT(*) FROM sales {where}", args).fetchone()
    rows = conn.execute(
        "SELECT s.id, s.receipt_no, s.amount_rial, s.points_earned, s.points_redeemed,"
        " s.credit_redeemed_rial, s.coupon_rial, s.channel, s.created_at, s.refunded_at,"
        " m.card_code, r.job_id FROM sales s JOIN members m ON m.id = s.member_id"
        f" LEFT JOIN receipts r ON r.sale_id = s.id {where.replace('created_at', 's.created_at')}"
        " ORDER BY s.receipt_no DESC LIMIT ? OFFSET ?",
        (*args, per_page, max(0, page - 1) * per_page),
    ).fetchall()
    return [_sale(row) for row in rows], int(total)


def day_sales(conn: sqlite3.Connection, day: dt.date) -> list[dict[str, Any]]:
    """Return every sale of one Tehran day, oldest first (the end-of-day report lists them)."""
    rows, _ = sales_page(conn, day, 1, per_page=1_000_000)
    return rows[::-1]


def _sale(row: sqlite3.Row) -> dict[str, Any]:
    sale = dict(row)
    sale["when"] = jalali_datetime(dt.datetime.fromisoformat(row["created_at"]))
    refunded = row["refunded_at"]
    sale["refunded_when"] = jalali_datetime(dt.datetime.fromisoformat(refunded)) if refunded else ""
    return sale


def parse_day(raw: str) -> dt.date:
    """Turn a typed Jalali date (۱۴۰۵/۰۹/۱۰, 1405-9-10) into a Gregorian date, or raise."""
    parts = to_ascii_digits(raw.strip()).replace("-", "/").split("/")
    try:
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"not a Jalali date: {raw[:20]!r}")
        year, month, day = (int(p) for p in parts)
        gregorian: dt.date = jdatetime.date(year, month, day).togregorian()
        return gregorian
    except ValueError as exc:
        raise InputError(str(exc), fa="تاریخ را به شکل ۱۴۰۵/۰۹/۱۰ وارد کنید") from exc

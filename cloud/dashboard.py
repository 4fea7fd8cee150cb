"""The HQ dashboard's figures: every table a page shows or exports, read within a scope.

Pages read the aggregates each ``vafa-cloud analytics run`` stores
(``cloud/analytics/aggregates.py``), so a page costs a few small reads however many members
the chain has, on its first request as on any other. Every aggregate is stored per store
and chain-wide (``*``): the admin's page reads the chain's rows, a store owner's the rows of
the stores in their scope, added up (``_store_rows``: the scope is in the SQL). Members'
figures add up exactly (each member has one home store); cohorts are per store, so an owner
of two stores sees a member who bought at both in each store's cohort; top members are the
best of the scope's stores' stored lists.

Each function returns a ``Table``: Persian column titles and plain values, which the page
renders, the charts read and the CSV/Excel export writes, so all three always agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.access import Scope
from cloud.analytics.aggregates import TOP_MEMBERS
from cloud.analytics.demographics import AGE_GROUPS
from cloud.analytics.grid import CHAIN
from cloud.analytics.rfm import load_segments
from cloud.tables import (
    analytics_categories,
    analytics_clv_buckets,
    analytics_cohorts,
    analytics_demographics,
    analytics_feedback,
    analytics_incentives,
    analytics_kpis,
    analytics_runs,
    analytics_segments,
    analytics_suggestions,
    analytics_top_members,
    analytics_transitions,
    member_analytics,
    members,
    stores,
)
from common.persian import to_persian_digits

MONTHS_FA = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
GENDERS_FA = {"f": "زن", "m": "مرد", "": "نامشخص"}
# The analytics run's age groups (cloud/analytics/demographics.py), named for people.
AGE_FA = {
    "under_18": "زیر ۱۸",
    "18_24": "۱۸ تا ۲۴",
    "25_34": "۲۵ تا ۳۴",
    "35_44": "۳۵ تا ۴۴",
    "45_54": "۴۵ تا ۵۴",
    "55_64": "۵۵ تا ۶۴",
    "65_plus": "۶۵ و بالاتر",
}


@dataclass(frozen=True)
class Column:
    """One column: its key in the rows, its Persian title and how to show its values."""

    key: str
    fa: str
    kind: str = "int"  # int | rial | pct | text | month | score


@dataclass(frozen=True)
class Table:
    """A titled table of plain values: shown on a page, charted and exported alike."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]

    def column(self, key: str) -> list[Any]:
        """Return one column's values, top to bottom."""
        return [row[key] for row in self.rows]


def month_fa(key: str) -> str:
    """Name a Jalali month ``YYYY-MM`` in Persian, e.g. «آذر ۱۴۰۵»."""
    if not key or "-" not in key:
        return "—"
    year, month = key.split("-")
    return f"{MONTHS_FA[int(month) - 1]} {to_persian_digits(year)}"


def latest_run(conn: sa.Connection) -> dt.date | None:
    """Return the day of the latest analytics run, or None before the first."""
    day: dt.date | None = conn.execute(
        sa.select(sa.func.max(analytics_runs.c.computed_on))
    ).scalar()
    return day


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _latest(table: sa.Table, scope: Scope) -> sa.ColumnElement[bool]:
    """Keep the latest run's rows of a per-run table, for the stores in scope."""
    return sa.and_(
        table.c.computed_on
        == sa.select(sa.func.max(analytics_runs.c.computed_on)).scalar_subquery(),
        _store_rows(table.c.store_id, scope),
    )


# --- overview -------------------------------------------------------------------------

KPI_COLUMNS = (
    Column("month", "ماه", "month"),
    Column("sales", "خریدها"),
    Column("revenue_rial", "مبلغ خرید", "rial"),
    Column("average_purchase_rial", "میانگین خرید", "rial"),
    Column("buyers", "خریداران"),
    Column("return_rate", "نرخ بازگشت", "pct"),
    Column("new_members", "عضو تازه"),
    Column("active_90d", "فعال ۹۰ روزه"),
    Column("points_earned", "امتیاز داده‌شده"),
    Column("points_redeemed", "امتیاز خرج‌شده"),
)
SUMMED: tuple[str, ...] = ("sales", "revenue_rial", "buyers", "returning_buyers", "new_members")
SUMMED += ("active_90d", "points_earned", "points_redeemed")


def kpi_months(conn: sa.Connection, scope: Scope) -> Table:
    """KPIs per Jalali month: the chain's row, or the owner's stores summed."""
    k = analytics_kpis.c
    where = _store_rows(k.store_id, scope)
    query = (
        sa.select(k.month, *(sa.func.sum(getattr(k, c)).label(c) for c in SUMMED))
        .where(where)
        .group_by(k.month)
        .order_by(k.month)
    )
    rows = []
    for row in conn.execute(query).mappings():
        values: dict[str, Any] = {c: int(row[c] or 0) for c in SUMMED}
        values["month"] = row["month"]
        values["average_purchase_rial"] = (
            values["revenue_rial"] // values["sales"] if values["sales"] else 0
        )
        values["return_rate"] = _share(values["returning_buyers"], values["buyers"])
        rows.append(values)
    return Table("kpi_months", "شاخص‌ها به تفکیک ماه", KPI_COLUMNS, rows)


def store_comparison(conn: sa.Connection, scope: Scope) -> Table:
    """Each store in scope: its latest month and its totals over every month."""
    k = analytics_kpis.c
    last = sa.select(sa.func.max(k.month)).where(k.store_id != "*").scalar_subquery()
    query = (
        sa.select(
            stores.c.id,
            stores.c.name,
            sa.func.coalesce(sa.func.sum(k.sales), 0).label("sales"),
            sa.func.coalesce(sa.func.sum(k.revenue_rial), 0).label("revenue_rial"),
            sa.func.coalesce(
                sa.func.sum(sa.case((k.month == last, k.revenue_rial), else_=0)), 0
            ).label("month_revenue_rial"),
            sa.func.coalesce(sa.func.sum(sa.case((k.month == last, k.buyers), else_=0)), 0).label(
                "month_buyers"
            ),
            sa.func.coalesce(sa.func.max(sa.case((k.month == last, k.members), else_=0)), 0).label(
                "members"
            ),
            sa.func.coalesce(
                sa.func.max(sa.case((k.month == last, k.return_rate), else_=0.0)), 0.0
            ).label("return_rate"),
        )
        .select_from(stores.outerjoin(analytics_kpis, k.store_id == stores.c.id))
        .where(scope.stores(stores.c.id))
        .group_by(stores.c.id, stores.c.name)
        .order_by(sa.desc("revenue_rial"), stores.c.name)
    )
    rows = [
        {
            "store": r.name,
            "members": int(r.members),
            "sales": int(r.sales),
            "revenue_rial": int(r.revenue_rial),
            "month_revenue_rial": int(r.month_revenue_rial),
            "month_buyers": int(r.month_buyers),
            "return_rate": round(float(r.return_rate), 4),
        }
        for r in conn.execute(query)
    ]
    columns = (
        Column("store", "فروشگاه", "text"),
        Column("members", "اعضا"),
        Column("sales", "خریدها"),
        Column("revenue_rial", "مبلغ خرید", "rial"),
        Column("month_revenue_rial", "مبلغ خرید ماه آخر", "rial"),
        Column("month_buyers", "خریداران ماه آخر"),
        Column("return_rate", "نرخ بازگشت ماه آخر", "pct"),
    )
    return Table("stores", "مقایسه فروشگاه‌ها", columns, rows)


# --- segments -------------------------------------------------------------------------


def _segment_fa() -> dict[str, str]:
    return {s.key: s.fa for s in load_segments()}


def segment_counts(conn: sa.Connection, scope: Scope) -> Table:
    """Members and value per RFM segment, in the order of ``segments.toml``."""
    a = analytics_segments.c
    query = (
        sa.select(a.segment, sa.func.sum(a.members), sa.func.sum(a.value_rial))
        .where(_latest(analytics_segments, scope))
        .group_by(a.segment)
    )
    found = {segment: (int(n), int(value or 0)) for segment, n, value in conn.execute(query)}
    total = sum(n for n, _ in found.values())
    rows = [
        {
            "segment": key,
            "segment_fa": label,
            "members": found.get(key, (0, 0))[0],
            "share": _share(found.get(key, (0, 0))[0], total),
            "value_rial": found.get(key, (0, 0))[1],
        }
        for key, label in _segment_fa().items()
    ]
    columns = (
        Column("segment_fa", "بخش", "text"),
        Column("members", "اعضا"),
        Column("share", "سهم", "pct"),
        Column("value_rial", "ارزش خریدها", "rial"),
    )
    return Table("segments", "بخش‌های RFM", columns, rows)


def segment_moves(conn: sa.Connection, scope: Scope) -> Table:
    """Members moving from one segment to another since the run before the latest."""
    labels = _segment_fa()
    t = analytics_transitions.c
    # A member's first segment is no move.
    query = (
        sa.select(t.from_segment, t.to_segment, sa.func.sum(t.members).label("members"))
        .where(
            _latest(analytics_transitions, scope),
            t.from_segment != t.to_segment,
            t.from_segment != "",
        )
        .group_by(t.from_segment, t.to_segment)
    )
    rows = [
        {
            "from_fa": labels.get(r.from_segment, r.from_segment),
            "to_fa": labels.get(r.to_segment, r.to_segment),
            "members": int(r.members),
        }
        for r in conn.execute(query)
        if r.from_segment != r.to_segment
    ]
    rows.sort(key=lambda row: -row["members"])
    columns = (
        Column("from_fa", "از بخش", "text"),
        Column("to_fa", "به بخش", "text"),
        Column("members", "اعضا"),
    )
    return Table("segment_moves", "جابه‌جایی میان بخش‌ها", columns, rows)


# --- cohorts --------------------------------------------------------------------------


def cohort_table(conn: sa.Connection, scope: Scope) -> Table:
    """Cohort retention: each first-purchase month and its share buying N months later."""
    c = analytics_cohorts.c
    query = (
        sa.select(
            c.cohort, c.months_since, sa.func.sum(c.cohort_members), sa.func.sum(c.active_members)
        )
        .where(_store_rows(c.store_id, scope))
        .group_by(c.cohort, c.months_since)
    )
    found = [
        (cohort, int(since), int(size), int(n)) for cohort, since, size, n in conn.execute(query)
    ]
    sizes: dict[str, int] = {}
    active: dict[str, dict[int, int]] = {}
    for cohort, since, size, count in found:
        if since == 0:  # the stores with the cohort all have its month 0: its whole size
            sizes[cohort] = size
        active.setdefault(cohort, {})[since] = count
    width = max((max(v) for v in active.values()), default=-1) + 1
    rows = []
    for cohort in sorted(active):
        row: dict[str, Any] = {"cohort": cohort, "members": sizes[cohort]}
        for k in range(width):
            seen = active[cohort].get(k)
            row[f"m{k}"] = _share(seen, sizes[cohort]) if seen is not None else None
        rows.append(row)
    columns: tuple[Column, ...] = (
        Column("cohort", "ماه نخستین خرید", "month"),
        Column("members", "اعضا"),
    )
    columns += tuple(
        Column(f"m{k}", f"ماه {to_persian_digits(str(k))}", "heat") for k in range(width)
    )
    return Table("cohorts", "ماندگاری گروه‌ها (کوهورت)", columns, rows)


# --- CLV ------------------------------------------------------------------------------


def clv_histogram(conn: sa.Connection, scope: Scope) -> Table:
    """Members per CLV bucket (the run's fixed Rial edges)."""
    b = analytics_clv_buckets.c
    query = (
        sa.select(b.bucket, b.low_rial, b.high_rial, sa.func.sum(b.members).label("members"))
        .where(_latest(analytics_clv_buckets, scope))
        .group_by(b.bucket, b.low_rial, b.high_rial)
        .order_by(b.bucket)
    )
    rows = [
        {
            "low_rial": int(r.low_rial),
            "high_rial": int(r.high_rial) if r.high_rial is not None else None,
            "members": int(r.members),
        }
        for r in conn.execute(query)
    ]
    # Only the span of buckets someone is in: twenty buckets of zeros hide the shape.
    filled = [i for i, row in enumerate(rows) if row["members"]]
    rows = rows[filled[0] : filled[-1] + 1] if filled else []
    columns = (
        Column("low_rial", "از", "rial"),
        Column("high_rial", "تا", "rial"),
        Column("members", "اعضا"),
    )
    return Table("clv_buckets", "پراکندگی ارزش طول عمر (CLV)", columns, rows)


def top_members(conn: sa.Connection, scope: Scope, unmask: Callable[[str, bytes], str]) -> Table:
    """The members in scope with the highest CLV (else value), mobile masked: the best of
    the stored lists of the stores in scope (the chain's own for the whole chain)."""
    from common.mobile import mask_mobile

    m = member_analytics.c
    order = sa.func.coalesce(m.clv_rial, m.value_rial).desc()
    top = analytics_top_members.c
    query = (
        sa.select(
            members.c.id,
            members.c.mobile_enc,
            stores.c.name.label("store"),
            m.segment,
            m.purchases,
            m.value_rial,
            m.clv_rial,
            m.p_alive,
        )
        # From the stored lists (a member is on their home store's and the chain's only).
        .select_from(
            analytics_top_members.join(member_analytics, m.member_id == top.member_id)
            .join(members, members.c.id == m.member_id)
            .join(stores, stores.c.id == members.c.home_store_id)
        )
        .where(_store_rows(top.store_id, scope), scope.members())
        .order_by(order, members.c.id)
        .limit(TOP_MEMBERS)
    )
    labels = _segment_fa()
    rows = [
        {
            "member_id": r.id,
            "mobile": mask_mobile(unmask(r.id, r.mobile_enc)),
            "store": r.store,
            "segment_fa": labels.get(r.segment, r.segment),
            "purchases": int(r.purchases),
            "value_rial": int(r.value_rial),
            "clv_rial": int(r.clv_rial) if r.clv_rial is not None else None,
            "p_alive": round(float(r.p_alive), 4) if r.p_alive is not None else None,
        }
        for r in conn.execute(query)
    ]
    columns = (
        Column("mobile", "موبایل", "member"),
        Column("store", "فروشگاه", "text"),
        Column("segment_fa", "بخش", "text"),
        Column("purchases", "خریدها"),
        Column("value_rial", "ارزش خریدها", "rial"),
        Column("clv_rial", "ارزش طول عمر", "rial"),
        Column("p_alive", "احتمال فعال‌بودن", "pct"),
    )
    return Table("top_members", "اعضای برتر", columns, rows)


# --- feedback -------------------------------------------------------------------------


FEEDBACK_SUMMED: tuple[str, ...] = ("responses", "promoters", "passives", "detractors", "comments")
FEEDBACK_SUMMED += ("positive", "neutral", "negative")


def nps_months(conn: sa.Connection, scope: Scope) -> Table:
    """NPS, score classes and comments' sentiment per Jalali month at the stores in scope."""
    f = analytics_feedback.c
    query = (
        sa.select(f.month, *(sa.func.sum(getattr(f, c)).label(c) for c in FEEDBACK_SUMMED))
        .where(_store_rows(f.store_id, scope))
        .group_by(f.month)
        .order_by(f.month)
    )
    rows: list[dict[str, Any]] = []
    for r in conn.execute(query).mappings():
        n = {c: int(r[c] or 0) for c in FEEDBACK_SUMMED}
        if not n["responses"]:
            continue
        answers, comments = n["responses"], n["comments"]
        rows.append(
            {
                "month": r["month"],
                "answers": answers,
                "nps": round(100 * (n["promoters"] - n["detractors"]) / answers),
                "promoters": _share(n["promoters"], answers),
                "passives": _share(n["passives"], answers),
                "detractors": _share(n["detractors"], answers),
                "comments": comments,
                "positive": _share(n["positive"], comments),
                "neutral": _share(n["neutral"], comments),
                "negative": _share(n["negative"], comments),
            }
        )
    columns = (
        Column("month", "ماه", "month"),
        Column("answers", "پاسخ‌ها"),
        Column("nps", "NPS", "score"),
        Column("promoters", "مشوق (۹–۱۰)", "pct"),
        Column("passives", "خنثی (۷–۸)", "pct"),
        Column("detractors", "منتقد (۰–۶)", "pct"),
        Column("comments", "نظرها"),
        Column("positive", "نظر مثبت", "pct"),
        Column("neutral", "نظر خنثی", "pct"),
        Column("negative", "نظر منفی", "pct"),
    )
    return Table("nps", "رضایت مشتریان (NPS) و حال‌وهوای نظرها به تفکیک ماه", columns, rows)


def _store_rows(column: sa.ColumnElement[Any], scope: Scope) -> sa.ColumnElement[bool]:
    """Keep the chain's row ("*") for the whole chain, else the rows of the stores in scope."""
    if scope.whole_chain:
        return column == CHAIN
    return sa.and_(column != CHAIN, scope.stores(column))


# --- demographics ---------------------------------------------------------------------


def demographics(conn: sa.Connection, scope: Scope, dimension: str) -> Table:
    """Members and buying members by age group, gender or province."""
    d = analytics_demographics.c
    query = (
        sa.select(d.value, sa.func.sum(d.members), sa.func.sum(d.buying_members))
        .where(_latest(analytics_demographics, scope), d.dimension == dimension)
        .group_by(d.value)
    )
    found = [(value, int(n), int(b)) for value, n, b in conn.execute(query)]
    rows = [
        {"value": _value_fa(dimension, v), "members": n, "buying_members": b}
        for v, n, b in sorted(found, key=lambda t: _order(dimension, t))
    ]
    titles = {
        "age": ("گروه سنی", "سن"),
        "gender": ("جنسیت", "جنسیت"),
        "province": ("استان", "استان"),
    }
    column_fa, title = titles[dimension]
    columns = (
        Column("value", column_fa, "text"),
        Column("members", "اعضا"),
        Column("buying_members", "اعضای خریدار"),
    )
    return Table(f"demographics_{dimension}", f"اعضا به تفکیک {title}", columns, rows)


def _value_fa(dimension: str, value: str) -> str:
    if dimension == "gender":
        return GENDERS_FA.get(value, value)
    if dimension == "age":
        return AGE_FA.get(value, "نامشخص")
    return to_persian_digits(value) if value else "نامشخص"


def _order(dimension: str, item: tuple[str, int, int]) -> tuple[Any, ...]:
    if dimension == "age":
        keys = [key for key, _ in AGE_GROUPS]
        return (keys.index(item[0]) if item[0] in keys else len(keys), item[0])
    return (item[0] == "", -item[1], item[0])


# --- overview cards and fleet ---------------------------------------------------------


def overview_cards(conn: sa.Connection, scope: Scope) -> dict[str, Any]:
    """Return the overview's headline figures for the scope, from the latest KPI rows."""
    k = analytics_kpis.c
    where = _store_rows(k.store_id, scope)
    last = sa.select(sa.func.max(k.month)).where(where).scalar_subquery()
    latest = sa.case((k.month == last, 1), else_=0)
    row = conn.execute(
        sa.select(
            *(
                sa.func.coalesce(sa.func.sum(getattr(k, c)), 0).label(c)
                for c in ("sales", "revenue_rial", "points_earned", "points_redeemed")
            ),
            *(
                sa.func.coalesce(sa.func.sum(getattr(k, c) * latest), 0).label(c)
                for c in ("members", "activated_members", "active_90d", "points_liability")
            ),
        ).where(where)
    ).one()
    figures: dict[str, Any] = {key: int(value) for key, value in row._mapping.items()}
    figures["stores"] = conn.execute(
        sa.select(sa.func.count()).select_from(stores).where(scope.stores(stores.c.id))
    ).scalar_one()
    figures["activation_rate"] = _share(figures["activated_members"], figures["members"])
    return figures


def scoped_fleet(conn: sa.Connection, scope: Scope) -> list[dict[str, Any]]:
    """Return the terminals of the stores in scope with their sync watermark."""
    from cloud.tables import terminals

    rows = conn.execute(
        sa.select(terminals, stores.c.name.label("store_name"))
        .join(stores, stores.c.id == terminals.c.store_id)
        .where(scope.stores(terminals.c.store_id))
        .order_by(stores.c.name, terminals.c.created_at)
    ).mappings()
    return [dict(row) for row in rows]


# --- preferences ----------------------------------------------------------------------


def _category_fa(category: str) -> str:
    return category or "بدون دسته"


def category_table(conn: sa.Connection, scope: Scope) -> Table:
    """Categories by members buying them, sales and spend (the POS's sale lines)."""
    a = analytics_categories.c
    query = (
        sa.select(
            a.category, sa.func.sum(a.members), sa.func.sum(a.sales), sa.func.sum(a.amount_rial)
        )
        .where(_latest(analytics_categories, scope))
        .group_by(a.category)
    )
    figures = [
        (category, int(n), int(sold), int(spent))
        for category, n, sold, spent in conn.execute(query)
    ]
    found: list[dict[str, Any]] = [
        {"category": _category_fa(category), "members": n, "sales": sold, "amount_rial": spent}
        for category, n, sold, spent in figures
    ]
    rows = sorted(found, key=lambda row: (-row["amount_rial"], row["category"]))
    columns = (
        Column("category", "دسته کالا", "text"),
        Column("members", "اعضای خریدار"),
        Column("sales", "خریدها"),
        Column("amount_rial", "مبلغ", "rial"),
    )
    return Table("categories", "دسته‌های پرخرید", columns, rows)


def suggestion_table(conn: sa.Connection, scope: Scope) -> Table:
    """Members whose first "likely next" category is each category (not bought yet)."""
    s = analytics_suggestions.c
    query = (
        sa.select(s.category, sa.func.sum(s.members), sa.func.sum(s.lift_sum))
        .where(_store_rows(s.store_id, scope))
        .group_by(s.category)
    )
    found = [(category, int(n), float(lift)) for category, n, lift in conn.execute(query)]
    rows = [
        {"category": _category_fa(category), "members": n, "lift": round(lift / n, 2)}
        for category, n, lift in sorted(found, key=lambda item: (-item[1], item[0]))
    ]
    columns = (
        Column("category", "دسته پیشنهادی", "text"),
        Column("members", "اعضا"),
        Column("lift", "میانگین بالابری", "score"),
    )
    return Table("suggestions", "دسته‌ای که اعضا احتمالاً بعداً می‌خرند", columns, rows)


INCENTIVES_FA = {"sms": "پیامک", "points": "امتیاز", "credit": "اعتبار", "coupon": "کد تخفیف"}


def incentive_table(conn: sa.Connection, scope: Scope) -> Table:
    """Offers of each incentive and the share followed by a purchase in the window."""
    i = analytics_incentives.c
    query = (
        sa.select(
            i.incentive, sa.func.sum(i.members), sa.func.sum(i.offers), sa.func.sum(i.responses)
        )
        .where(_store_rows(i.store_id, scope))
        .group_by(i.incentive)
        .order_by(i.incentive)
    )
    rows = [
        {
            "incentive": INCENTIVES_FA.get(key, key),
            "members": int(n),
            "offers": int(offers),
            "responses": int(answered),
            "rate": _share(int(answered), int(offers)),
        }
        for key, n, offers, answered in conn.execute(query)
    ]
    columns = (
        Column("incentive", "مشوق", "text"),
        Column("members", "اعضا"),
        Column("offers", "پیشنهادها"),
        Column("responses", "خرید پس از آن"),
        Column("rate", "نرخ پاسخ", "pct"),
    )
    return Table("incentives", "پاسخ اعضا به مشوق‌ها", columns, rows)


def fleet_table(conn: sa.Connection, scope: Scope) -> Table:
    """The terminals of the stores in scope, for export (the overview draws its own)."""
    from common.persian import jalali_datetime

    rows = [
        {
            "store": t["store_name"],
            "terminal": t["hostname"] or t["id"],
            "last_seen": jalali_datetime(_utc(t["last_seen_at"])) if t["last_seen_at"] else "",
            "contiguous_seq": int(t["contiguous_seq"]),
            "highest_seq": int(t["highest_seq"]),
            "state": "باطل‌شده" if t["revoked_at"] else "فعال",
        }
        for t in scoped_fleet(conn, scope)
    ]
    columns = (
        Column("store", "فروشگاه", "text"),
        Column("terminal", "پایانه", "text"),
        Column("last_seen", "آخرین تماس", "text"),
        Column("contiguous_seq", "آخرین رویداد پیوسته"),
        Column("highest_seq", "بالاترین رویداد"),
        Column("state", "وضعیت", "text"),
    )
    return Table("fleet", "پایانه‌ها", columns, rows)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone

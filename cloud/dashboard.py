"""The HQ dashboard's figures: every table a page shows or exports, read within a scope.

Pages read the aggregates each ``vafa-cloud analytics run`` stores (``analytics_kpis``,
``analytics_cohorts``, ``analytics_segments``, ``analytics_transitions``,
``analytics_clv_buckets``, ``analytics_demographics``, ``analytics_feedback``), so a page
costs a few small reads however many members the chain has. KPIs and feedback are stored
per store; the other aggregates are chain-wide, so for a store owner the same tables are
counted from ``member_analytics`` and ``members`` restricted to their stores
(``cloud.access``), moves from ``segment_changes`` and cohorts from their stores' sales.
Those counts are kept per process until the next run: sums by home store for every store
at once (``home_store_sums``), the rest per scope (``cloud.dashboard_pages.load_table``).

Each function returns a ``Table``: Persian column titles and plain values, which the page
renders, the charts read and the CSV/Excel export writes, so all three always agree.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.access import Scope
from cloud.analytics.demographics import AGE_GROUPS
from cloud.analytics.months import month_case, month_key
from cloud.analytics.rfm import load_segments
from cloud.tables import (
    analytics_categories,
    analytics_clv_buckets,
    analytics_cohorts,
    analytics_demographics,
    analytics_feedback,
    analytics_kpis,
    analytics_runs,
    analytics_segments,
    analytics_transitions,
    member_analytics,
    member_categories,
    member_incentives,
    member_suggestions,
    members,
    sales,
    segment_changes,
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
TOP_MEMBERS = 20
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


Sums = dict[tuple[Any, ...], list[Any]]
_partitions: dict[tuple[str, str], tuple[Any, dict[str, Sums]]] = {}
_partitions_lock = threading.Lock()


def home_store_sums(
    conn: sa.Connection,
    scope: Scope,
    name: str,
    keys: list[sa.ColumnElement[Any]],
    values: list[sa.ColumnElement[Any]],
    joined: sa.FromClause,
    *where: sa.ColumnElement[bool],
) -> Sums:
    """Add up per-member figures by ``keys`` over the members of the stores in scope.

    The grouping runs once per analytics run for every home store at once and is kept in
    this process: a store's filter could not shorten it (nothing indexes ``home_store_id``,
    so one store's counts cost a pass over every member's row anyway). A scope then adds up
    its stores' parts, which is exact: every member has exactly one home store.
    """
    run = conn.execute(sa.select(sa.func.max(analytics_runs.c.finished_at))).scalar()
    cache_key = (str(conn.engine.url), name)
    with _partitions_lock:
        hit = _partitions.get(cache_key)
    if hit is not None and hit[0] == run:
        parts = hit[1]
    else:
        labels = [f"k{i}" for i in range(len(keys))]
        query = (
            sa.select(
                members.c.home_store_id,
                *(key.label(label) for key, label in zip(keys, labels, strict=True)),
                *values,
            )
            .select_from(joined)
            .where(*where)
            # By output name: PostgreSQL would see two CASEs with distinct parameters as
            # different expressions.
            .group_by(members.c.home_store_id, *(sa.literal_column(lab) for lab in labels))
        )
        parts = {}
        for row in conn.execute(query):
            key = tuple(row[1 : 1 + len(keys)])
            parts.setdefault(row[0], {})[key] = [v or 0 for v in row[1 + len(keys) :]]
        with _partitions_lock:
            _partitions[cache_key] = (run, parts)
    stores = parts.keys() if scope.store_ids is None else scope.store_ids & parts.keys()
    totals: Sums = {}
    for store in stores:
        for key, figures in parts[store].items():
            total = totals.setdefault(key, [0] * len(figures))
            for i, figure in enumerate(figures):
                total[i] += figure
    return totals


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
    if scope.whole_chain:
        a = analytics_segments.c
        query = sa.select(a.segment, a.members, a.value_rial).where(
            a.computed_on == latest_run(conn)
        )
        found = {r.segment: (int(r.members), int(r.value_rial or 0)) for r in conn.execute(query)}
    else:
        m = member_analytics.c
        sums = home_store_sums(
            conn,
            scope,
            "segments",
            [m.segment],
            [sa.func.count(), sa.func.sum(m.value_rial)],
            member_analytics.join(members, members.c.id == m.member_id),
        )
        found = {key[0]: (int(n), int(value)) for key, (n, value) in sums.items()}
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
    if scope.whole_chain:
        t = analytics_transitions.c
        # A member's first segment is no move (as in segment_changes, the store view's source).
        query = sa.select(t.from_segment, t.to_segment, t.members).where(
            t.computed_on == latest_run(conn), t.from_segment != t.to_segment, t.from_segment != ""
        )
    else:
        query = _scoped_moves(conn, scope)
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


def _scoped_moves(conn: sa.Connection, scope: Scope) -> sa.Select[Any]:
    c = segment_changes.c
    return (
        sa.select(c.from_segment, c.to_segment, sa.func.count().label("members"))
        .select_from(segment_changes.join(members, members.c.id == c.member_id))
        .where(c.changed_on == latest_run(conn), scope.members())
        .group_by(c.from_segment, c.to_segment)
    )


# --- cohorts --------------------------------------------------------------------------


def cohort_table(conn: sa.Connection, scope: Scope) -> Table:
    """Cohort retention: each first-purchase month and its share buying N months later."""
    if scope.whole_chain:
        c = analytics_cohorts.c
        found = [
            (r.cohort, int(r.months_since), int(r.cohort_members), int(r.active_members))
            for r in conn.execute(
                sa.select(c.cohort, c.months_since, c.cohort_members, c.active_members)
            )
        ]
    else:
        found = _scoped_cohorts(conn, scope)
    sizes: dict[str, int] = {}
    active: dict[str, dict[int, int]] = {}
    for cohort, since, size, count in found:
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


def _scoped_cohorts(conn: sa.Connection, scope: Scope) -> list[tuple[str, int, int, int]]:
    # Up to the latest run's moment, as the chain's stored cohorts are.
    as_of = conn.execute(sa.select(sa.func.max(analytics_runs.c.as_of))).scalar()
    if as_of is None:
        return []
    kept = sa.and_(
        sales.c.refunded_at.is_(None),
        sales.c.received_at <= as_of,
        scope.stores(sales.c.store_id),
    )
    first, last = conn.execute(
        sa.select(sa.func.min(sales.c.received_at), sa.func.max(sales.c.received_at)).where(kept)
    ).one()
    if first is None:
        return []
    span = [m if m.tzinfo else m.replace(tzinfo=dt.UTC) for m in (first, last)]
    first_at = sa.func.min(sales.c.received_at).over(partition_by=sales.c.member_id)
    scoped = (
        sa.select(sales.c.member_id, sales.c.received_at, first_at.label("first_at"))
        .where(kept)
        .subquery()
    )
    cohort = month_case(scoped.c.first_at, span[0], span[1]).label("cohort")
    month = month_case(scoped.c.received_at, span[0], span[1])
    query = sa.select(cohort, month, sa.func.count(sa.distinct(scoped.c.member_id))).group_by(
        sa.literal_column("cohort"), sa.literal_column("month")
    )
    counts = [(c, m, int(n)) for c, m, n in conn.execute(query)]
    sizes = {c: n for c, m, n in counts if c == m}
    return [(c, _offset(c, m), sizes.get(c, n), n) for c, m, n in counts]


def _offset(start: str, later: str) -> int:
    (y0, m0), (y1, m1) = ((int(p) for p in k.split("-")) for k in (start, later))
    return (y1 - y0) * 12 + (m1 - m0)


# --- CLV ------------------------------------------------------------------------------


def clv_histogram(conn: sa.Connection, scope: Scope) -> Table:
    """Members per CLV bucket (the run's fixed Rial edges)."""
    b = analytics_clv_buckets.c
    edges = list(
        conn.execute(
            sa.select(b.bucket, b.low_rial, b.high_rial, b.members)
            .where(b.computed_on == latest_run(conn))
            .order_by(b.bucket)
        )
    )
    if scope.whole_chain:
        counts = {r.bucket: int(r.members) for r in edges}
    else:
        counts = _scoped_buckets(conn, scope, edges)
    rows = [
        {
            "low_rial": int(r.low_rial),
            "high_rial": int(r.high_rial) if r.high_rial is not None else None,
            "members": counts.get(r.bucket, 0),
        }
        for r in edges
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


def _scoped_buckets(conn: sa.Connection, scope: Scope, edges: list[Any]) -> dict[int, int]:
    if not edges:
        return {}
    clv = member_analytics.c.clv_rial
    bucket = sa.case(
        *((clv >= r.low_rial, r.bucket) for r in reversed(edges)), else_=edges[0].bucket
    )
    sums = home_store_sums(
        conn,
        scope,
        "clv_buckets",
        [bucket],
        [sa.func.count()],
        member_analytics.join(members, members.c.id == member_analytics.c.member_id),
        clv.is_not(None),
    )
    return {int(key[0]): int(n) for key, (n,) in sums.items()}


def top_members(conn: sa.Connection, scope: Scope, unmask: Callable[[str, bytes], str]) -> Table:
    """The members in scope with the highest CLV (else value), mobile masked."""
    from common.mobile import mask_mobile

    m = member_analytics.c
    order = sa.func.coalesce(m.clv_rial, m.value_rial).desc()
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
        .select_from(
            member_analytics.join(members, members.c.id == m.member_id).join(
                stores, stores.c.id == members.c.home_store_id
            )
        )
        .where(scope.members())
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
        return column == "*"
    return sa.and_(column != "*", scope.stores(column))


# --- demographics ---------------------------------------------------------------------


def demographics(conn: sa.Connection, scope: Scope, dimension: str) -> Table:
    """Members and buying members by age group, gender or province."""
    if scope.whole_chain:
        d = analytics_demographics.c
        found = [
            (r.value, int(r.members), int(r.buying_members))
            for r in conn.execute(
                sa.select(d.value, d.members, d.buying_members).where(
                    d.computed_on == latest_run(conn), d.dimension == dimension
                )
            )
        ]
    else:
        found = _scoped_demographics(conn, scope, dimension)
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


def _scoped_demographics(
    conn: sa.Connection, scope: Scope, dimension: str
) -> list[tuple[str, int, int]]:
    if dimension == "age":
        this_year = int(month_key(dt.datetime.now(dt.UTC))[:4])
        age = this_year - members.c.birth_year
        value: sa.ColumnElement[Any] = sa.case(
            (members.c.birth_year.is_(None), sa.literal("")),
            *((age >= low, sa.literal(key)) for key, low in reversed(AGE_GROUPS) if low > 0),
            else_=sa.literal(AGE_GROUPS[0][0]),
        )
    else:
        value = sa.func.coalesce(getattr(members.c, dimension), "")
    sums = home_store_sums(
        conn,
        scope,
        f"demographics:{dimension}",
        [value],
        [sa.func.count(), sa.func.count(member_analytics.c.member_id)],
        members.outerjoin(member_analytics, member_analytics.c.member_id == members.c.id),
    )
    return [(str(key[0]), int(n), int(b)) for key, (n, b) in sums.items()]


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
    if scope.whole_chain:
        a = analytics_categories.c
        query = sa.select(a.category, a.members, a.sales, a.amount_rial).where(
            a.computed_on == latest_run(conn)
        )
        figures = [
            (r.category, int(r.members), int(r.sales), int(r.amount_rial))
            for r in conn.execute(query)
        ]
    else:
        c = member_categories.c
        sums = home_store_sums(
            conn,
            scope,
            "categories",
            [c.category],
            [sa.func.count(), sa.func.sum(c.purchases), sa.func.sum(c.amount_rial)],
            member_categories.join(members, members.c.id == c.member_id),
        )
        figures = [
            (key[0], int(n), int(sold), int(spent)) for key, (n, sold, spent) in sums.items()
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
    s = member_suggestions.c
    sums = home_store_sums(
        conn,
        scope,
        "suggestions",
        [s.category],
        [sa.func.count(), sa.func.sum(s.lift)],
        member_suggestions.join(members, members.c.id == s.member_id),
        s.rank == 1,
    )
    rows = [
        {
            "category": _category_fa(key[0]),
            "members": int(n),
            "lift": round(float(lift) / int(n), 2),
        }
        for key, (n, lift) in sorted(sums.items(), key=lambda item: (-item[1][0], item[0]))
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
    i = member_incentives.c
    sums = home_store_sums(
        conn,
        scope,
        "incentives",
        [i.incentive],
        [sa.func.count(), sa.func.sum(i.offers), sa.func.sum(i.responses)],
        member_incentives.join(members, members.c.id == i.member_id),
    )
    rows = [
        {
            "incentive": INCENTIVES_FA.get(key[0], key[0]),
            "members": int(n),
            "offers": int(offers),
            "responses": int(answered),
            "rate": _share(int(answered), int(offers)),
        }
        for key, (n, offers, answered) in sorted(sums.items())
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

"""HQ's analytics pages and the CSV/Excel export of every table on them.

Each page is a list of blocks (charts and tables) built from ``cloud.dashboard`` inside the
signed-in user's scope (``cloud.access``). A ``?store=ID`` narrows any page or export to one
store the user may see; a store outside the scope is 404, as if it did not exist. Charts
are Chart.js fed from ``<script type="application/json">`` by ``hq-charts.js``: no drawing
code here, only data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, render_template, request, url_for
from openpyxl import Workbook  # imported with the app (0.6 s), not by the first export
from openpyxl.styles import Font

from cloud import dashboard as d
from cloud.access import Scope, current_scope, roles_allowed
from cloud.context import ctx
from cloud.hq import login_required
from cloud.tables import stores
from common.persian import format_money, group_thousands, jalali_date, to_persian_digits

bp = Blueprint("dashboard", __name__, url_prefix="/hq")
EVERYONE = ("admin", "marketer", "store_owner")
# Series whose meaning has a colour people expect (otherwise hq-charts.js's palette).
SERIES_COLOURS = {"promoters": "#15803d", "passives": "#a3a3a3", "detractors": "#b91c1c"}
SERIES_COLOURS |= {"positive": "#15803d", "neutral": "#a3a3a3", "negative": "#b91c1c"}


@dataclass(frozen=True)
class Chart:
    """One chart: a canvas id, a Persian title and the spec ``hq-charts.js`` reads."""

    id: str
    title: str
    spec: dict[str, Any]


@dataclass
class Page:
    """A dashboard page: its title and its charts and tables, top to bottom."""

    title: str
    blocks: list[Chart | d.Table] = field(default_factory=list)
    note: str = ""
    cards: list[tuple[str, str, str]] = field(default_factory=list)  # label, value, below


Builder = Callable[[sa.Connection, Scope], d.Table]


def _top_members(conn: sa.Connection, scope: Scope) -> d.Table:
    return d.top_members(conn, scope, ctx().vault.decrypt)


# Every exportable table, by the name in its URL: the page and the file read the same one.
TABLES: dict[str, Builder] = {
    "kpi_months": d.kpi_months,
    "stores": d.store_comparison,
    "segments": d.segment_counts,
    "segment_moves": d.segment_moves,
    "cohorts": d.cohort_table,
    "clv_buckets": d.clv_histogram,
    "top_members": _top_members,
    "nps": d.nps_months,
    "demographics_age": lambda conn, scope: d.demographics(conn, scope, "age"),
    "demographics_gender": lambda conn, scope: d.demographics(conn, scope, "gender"),
    "demographics_province": lambda conn, scope: d.demographics(conn, scope, "province"),
    "categories": d.category_table,
    "suggestions": d.suggestion_table,
    "incentives": d.incentive_table,
    "fleet": d.fleet_table,
}


def load_table(name: str, conn: sa.Connection, scope: Scope) -> d.Table:
    """Return one of ``TABLES`` in a scope (each reads the analytics run's stored rows)."""
    return TABLES[name](conn, scope)


def page_scope() -> Scope:
    """Return the user's scope, narrowed to ``?store=`` when given (404 outside the scope)."""
    scope = current_scope()
    store = request.args.get("store", "").strip()
    if not store:
        return scope
    if not scope.sees_store(store):
        abort(404)
    return Scope(scope.username, scope.role, frozenset({store}))


def visible_stores(conn: sa.Connection, scope: Scope) -> list[sa.Row[Any]]:
    """Return the stores the user may pick, by name."""
    query = sa.select(stores.c.id, stores.c.name).where(scope.stores(stores.c.id))
    return list(conn.execute(query.order_by(stores.c.name)))


def series_chart(
    chart_id: str,
    title: str,
    table: d.Table,
    keys: list[str],
    kind: str = "line",
    fmt: str = "int",
    label_key: str = "month",
    stacked: bool = False,
    horizontal: bool = False,
) -> Chart:
    """Make a chart of some columns of a table, labelled by one column."""
    titles = {c.key: c.fa for c in table.columns}
    month = any(c.key == label_key and c.kind == "month" for c in table.columns)
    labels = [d.month_fa(v) if month else str(v) for v in table.column(label_key)]
    spec = {
        "type": kind,
        "format": fmt,
        "stacked": stacked,
        "horizontal": horizontal,
        "labels": labels,
        "series": [
            {"label": titles[k], "data": table.column(k), "color": SERIES_COLOURS.get(k)}
            for k in keys
        ],
    }
    return Chart(chart_id, title, spec)


def cell(row: dict[str, Any], column: d.Column) -> str:
    """Write one value for people: Persian digits, Toman, percentages, Jalali months."""
    value = row.get(column.key)
    if value is None:
        return "—"
    if column.kind == "int":
        return group_thousands(int(value))
    if column.kind == "rial":
        return format_money(int(value))
    if column.kind in ("pct", "heat"):
        return _decimal(f"{float(value) * 100:.1f}") + "٪"
    if column.kind == "score":
        return _decimal(str(value))
    if column.kind == "month":
        return d.month_fa(str(value))
    return str(value)


def _decimal(text: str) -> str:
    # Persian writes the decimal point as «٫» and the minus before the digits, as here.
    return to_persian_digits(text).replace(".", "٫")


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "cell": cell,
        "is_chart": lambda block: isinstance(block, Chart),
        "jday": jalali_date,
    }


def _render(page: Page, conn: sa.Connection, scope: Scope) -> str:
    base = current_scope()
    return render_template(
        "dashboard.html",
        page=page,
        stores=visible_stores(conn, base),
        chosen=request.args.get("store", ""),
        scope=scope,
        run_day=d.latest_run(conn),
    )


@bp.get("/segments")
@login_required
@roles_allowed(*EVERYONE)
def segments() -> str:
    """Show members per RFM segment and their moves since the previous run."""
    scope = page_scope()
    with ctx().engine.connect() as conn:
        counts = load_table("segments", conn, scope)
        moves = load_table("segment_moves", conn, scope)
        chart = series_chart(
            "segment-chart",
            "اعضا در هر بخش",
            counts,
            ["members"],
            kind="bar",
            label_key="segment_fa",
        )
        cards = [
            (r["segment_fa"], group_thousands(r["members"]), cell(r, counts.columns[2]))
            for r in counts.rows
        ]
        page = Page("بخش‌بندی RFM", [chart, counts, moves], cards=cards)
        return _render(page, conn, scope)


@bp.get("/cohorts")
@login_required
@roles_allowed(*EVERYONE)
def cohorts() -> str:
    """Show cohort retention as a heatmap table."""
    scope = page_scope()
    with ctx().engine.connect() as conn:
        cohort = load_table("cohorts", conn, scope)
        note = (
            "هر ردیف اعضایی‌اند که نخستین خریدشان در آن ماه بود؛"
            " هر خانه سهمی از آنان است که چند ماه بعد دوباره خریدند."
        )
        return _render(Page("ماندگاری گروه‌ها", [cohort], note), conn, scope)


@bp.get("/clv")
@login_required
@roles_allowed(*EVERYONE)
def clv() -> str:
    """Show the CLV histogram and the members worth most."""
    scope = page_scope()
    with ctx().engine.connect() as conn:
        buckets = load_table("clv_buckets", conn, scope)
        labels = [
            format_money(r["low_rial"]) if r["high_rial"] is None else format_money(r["high_rial"])
            for r in buckets.rows
        ]
        spec = {
            "type": "bar",
            "format": "int",
            "labels": [
                ("بیش از " if r["high_rial"] is None else "تا ") + lab
                for r, lab in zip(buckets.rows, labels, strict=True)
            ],
            "series": [{"label": "اعضا", "data": buckets.column("members")}],
        }
        chart = Chart("clv-chart", "پراکندگی ارزش طول عمر", spec)
        top = load_table("top_members", conn, scope)
        return _render(Page("ارزش طول عمر مشتری", [chart, buckets, top]), conn, scope)


@bp.get("/nps")
@login_required
@roles_allowed(*EVERYONE)
def nps() -> str:
    """Show NPS and the share of promoters, passives and detractors per month."""
    scope = page_scope()
    with ctx().engine.connect() as conn:
        answers = load_table("nps", conn, scope)
        score = series_chart("nps-chart", "NPS در هر ماه", answers, ["nps"], fmt="score")
        mood = series_chart(
            "sentiment-chart",
            "مشوق، خنثی و منتقد",
            answers,
            ["promoters", "passives", "detractors"],
            kind="bar",
            fmt="pct",
            stacked=True,
        )
        sentiment = series_chart(
            "comments-chart",
            "حال‌وهوای نظرها",
            answers,
            ["positive", "neutral", "negative"],
            kind="bar",
            fmt="pct",
            stacked=True,
        )
        note = (
            "امتیاز ۹–۱۰ مشوق، ۷–۸ خنثی و ۰–۶ منتقد است؛ حال‌وهوای هر نظر را تحلیل شبانه"
            " از متن آن می‌خواند (درستی حدود ۷۰ تا ۸۰ درصد)."
        )
        blocks: list[Chart | d.Table] = [score, mood, sentiment, answers]
        return _render(Page("رضایت مشتریان", blocks, note), conn, scope)


@bp.get("/demographics")
@login_required
@roles_allowed(*EVERYONE)
def demographics() -> str:
    """Show members by age group, gender and province."""
    scope = page_scope()
    charts: list[Chart | d.Table] = []
    tables: list[Chart | d.Table] = []
    with ctx().engine.connect() as conn:
        for dimension in ("age", "gender", "province"):
            shown = load_table(f"demographics_{dimension}", conn, scope)
            charts.append(
                series_chart(
                    f"{dimension}-chart",
                    shown.title,
                    shown,
                    ["members", "buying_members"],
                    kind="bar",
                    label_key="value",
                    horizontal=dimension == "province",
                )
            )
            tables.append(shown)
        return _render(Page("ترکیب اعضا", charts + tables), conn, scope)


@bp.get("/preferences")
@login_required
@roles_allowed(*EVERYONE)
def preferences() -> str:
    """Show what members buy, what they are likely to buy next and which incentive works."""
    scope = page_scope()
    with ctx().engine.connect() as conn:
        categories = load_table("categories", conn, scope)
        top = d.Table(categories.name, categories.title, categories.columns, categories.rows[:12])
        chart = series_chart(
            "categories-chart",
            "مبلغ خرید هر دسته (۱۲ دسته نخست)",
            top,
            ["amount_rial"],
            kind="bar",
            fmt="rial",
            label_key="category",
            horizontal=True,
        )
        incentives = load_table("incentives", conn, scope)
        answer = series_chart(
            "incentives-chart",
            "نرخ پاسخ به هر مشوق",
            incentives,
            ["rate"],
            kind="bar",
            fmt="pct",
            label_key="incentive",
        )
        suggestions = load_table("suggestions", conn, scope)
        note = (
            "دسته‌ها از اقلام فاکتورهایی است که صندوق فروشگاه فرستاده؛ پیشنهادها دسته‌هایی‌اند"
            " که هم‌بخشی‌های هر عضو با خریدهای او می‌خرند و خودش هنوز نخریده است."
        )
        blocks: list[Chart | d.Table] = [chart, answer, categories, suggestions, incentives]
        return _render(Page("ترجیح‌های اعضا", blocks, note), conn, scope)


def overview_blocks(conn: sa.Connection, scope: Scope) -> list[Chart | d.Table]:
    """Return the overview's KPI charts over Jalali months and the store comparison."""
    months = load_table("kpi_months", conn, scope)
    compare = load_table("stores", conn, scope)
    return [
        series_chart("revenue-chart", "مبلغ خرید در هر ماه", months, ["revenue_rial"], fmt="rial"),
        series_chart(
            "sales-chart", "خریدها و خریداران", months, ["sales", "buyers", "new_members"]
        ),
        series_chart("return-chart", "نرخ بازگشت خریداران", months, ["return_rate"], fmt="pct"),
        series_chart(
            "stores-chart",
            "مقایسه فروشگاه‌ها: مبلغ خرید",
            compare,
            ["revenue_rial", "month_revenue_rial"],
            kind="bar",
            fmt="rial",
            label_key="store",
            horizontal=True,
        ),
        compare,
        months,
    ]


@bp.get("/export/<name>.<fmt>")
@login_required
@roles_allowed(*EVERYONE)
def export(name: str, fmt: str) -> Response:
    """Send one table as CSV (UTF-8 with BOM, for Excel) or .xlsx, within the scope."""
    builder = TABLES.get(name)
    if builder is None or fmt not in ("csv", "xlsx"):
        abort(404)
    scope = page_scope()
    with ctx().engine.connect() as conn:
        shown = load_table(name, conn, scope)
    stamp = dt.date.today().isoformat()
    filename = f"vafa-{name}-{stamp}.{fmt}"
    if fmt == "csv":
        body, mimetype = to_csv(shown), "text/csv; charset=utf-8"
    else:
        body = to_xlsx(shown)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # scoped data: never from a shared cache
    return response


def export_url(table: d.Table) -> dict[str, str]:
    """Return the CSV and Excel links of a table, keeping the page's store filter."""
    store = request.args.get("store")
    extra: dict[str, Any] = {"store": store} if store else {}
    return {
        fmt: url_for("dashboard.export", name=table.name, fmt=fmt, **extra)
        for fmt in ("csv", "xlsx")
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    """Keep a text cell from being read as a formula by a spreadsheet (CSV/formula injection).

    Category names come from the stores' POS software and names from people: a cell such
    as ``=HYPERLINK(...)`` must reach Excel as text. Numbers pass as numbers.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(table: d.Table) -> bytes:
    """Write a table as CSV: Persian titles, plain values, UTF-8 with a BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.fa for c in table.columns])
    for row in table.rows:
        writer.writerow(
            ["" if row.get(c.key) is None else _plain(row[c.key]) for c in table.columns]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: d.Table) -> bytes:
    """Write a table as an Excel sheet, right to left, numbers as numbers."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = table.name[:31]
    sheet.sheet_view.rightToLeft = True
    sheet.append([c.fa for c in table.columns])
    for title_cell in sheet[1]:
        title_cell.font = Font(bold=True)
    formats = {"rial": "#,##0", "int": "#,##0", "pct": "0.0%", "heat": "0.0%"}
    for row in table.rows:
        sheet.append([_plain(row.get(c.key)) for c in table.columns])
        for column, value_cell in zip(table.columns, sheet[sheet.max_row], strict=True):
            if column.kind in formats:
                value_cell.number_format = formats[column.kind]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@bp.app_context_processor
def _export_links() -> dict[str, Any]:
    return {"export_url": export_url}

"""The store owner's figures: the last seven days, the sales list, member search and the
printable end-of-day report. Read-only pages; every one needs the owner's login."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from agent import members, owner_notes, reports
from agent.errors import InputError, UnknownMember
from agent.rules import TIER_LABELS
from agent.terminal import Terminal
from common.errors import VafaError
from common.mobile import mask_mobile
from common.persian import (
    is_plain_number,
    jalali_date,
    jalali_datetime,
    now_tehran,
    to_ascii_digits,
    to_persian_digits,
)

bp = Blueprint("owner", __name__, url_prefix="/owner")
WEEKDAYS = ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه")


@bp.before_request
def _owner_only() -> Response | None:
    if not session.get("owner"):
        return redirect(url_for("login"))
    return None


def _terminal() -> Terminal:
    terminal: Terminal = current_app.extensions["vafa_terminal"]
    return terminal


def _day_label(day: dt.date) -> dict[str, str]:
    return {"date": jalali_date(day), "weekday": WEEKDAYS[day.weekday()]}


def _chosen_day(raw: str | None, default: dt.date | None) -> tuple[dt.date | None, str]:
    """Return the day asked for in ``?day=`` (Jalali) and a Persian error if it is bad."""
    if not raw:
        return default, ""
    try:
        return reports.parse_day(raw), ""
    except InputError as exc:
        return default, exc.fa


@bp.get("/week")
def week() -> str:
    """Show today next to the six days before it, per Jalali day."""
    days = reports.week(_terminal().conn)
    rows = [{**_day_label(d.day), "t": d} for d in days]
    total = {
        key: sum(getattr(d, key) for d in days)
        for key in ("sales", "revenue_rial", "members_joined", "points_issued", "points_redeemed")
    }
    return render_template("owner_week.html", today=rows[0], rows=rows, total=total)


@bp.get("/sales")
def sales() -> tuple[str, int]:
    """List sales newest first, 25 a page, optionally of one Jalali day; refunds marked."""
    day, error = _chosen_day(request.args.get("day"), None)
    page_arg = to_ascii_digits(request.args.get("page", "1")).strip()
    # Six digits at most: a page past the end is empty, one past SQLite's integers a crash.
    plain = is_plain_number(page_arg) and len(page_arg) <= 6
    page = int(page_arg) if plain and int(page_arg) > 0 else 1
    rows, total = reports.sales_page(_terminal().conn, day, page)
    pages = max(1, -(-total // reports.PER_PAGE))
    context: dict[str, Any] = {
        "rows": rows,
        "total": total,
        "page": min(page, pages),
        "pages": pages,
        "day": jalali_date(day) if day else "",
        "days": [_day_label(reports.today() - dt.timedelta(days=n)) for n in range(7)],
        "error": error,
    }
    return render_template("owner_sales.html", **context), 400 if error else 200


@bp.get("/members")
def member_search() -> tuple[str, int]:
    """Find a member by mobile (any Iranian spelling, by its HMAC) or card code."""
    query = request.args.get("q", "").strip()
    if not query:
        return render_template("owner_members.html", query="", found=None, error=""), 200
    terminal = _terminal()
    try:
        with current_app.extensions["vafa_flow_lock"]:
            member = members.identify(terminal.conn, terminal.vault, query)
            found = _member_view(terminal, member)
    except VafaError as exc:
        error = exc.fa if not isinstance(exc, UnknownMember) else "عضوی پیدا نشد."
        return render_template("owner_members.html", query=query, found=None, error=error), 404
    return render_template("owner_members.html", query=query, found=found, error=""), 200


def _member_view(terminal: Terminal, member: members.Member) -> dict[str, Any]:
    visits = terminal.conn.execute(
        "SELECT receipt_no, amount_rial, points_earned, points_redeemed, created_at, refunded_at"
        " FROM sales WHERE member_id = ? ORDER BY receipt_no DESC LIMIT 10",
        (member.id,),
    ).fetchall()
    (joined,) = terminal.conn.execute(
        "SELECT created_at FROM members WHERE id = ?", (member.id,)
    ).fetchone()
    return {
        "name": member.name,
        "mobile": mask_mobile(member.mobile),
        "card_code": member.card_code,
        "tier": TIER_LABELS.get(member.tier, member.tier),
        "balance": terminal.flow.balance(member.id),
        "credit_rial": terminal.flow.credit(member.id),
        "joined": jalali_date(dt.datetime.fromisoformat(joined)),
        "visits": [
            {**dict(v), "when": jalali_datetime(dt.datetime.fromisoformat(v["created_at"]))}
            for v in visits
        ],
    }


@bp.get("/notes")
def notes() -> str:
    """Show the store's open notes from HQ's scenarios, as the last pull delivered them."""
    terminal = _terminal()
    return render_template(
        "owner_notes.html", notes=owner_notes.listed(terminal.conn, terminal.vault)
    )


@bp.get("/report")
def report() -> tuple[str, int]:
    """Show the end-of-day report of a Jalali day (today by default), ready to print."""
    chosen, error = _chosen_day(request.args.get("day"), None)
    day = chosen or reports.today()
    conn = _terminal().conn
    context = {
        "t": reports.day_totals(conn, day),
        "sales": reports.day_sales(conn, day),
        "label": _day_label(day),
        "prev": jalali_date(day - dt.timedelta(days=1)),
        "next": jalali_date(day + dt.timedelta(days=1)) if day < reports.today() else "",
        "printed_at": jalali_datetime(now_tehran()),
        "error": error,
    }
    return render_template("owner_report.html", **context), 400 if error else 200


def init_app(app: Flask) -> None:
    """Attach the owner's figure pages to the local web app."""
    app.register_blueprint(bp)
    app.jinja_env.filters["persian_digits"] = to_persian_digits

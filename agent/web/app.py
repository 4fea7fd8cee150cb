"""The terminal's local web app: the store owner's page, the cashier screen, the POS API."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from agent import store_settings
from agent.ledger import book
from agent.offline_queue import outbox
from agent.terminal import Terminal
from agent.web import cashier, owner, owner_admin, pos_api, receipts
from agent.web.cashier import ScanFeed
from common import STATIC_DIR
from common.errors import VafaError
from common.persian import (
    TEHRAN,
    MoneyUnit,
    format_money,
    group_thousands,
    jalali_date,
    jalali_datetime,
    now_tehran,
)
from common.webauth import LoginLimiter, check_csrf, csrf_token, hash_password, verify_password

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
OWNER_PASSWORD_KEY = "owner_password_hash"


def set_owner_password(terminal: Terminal, password: str) -> None:
    """Store the store owner's password as a slow hash."""
    if len(password) < 8:
        raise ValueError("the owner password needs at least 8 characters")
    terminal.conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (OWNER_PASSWORD_KEY, hash_password(password)),
    )


def _owner_hash(terminal: Terminal) -> str:
    row = terminal.conn.execute(
        "SELECT value FROM settings WHERE key = ?", (OWNER_PASSWORD_KEY,)
    ).fetchone()
    return str(row[0]) if row else ""


def _login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session.get("owner"):
            return redirect(url_for("login"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def today_summary(terminal: Terminal) -> dict[str, int]:
    """Return today's (Tehran) sales, revenue, points and new members."""
    start = dt.datetime.combine(now_tehran().date(), dt.time(), TEHRAN).isoformat()
    sales, revenue, issued, redeemed = terminal.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(amount_rial), 0), COALESCE(SUM(points_earned), 0),"
        " COALESCE(SUM(points_redeemed), 0) FROM sales WHERE created_at >= ?",
        (start,),
    ).fetchone()
    (joined,) = terminal.conn.execute(
        "SELECT COUNT(*) FROM members WHERE created_at >= ?", (start,)
    ).fetchone()
    return {
        "sales": sales,
        "revenue_rial": revenue,
        "points_issued": issued,
        "points_redeemed": redeemed,
        "members_joined": joined,
        "points_liability": book.total_member_points(terminal.conn),
        "queue_depth": outbox.depth(terminal.conn),
    }


def create_app(
    terminal: Terminal, config: dict[str, Any] | None = None, scans: ScanFeed | None = None
) -> Flask:
    """Build the local web app for one terminal."""
    app = Flask(__name__, static_folder=STATIC_DIR)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    app.config.update(config or {})
    limiter = LoginLimiter()

    try:
        store_settings.apply_stored(terminal)  # the owner's printer, pulse and money unit
    except VafaError as exc:
        log.warning("stored settings not applied: %s", exc)

    def money(rials: int, unit: MoneyUnit | None = None) -> str:
        """Show Rials in the unit the owner chose (Toman or Rial)."""
        chosen: MoneyUnit = "rial" if terminal.config.money_unit == "rial" else "toman"
        return format_money(rials, unit or chosen)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "money": money,
            "num": group_thousands,
            "today": jalali_date(now_tehran()),
            "store_name": terminal.store_name,
        }

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Response | tuple[str, int] | str:
        error = ""
        if request.method == "POST":
            check_csrf()
            client = request.remote_addr or "?"
            if limiter.blocked(client):
                return render_template(
                    "login.html", error="تلاش‌های ناموفق زیاد بود؛ کمی بعد دوباره امتحان کنید."
                ), 429
            stored = _owner_hash(terminal)
            if stored and verify_password(request.form.get("password", ""), stored):
                limiter.succeeded(client)
                session.clear()
                session["owner"] = True
                return redirect(url_for("dashboard"))
            limiter.failed(client)
            error = "گذرواژه درست نیست." if stored else "گذرواژه مالک هنوز تعیین نشده است."
        return render_template("login.html", error=error)

    @app.post("/logout")
    def logout() -> Response:
        check_csrf()
        session.clear()
        return redirect(url_for("login"))

    @app.get("/")
    @_login_required
    def dashboard() -> str:
        recent = terminal.conn.execute(
            "SELECT receipt_no, amount_rial, points_earned, points_redeemed, created_at"
            " FROM sales ORDER BY receipt_no DESC LIMIT 20"
        ).fetchall()
        sales = [
            {**dict(row), "when": jalali_datetime(dt.datetime.fromisoformat(row["created_at"]))}
            for row in recent
        ]
        return render_template("dashboard.html", summary=today_summary(terminal), sales=sales)

    cashier.init_app(app, terminal, scans)
    pos_api.init_app(app, terminal)
    receipts.init_app(app)
    owner.init_app(app)
    owner_admin.init_app(app)
    return app

"""HQ's web pages: login and the overview; the other analytics pages are in ``dashboard_pages``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from cloud.access import current_scope
from cloud.balances import overdraft_totals
from cloud.context import ctx
from cloud.storage import utcnow
from cloud.tables import users
from common.persian import format_money, group_thousands, jalali_datetime
from common.webauth import check_csrf, csrf_token, hash_password, verify_password

bp = Blueprint("hq", __name__, url_prefix="/hq")
ROLES = ("admin", "marketer", "store_owner")
F = TypeVar("F", bound=Callable[..., Any])


def create_user(conn: sa.Connection, username: str, password: str, role: str) -> None:
    """Create an HQ user with a hashed password."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    if not username.strip() or len(username) > 80 or not username.isprintable():
        raise ValueError("username must be 1–80 printable characters")
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        # Without this the unique index answers with an IntegrityError traceback.
        raise ValueError(f"user {username} already exists")
    conn.execute(
        sa.insert(users).values(
            username=username, password_hash=hash_password(password), role=role, created_at=utcnow()
        )
    )


def login_required(view: F) -> F:
    """Send anonymous visitors to the login page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if "user" not in session:
            return redirect(url_for("hq.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "money": format_money,
        "num": group_thousands,
        "jdt": lambda m: jalali_datetime(m if m.tzinfo else m.replace(tzinfo=dt.UTC)) if m else "—",
    }


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Show the login form and sign a user in."""
    error = ""
    if request.method == "POST":
        check_csrf()
        client = request.remote_addr or "?"
        limiter = ctx().login_limiter
        if limiter.blocked(client):
            return render_template(
                "login.html", error="تلاش‌های ناموفق زیاد بود؛ چند دقیقه بعد دوباره امتحان کنید."
            ), 429  # type: ignore[return-value]
        with ctx().engine.connect() as conn:
            user = conn.execute(
                sa.select(users).where(users.c.username == request.form.get("username", ""))
            ).first()
        if user and verify_password(request.form.get("password", ""), user.password_hash):
            limiter.succeeded(client)
            session.clear()
            session["user"], session["role"] = user.username, user.role
            return redirect(url_for("hq.overview"))
        limiter.failed(client)
        error = "نام کاربری یا گذرواژه درست نیست."
    return render_template("login.html", error=error)


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    check_csrf()
    session.clear()
    return redirect(url_for("hq.login"))


@bp.get("/")
@login_required
def overview() -> str:
    """Show the scope's headline figures, KPI charts over Jalali months, stores and fleet."""
    from cloud import dashboard
    from cloud.dashboard_pages import overview_blocks, page_scope, visible_stores

    scope = page_scope()
    with ctx().engine.connect() as conn:
        owed = overdraft_totals(conn) if scope.whole_chain else None
        return render_template(
            "overview.html",
            totals=dashboard.overview_cards(conn, scope),
            overdraft=owed,
            blocks=overview_blocks(conn, scope),
            fleet=dashboard.scoped_fleet(conn, scope),
            stores=visible_stores(conn, current_scope()),
            chosen=request.args.get("store", ""),
            scope=scope,
            run_day=dashboard.latest_run(conn),
        )

"""HQ's import page (``/hq/imports``): upload channel orders or an existing club's member
list (CSV or .xlsx) and see what became of each row. Admins and marketers; CSRF as on every
HQ form. The rules are the CLI's and the API's (``cloud/imports/``, docs/imports.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template, request, session

from cloud.context import ctx
from cloud.errors import BadRequest
from cloud.hq_ops import allowed
from cloud.imports import CHANNELS, Report, import_members, import_orders, orders, read_rows
from cloud.imports import members as people
from cloud.imports.orders import CHANNELS_FA
from cloud.imports.rows import MAX_PROBLEMS_SHOWN
from cloud.imports.values import BadValue
from cloud.tables import stores
from common.webauth import check_csrf

bp = Blueprint("imports", __name__, url_prefix="/hq")
KINDS_FA = {"orders": "سفارش‌های کانال‌های دیگر", "members": "فهرست اعضای باشگاه قبلی"}


@bp.get("/imports")
@allowed("admin", "marketer")
def import_page() -> str:
    """Show the upload form."""
    return _page()


@bp.post("/imports")
@allowed("admin", "marketer")
def upload() -> tuple[str, int]:
    """Import the uploaded file; show the per-row report (or why the file was refused)."""
    check_csrf()
    form = request.form
    kind, channel, store = form.get("kind", ""), form.get("channel", ""), form.get("store", "")
    upload = request.files.get("file")
    try:
        if kind not in KINDS_FA:
            raise BadRequest(f"unknown import kind {kind[:20]!r}", fa="نوع ورود را انتخاب کنید")
        if upload is None or not upload.filename:
            raise BadRequest("no file", fa="فایل را انتخاب کنید")
        report = _import(kind, channel, store, upload.stream, upload.filename)
    except (BadRequest, BadValue) as exc:
        return _page(error=exc.fa, chosen=form), 400
    return _page(report=report, chosen=form), 200


def _import(kind: str, channel: str, store: str, stream: Any, filename: str) -> Report:
    by = f"hq:{session['user']}"
    if kind == "orders":
        if channel not in CHANNELS:
            raise BadRequest(f"unknown channel {channel[:20]!r}", fa="کانال را انتخاب کنید")
        rows = read_rows(stream, filename, orders.COLUMNS, orders.REQUIRED)
        return import_orders(ctx().engine, ctx().vault, rows, channel, by, store or None)
    if not store:
        raise BadRequest("no home store", fa="فروشگاه اعضا را انتخاب کنید")
    rows = read_rows(stream, filename, people.COLUMNS, people.REQUIRED)
    return import_members(ctx().engine, ctx().vault, rows, store, by)


def _page(
    report: Report | None = None, error: str = "", chosen: Mapping[str, str] | None = None
) -> str:
    with ctx().engine.connect() as conn:
        choices = list(conn.execute(sa.select(stores.c.id, stores.c.name).order_by(stores.c.name)))
    return render_template(
        "imports.html",
        report=report,
        error=error,
        chosen=chosen or {},
        stores=choices,
        channels=CHANNELS_FA,
        kinds=KINDS_FA,
        shown=MAX_PROBLEMS_SHOWN,
    )

"""The owner's receipts: the list, a preview decoded from the printed bytes, and reprint."""

from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from agent.drivers.escpos_decoder import receipt_image
from agent.drivers.escpos_printer import compose_receipt
from agent.errors import PrinterError
from agent.terminal import Terminal
from common.persian import jalali_datetime
from common.webauth import check_csrf

log = logging.getLogger(__name__)
bp = Blueprint("receipts", __name__, url_prefix="/receipts")


@bp.before_request
def _owner_only() -> Response | None:
    if not session.get("owner"):
        return redirect(url_for("login"))
    return None


def _terminal() -> Terminal:
    terminal: Terminal = current_app.extensions["vafa_terminal"]
    return terminal


def _escpos(job_id: str) -> bytes:
    row = (
        _terminal()
        .conn.execute("SELECT escpos FROM receipts WHERE job_id = ?", (job_id,))
        .fetchone()
    )
    if row is None:
        abort(404)
    return bytes(row[0])


@bp.get("/")
def index() -> str:
    """List the latest receipts, newest first."""
    conn = _terminal().conn
    rows = conn.execute(
        "SELECT r.job_id, r.printed_at, s.receipt_no, s.amount_rial, s.created_at,"
        " s.refunded_at FROM receipts r JOIN sales s ON s.id = r.sale_id"
        " ORDER BY s.receipt_no DESC LIMIT 50"
    ).fetchall()
    receipts: list[dict[str, Any]] = [
        {**dict(row), "when": jalali_datetime(dt.datetime.fromisoformat(row["created_at"]))}
        for row in rows
    ]
    return render_template("receipts.html", receipts=receipts)


@bp.get("/<job_id>")
def show(job_id: str) -> str:
    """Show one receipt as it was printed."""
    _escpos(job_id)
    return render_template("receipt.html", job_id=job_id)


@bp.get("/<job_id>.png")
def image(job_id: str) -> Response:
    """Return the receipt decoded from its printed bytes, as a PNG."""
    picture = receipt_image(_escpos(job_id))
    if picture is None:
        abort(404)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return Response(out.getvalue(), mimetype="image/png")


@bp.post("/<job_id>/reprint")
def reprint(job_id: str) -> Response | tuple[str, int]:
    """Print a receipt again, without opening the drawer."""
    check_csrf()
    picture = receipt_image(_escpos(job_id))
    if picture is None:
        abort(404)
    terminal = _terminal()
    try:
        with current_app.extensions["vafa_flow_lock"]:
            terminal.printer.send(compose_receipt(picture, terminal.printer_profile, False))
    except PrinterError as exc:
        log.warning("reprint of %s failed: %s", job_id, exc)
        return render_template("receipt.html", job_id=job_id, error=exc.fa), 503
    return redirect(url_for("receipts.show", job_id=job_id, reprinted=1))


def init_app(app: Flask) -> None:
    """Attach the receipts pages to the local web app."""
    app.register_blueprint(bp)

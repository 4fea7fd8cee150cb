"""The local JSON API for the store's POS software: member lookup, sale with items, refund.

Authenticated with a bearer token kept in ``<data_dir>/pos-api.token`` (mode 0600, made on
first run). Bad input is a 400 with ``error`` (English) and ``error_fa`` (Persian); every
write is one flow call, so nothing is stored half-way. See docs/pos-api.md.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.wrappers import Response

from agent.errors import PrinterError
from agent.flow import SaleResult
from agent.members import suggestions
from agent.terminal import Terminal
from common.errors import VafaError

log = logging.getLogger(__name__)
TOKEN_FILE = "pos-api.token"
MAX_BODY = 64 * 1024
bp = Blueprint("pos_api", __name__, url_prefix="/pos/v1")


def load_or_create_token(data_dir: Path) -> str:
    """Return the POS API token, creating it (mode 0600) on first use."""
    path = data_dir / TOKEN_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _fail(status: int, error: str, error_fa: str) -> tuple[Response, int]:
    return jsonify(error=error, error_fa=error_fa), status


def _terminal() -> Terminal:
    terminal: Terminal = current_app.extensions["vafa_terminal"]
    return terminal


@bp.before_request
def _authenticate() -> tuple[Response, int] | None:
    expected: str = current_app.extensions["vafa_pos_token"]
    header = request.headers.get("Authorization", "")
    sent = header[7:] if header.startswith("Bearer ") else ""
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return _fail(401, "missing or wrong bearer token", "توکن دسترسی درست نیست")
    if (request.content_length or 0) > MAX_BODY:
        return _fail(413, "body too large", "درخواست بیش از اندازه بزرگ است")
    return None


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise VafaError("body must be a JSON object", fa="بدنه درخواست باید یک شیء JSON باشد")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise VafaError(f"{key} must be a non-empty string", fa=f"فیلد {key} لازم است")
    return value


def _int(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise VafaError(f"{key} must be an integer", fa=f"فیلد {key} باید عدد صحیح باشد")
    return value


def _member_json(terminal: Terminal, code: str) -> dict[str, Any]:
    member = terminal.flow.identify(code)
    return {
        "member_id": member.id,
        "card_code": member.card_code,
        "name": member.name,
        "tier": member.tier,
        "points": terminal.flow.balance(member.id),
        "credit_rial": terminal.flow.credit(member.id),
        "redeem_cap": terminal.flow.redeem_room(member.id),
        "point_value_rial": terminal.flow.rules.point_value_rial,
        "suggestions": suggestions(terminal.conn, member.id),
    }


def _sale_json(sale: SaleResult, printed: bool) -> dict[str, Any]:
    return {
        "sale_id": sale.sale_id,
        "receipt_no": sale.receipt_no,
        "member_id": sale.member.id,
        "amount_rial": sale.amount_rial,
        "points_earned": sale.points_earned,
        "points_redeemed": sale.points_redeemed,
        "points": sale.balance,
        "printed": printed,
    }


@bp.errorhandler(VafaError)
def _refused(exc: VafaError) -> tuple[Response, int]:
    log.info("POS API refused %s %s: %s", request.method, request.path, exc)
    return _fail(400, str(exc), exc.fa)


@bp.post("/members/lookup")
def lookup() -> Response:
    """Find a member by card code or mobile (in the body, so mobiles stay out of URLs)."""
    code = _text(_body(), "code")
    with current_app.extensions["vafa_flow_lock"]:
        return jsonify(_member_json(_terminal(), code))


@bp.post("/sales")
def sale() -> tuple[Response, int]:
    """Record a sale with its item lines, award and redeem; print unless told not to."""
    data = _body()
    code = _text(data, "member")
    amount = _int(data, "amount_rial")
    redeem = _int(data, "redeem_points", 0)
    credit = _int(data, "redeem_credit_rial", 0)
    items = data.get("items")
    if items is not None and not isinstance(items, list):
        raise VafaError("items must be a list", fa="فهرست اقلام درست نیست")
    terminal = _terminal()
    with current_app.extensions["vafa_flow_lock"]:
        member = terminal.flow.identify(code)
        result = terminal.flow.sale(
            member.id, amount, redeem_points=redeem, items=items, redeem_credit_rial=credit
        )
        printed = False
        if data.get("print", True) is not False:
            try:
                terminal.print_receipt(result, kick_drawer=bool(data.get("open_drawer", True)))
                printed = True
            except PrinterError as exc:
                log.warning("receipt not printed for sale %s: %s", result.sale_id, exc)
    pos_sales = current_app.extensions.get("vafa_pos_sales")
    if pos_sales is not None:  # the till shows it (cashier.py's poll)
        pos_sales.push(result.sale_id)
    return jsonify(_sale_json(result, printed)), 201


@bp.post("/refunds")
def refund() -> tuple[Response, int]:
    """Refund a whole sale by its id."""
    sale_id = _text(_body(), "sale_id")
    with current_app.extensions["vafa_flow_lock"]:
        result = _terminal().flow.refund(sale_id)
    return jsonify(sale_id=result.sale_id, points=result.balance), 201


def init_app(app: Flask, terminal: Terminal) -> None:
    """Attach the POS API, with this terminal's token, to the local web app."""
    app.extensions["vafa_terminal"] = terminal
    app.extensions.setdefault("vafa_flow_lock", threading.Lock())
    app.extensions["vafa_pos_token"] = load_or_create_token(terminal.config.data_dir)
    app.register_blueprint(bp)

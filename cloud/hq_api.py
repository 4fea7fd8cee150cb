"""HQ's JSON API: stores, enrolment codes, terminals, grants, coupons and channel orders.

Callers send ``Authorization: Bearer <token>``; a token belongs to an HQ user and acts
with that user's role. The fleet (stores, codes, revocation) is the admin's; grants,
coupons and orders from other channels are the admin's and the marketer's.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request

from cloud.context import ctx
from cloud.coupons import create_coupon
from cloud.errors import BadRequest, Forbidden, NotFound, Unauthorized
from cloud.fleet import create_enrolment_code, create_store, readable, revoke_terminal
from cloud.grants import create_grant
from cloud.imports import CHANNELS, import_orders
from cloud.imports.rows import Row
from cloud.imports.values import BadValue
from cloud.reports import fleet
from cloud.storage import utcnow
from cloud.tables import api_tokens, stores, users

bp = Blueprint("hq_api", __name__, url_prefix="/api/v1/hq")
F = TypeVar("F", bound=Callable[..., Any])
TOKEN_PREFIX = "vafa_"


def create_token(conn: sa.Connection, username: str) -> str:
    """Make an API token for an HQ user; return it (only its hash is kept)."""
    user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is None:
        raise ValueError(f"no HQ user {username}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(api_tokens).values(token_hash=_hash(token), user_id=user_id, created_at=utcnow())
    )
    return token


def _hash(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, and no salt is needed.
    return hashlib.sha256(token.encode()).hexdigest()


def requires(*roles: str) -> Callable[[F], F]:
    """Let through only a valid bearer token whose user has one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").strip()
            if not header.startswith("Bearer ") or not token.startswith(TOKEN_PREFIX):
                raise Unauthorized("a bearer token is required", fa="ورود لازم است")
            with ctx().engine.begin() as conn:
                row = conn.execute(
                    sa.select(users.c.username, users.c.role)
                    .join(api_tokens, api_tokens.c.user_id == users.c.id)
                    .where(
                        api_tokens.c.token_hash == _hash(token), api_tokens.c.revoked_at.is_(None)
                    )
                ).first()
                if row is None:
                    raise Unauthorized("unknown or revoked token", fa="ورود لازم است")
                conn.execute(
                    sa.update(api_tokens)
                    .where(api_tokens.c.token_hash == _hash(token))
                    .values(last_used_at=utcnow())
                )
            if row.role not in roles:
                raise Forbidden(f"role {row.role} may not do this", fa="دسترسی ندارید")
            g.hq_user = row.username
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", field="body")
    return body


def _text(body: dict[str, Any], name: str, default: str | None = None, limit: int = 200) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or len(value) > limit or not readable(value):
        raise BadRequest(
            f"{name} must be text of at most {limit} characters, no control ones", field=name
        )
    return value


def _integer(body: dict[str, Any], name: str, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, float) and value.is_integer():  # JSON's 5.0 is the integer 5
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**62) < value < 2**62:
        raise BadRequest(f"{name} must be an integer", field=name)
    return value


@bp.post("/stores")
@requires("admin")
def new_store() -> tuple[Response, int]:
    """Create a store and its first terminal enrolment code."""
    name = _text(_body(), "name").strip()
    if not name:
        raise BadRequest("name must not be empty", field="name")
    with ctx().engine.begin() as conn:
        store_id = create_store(conn, name)
        code = create_enrolment_code(conn, store_id)
    return jsonify(store_id=store_id, name=name, code=code), 201


@bp.post("/stores/<store_id>/codes")
@requires("admin")
def new_code(store_id: str) -> tuple[Response, int]:
    """Issue another one-time enrolment code for a store."""
    with ctx().engine.begin() as conn:
        if conn.execute(sa.select(stores.c.id).where(stores.c.id == store_id)).first() is None:
            raise NotFound(f"no store {store_id}", fa="این فروشگاه پیدا نشد")
        code = create_enrolment_code(conn, store_id)
    return jsonify(store_id=store_id, code=code), 201


@bp.get("/terminals")
@requires("admin")
def terminals() -> Response:
    """List every terminal with its store, last contact and sequence watermark."""
    with ctx().engine.connect() as conn:
        rows = fleet(conn)
    for row in rows:
        for key, value in row.items():
            if hasattr(value, "isoformat"):
                row[key] = value.isoformat()
    return jsonify(terminals=rows)


@bp.post("/terminals/<terminal_id>/revoke")
@requires("admin")
def revoke(terminal_id: str) -> Response:
    """Revoke a terminal: its signed requests are refused from now on."""
    with ctx().engine.begin() as conn:
        revoke_terminal(conn, terminal_id)
    return jsonify(revoked=terminal_id)


@bp.post("/grants")
@requires("admin", "marketer")
def new_grant() -> tuple[Response, int]:
    """Give a member points or credit, booked by their home store's terminal."""
    body = _body()
    with ctx().engine.begin() as conn:
        grant_id = create_grant(
            conn,
            _text(body, "member_id", limit=32),
            _text(body, "kind", limit=10),
            _integer(body, "amount"),
            _text(body, "reason", limit=40),
            f"api:{g.hq_user}",
            note=_text(body, "note", default=""),
        )
    return jsonify(grant_id=grant_id), 201


@bp.post("/coupons")
@requires("admin", "marketer")
def new_coupon() -> tuple[Response, int]:
    """Issue a member a coupon: a Rial discount with an expiry."""
    body = _body()
    with ctx().engine.begin() as conn:
        code = create_coupon(
            conn,
            _text(body, "member_id", limit=32),
            _integer(body, "value_rial"),
            _integer(body, "valid_days", default=30),
            _text(body, "reason", limit=40),
            f"api:{g.hq_user}",
            min_purchase_rial=_integer(body, "min_purchase_rial", default=0),
        )
    return jsonify(code=code), 201


MAX_ORDERS = 1_000


@bp.post("/orders")
@requires("admin", "marketer")
def channel_orders() -> Response:
    """Store a batch of orders from the website, Instagram or WhatsApp, each once."""
    body = _body()
    channel = body.get("channel")
    if channel not in CHANNELS:
        raise BadRequest(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    orders = body.get("orders")
    if not isinstance(orders, list) or not 0 < len(orders) <= MAX_ORDERS:
        raise BadRequest(f"orders must be a list of 1..{MAX_ORDERS} objects", field="orders")
    store = body.get("store")
    if store is not None and not isinstance(store, str):
        raise BadRequest("store must be a store's id or name", field="store")
    rows = [Row(n, _order_cells(item, n)) for n, item in enumerate(orders)]
    try:
        report = import_orders(
            ctx().engine, ctx().vault, rows, channel, f"api:{g.hq_user}", store, source="api"
        )
    except BadValue as exc:  # the batch's store
        raise NotFound(str(exc), fa=exc.fa, field="store") from exc
    return jsonify(channel=channel, **report.as_dict(limit=None, position="index"))


ORDER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "order_id": str,
    "mobile": str,
    "ordered_at": str,
    "total_rial": (int, float),
    "store": str,
    "lines": list,
}


def _order_cells(item: Any, n: int) -> dict[str, Any]:
    """Check an order's shape (a wrong JSON type refuses the whole batch, naming the field:
    it is the caller's bug) and return its fields as import cells; what the values say is
    checked per order and reported. A total sent as ``total_toman`` is refused as Toman."""
    where = f"orders[{n}]"
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object", field=where)
    for name, kind in ORDER_FIELDS.items():
        value = item.get(name)
        if name in item and (isinstance(value, bool) or not isinstance(value, kind)):
            raise BadRequest(f"{where}.{name} has the wrong type", field=f"{where}.{name}")
    total = item.get("total_rial")
    if isinstance(total, float) and not total.is_integer():
        raise BadRequest(
            f"{where}.total_rial must be whole Rials",
            fa="مبلغ باید ریال و بدون اعشار باشد",
            field=f"{where}.total_rial",
        )
    for i, line in enumerate(item.get("lines") or []):
        if not isinstance(line, dict) or not _line_shape(line):
            raise BadRequest(
                f"{where}.lines[{i}] must be {{category: text, amount_rial: integer}}",
                field=f"{where}.lines[{i}]",
            )
    if "total_toman" in item and total is None:
        return {**item, "total_rial": f"{item['total_toman']} toman"}
    return dict(item)


def _line_shape(line: dict[str, Any]) -> bool:
    amount = line.get("amount_rial")
    whole = isinstance(amount, int) or (isinstance(amount, float) and amount.is_integer())
    return isinstance(line.get("category"), str) and whole and not isinstance(amount, bool)

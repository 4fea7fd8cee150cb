"""Orders from other channels (website, Instagram, WhatsApp): checked, then stored once.

An order becomes a row of ``sales`` (channel set, no terminal event, no points) with its
lines in ``sale_lines``, so order patterns, RFM, CLV, channel mix, KPIs and preferences
count it exactly as they count a till's sale; ``channel_orders`` keeps the channel's own
order id. The same (channel, order id) is stored once however often it is imported; sent
again with a different member, date, total, lines or store it is reported, never
overwritten. Points are not touched: the points ledger is the terminals' (BRIEF §6).

A mobile that is not a member is refused, not enrolled: a club member joins with a name
and a consent the channel's order does not carry (import the club's list first).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.analytics.keptspend import include
from cloud.imports.rows import Report, Row, chunks, write_chunk
from cloud.imports.values import BadValue, cell_text, moment, rials, short_text
from cloud.imports.values import mobile as parse_mobile
from cloud.storage import utcnow
from cloud.tables import channel_orders, members, sale_lines, sales, stores
from common.persian import group_thousands, normalize_text
from common.pii import PiiVault
from common.protocol import new_id

CHANNELS = ("website", "instagram", "whatsapp")
CHANNELS_FA = {"website": "وب‌سایت", "instagram": "اینستاگرام", "whatsapp": "واتس‌اپ"}
MAX_LINES = 200
COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("شماره سفارش", "کد سفارش", "سفارش", "order id", "order", "id"),
    "mobile": ("موبایل", "شماره موبایل", "تلفن همراه", "mobile", "phone"),
    "ordered_at": ("تاریخ", "تاریخ سفارش", "زمان", "date", "ordered at", "time"),
    "total_rial": ("مبلغ", "مبلغ ریال", "جمع", "total", "total rial", "amount", "amount rial"),
    "lines": ("اقلام", "lines", "items"),
    "store": ("فروشگاه", "شعبه", "store"),
}
REQUIRED = {"order_id", "mobile", "ordered_at", "total_rial"}


@dataclass(frozen=True)
class Order:
    """One checked order, not yet matched to a member."""

    line: int
    order_id: str
    mobile: str  # E.164
    ordered_at: dt.datetime  # UTC
    total_rial: int
    lines: tuple[tuple[str, int], ...]
    store_id: str | None


def parse_lines(value: Any) -> tuple[tuple[str, int], ...]:
    """Read ``category:amount; category:amount`` (or a JSON list of {category, amount_rial})."""
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        items = [_json_line(item) for item in value]
    else:
        parts = [p for p in cell_text(value).replace("؛", ";").split(";") if p.strip()]
        items = [_text_line(part) for part in parts]
    if len(items) > MAX_LINES:
        raise _bad_lines(f"more than {MAX_LINES} lines")
    return tuple(items)


def _text_line(part: str) -> tuple[str, int]:
    category, sep, amount = part.replace("=", ":").rpartition(":")
    if not sep:
        raise _bad_lines("a line must be category:amount")
    return _line(category, amount)


def _json_line(item: Any) -> tuple[str, int]:
    if not isinstance(item, dict) or isinstance(item.get("amount_rial"), str):
        raise _bad_lines("a line must be an object with category and integer amount_rial")
    return _line(item.get("category"), item.get("amount_rial"))


def _line(category: Any, amount: Any) -> tuple[str, int]:
    try:
        return short_text(category, 64, "bad_lines", "دسته کالا"), rials(amount, least=1)
    except BadValue as exc:
        raise _bad_lines(str(exc)) from exc


def _bad_lines(why: str) -> BadValue:
    return BadValue(
        "bad_lines",
        f"lines: {why}",
        "اقلام را به شکل «دسته:مبلغ به ریال» و جدا با ; بنویسید",
    )


def parse_order(
    line: int, cells: Mapping[str, Any], store_ids: Mapping[str, str], now: dt.datetime
) -> Order:
    """Check one order's cells (file row or API item); raise BadValue on the first fault."""
    order_id = short_text(cells.get("order_id"), 64, "bad_order_id", "شماره سفارش")
    found = Order(
        line,
        order_id,
        parse_mobile(cells.get("mobile")),
        moment(cells.get("ordered_at"), now),
        rials(cells.get("total_rial")),
        parse_lines(cells.get("lines")),
        find_store(store_ids, cells.get("store")),
    )
    if sum(amount for _, amount in found.lines) > found.total_rial:
        raise _bad_lines("the lines add up to more than the total")
    return found


def store_index(conn: sa.Connection) -> dict[str, str]:
    """Map each store's id and (normalised) name to its id, for the store column."""
    index: dict[str, str] = {}
    for store_id, name in conn.execute(sa.select(stores.c.id, stores.c.name)):
        index[store_id] = store_id
        index.setdefault(normalize_text(name), store_id)
    return index


def find_store(store_ids: Mapping[str, str], value: Any) -> str | None:
    """Return the store a cell names by id or name (None when empty); refuse an unknown one."""
    text = normalize_text(cell_text(value))
    if not text:
        return None
    if text not in store_ids:
        raise BadValue("bad_store", "unknown store", "این فروشگاه پیدا نشد")
    return store_ids[text]


def import_orders(
    engine: sa.Engine,
    vault: PiiVault,
    rows: Iterable[Row],
    channel: str,
    by: str,
    store: str | None = None,
    source: str = "file",
    now: dt.datetime | None = None,
) -> Report:
    """Store the good orders of ``rows`` once each; report every other row with its reason."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    report, now = Report("orders"), now or utcnow()
    with engine.connect() as conn:
        store_ids = store_index(conn)
    default_store = find_store(store_ids, store) if store else None
    origin = (source, by)

    def write(conn: sa.Connection, orders: Sequence[Order], pending: Report) -> None:
        _write(conn, vault, orders, channel, default_store, origin, pending)

    for chunk in chunks(rows):
        parsed: list[Order] = []
        for row in chunk:
            report.read += 1
            try:
                parsed.append(parse_order(row.line, row.cells, store_ids, now))
            except BadValue as fault:
                report.refuse(row.line, fault, _key(row.cells))
        write_chunk(engine, parsed, write, report, lambda order: order.line)
    report.problems.sort(key=lambda p: p.line)
    return report


def _key(cells: Mapping[str, Any]) -> str:
    text = cell_text(cells.get("order_id"))
    return text if 0 < len(text) <= 64 and text.isprintable() else ""


def _write(
    conn: sa.Connection,
    vault: PiiVault,
    orders: Sequence[Order],
    channel: str,
    default_store: str | None,
    origin: tuple[str, str],
    report: Report,
) -> None:
    hashes = {vault.lookup_hash(o.mobile): o for o in orders}
    known = {
        row.mobile_hmac: (row.id, row.home_store_id)
        for row in conn.execute(
            sa.select(members.c.mobile_hmac, members.c.id, members.c.home_store_id).where(
                members.c.mobile_hmac.in_(list(hashes))
            )
        )
    }
    stored: dict[str, Any] = {
        row.order_id: row
        for row in conn.execute(
            sa.select(channel_orders).where(
                channel_orders.c.channel == channel,
                channel_orders.c.order_id.in_([o.order_id for o in orders]),
            )
        )
    }
    new: dict[str, list[dict[str, Any]]] = {"sales": [], "lines": [], "orders": []}
    for order in orders:
        member = known.get(vault.lookup_hash(order.mobile))
        if member is None:
            report.refuse(order.line, _unknown_member(), order.order_id)
            continue
        values = _stored_values(order, member[0], order.store_id or default_store or member[1])
        before = stored.get(order.order_id)
        if before is not None:
            difference = _difference(before, values)
            if difference:
                report.refuse(order.line, difference, order.order_id)
            else:
                report.already_there += 1
            continue
        _stage(new, order, channel, values, origin)
        stored[order.order_id] = _Seen(values)
        report.added += 1
    if new["sales"]:
        conn.execute(sa.insert(sales), new["sales"])
        conn.execute(sa.insert(channel_orders), new["orders"])
    if new["lines"]:
        conn.execute(sa.insert(sale_lines), new["lines"])
        # Dated when placed, so often behind what the analytics pass keeps: added there.
        include(conn, [sale["id"] for sale in new["sales"]])


@dataclass(frozen=True)
class _Seen:
    """An order staged earlier in the same chunk, compared like a stored one."""

    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return self.values[name]


def _stored_values(order: Order, member_id: str, store_id: str) -> dict[str, Any]:
    lines = json.dumps(order.lines, ensure_ascii=False, separators=(",", ":"))
    return {
        "member_id": member_id,
        "store_id": store_id,
        "amount_rial": order.total_rial,
        "ordered_at": order.ordered_at,
        "lines_digest": hashlib.sha256(lines.encode()).hexdigest(),
    }


def _difference(before: Any, values: dict[str, Any]) -> BadValue | None:
    """Name the first way a resent order differs from the stored one (None: identical)."""
    if before.amount_rial != values["amount_rial"]:
        return BadValue(
            "changed",
            f"order already stored with total {before.amount_rial} Rials, now"
            f" {values['amount_rial']}; not changed",
            f"این سفارش قبلاً با مبلغ {group_thousands(before.amount_rial)} ریال ثبت شده؛"
            " مبلغ تازه ثبت نشد",
        )
    stored_at = before.ordered_at
    stored_at = stored_at if stored_at.tzinfo else stored_at.replace(tzinfo=dt.UTC)
    fields = (
        ("member_id", before.member_id, "mobile", "موبایل"),
        ("ordered_at", stored_at, "date", "تاریخ"),
        ("store_id", before.store_id, "store", "فروشگاه"),
        ("lines_digest", before.lines_digest, "lines", "اقلام"),
    )
    for name, old, label, label_fa in fields:
        if old != values[name]:
            return BadValue(
                "changed",
                f"order already stored with a different {label}; not changed",
                f"این سفارش قبلاً با {label_fa} دیگری ثبت شده؛ تغییری داده نشد",
            )
    return None


def _unknown_member() -> BadValue:
    return BadValue(
        "unknown_member",
        "no club member has this mobile (import the member list first)",
        "این موبایل عضو باشگاه نیست؛ اول فهرست اعضا را وارد کنید",
    )


def _stage(
    new: dict[str, list[dict[str, Any]]],
    order: Order,
    channel: str,
    values: dict[str, Any],
    origin: tuple[str, str],
) -> None:
    sale_id = new_id()
    new["sales"].append(
        {
            "id": sale_id,
            "event_id": None,
            "member_id": values["member_id"],
            "store_id": values["store_id"],
            "terminal_id": None,
            "receipt_no": 0,
            "amount_rial": order.total_rial,
            "points_earned": 0,
            "points_redeemed": 0,
            "credit_redeemed_rial": 0,
            "coupon_code": None,
            "coupon_rial": 0,
            "channel": channel,
            "terminal_time": order.ordered_at.isoformat(),
            "received_at": order.ordered_at,  # when the member bought: what analytics reads
            "refunded_at": None,
        }
    )
    new["lines"].extend(
        {
            "sale_id": sale_id,
            "line_no": n,
            "member_id": values["member_id"],
            "category": category,
            "sku": "",
            "quantity": 1,
            "amount_rial": amount,
            "received_at": order.ordered_at,
        }
        for n, (category, amount) in enumerate(order.lines)
    )
    new["orders"].append(
        {
            "channel": channel,
            "order_id": order.order_id,
            "sale_id": sale_id,
            **values,
            "source": origin[0],
            "imported_by": origin[1][:80],
            "imported_at": utcnow(),
        }
    )

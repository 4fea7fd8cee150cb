"""Sale lines for analytics, taken from the sealed sale events.

Ingest keeps a sale's totals in ``sales``; the lines (SKU, category, quantity, amount)
travel only inside the event, which the cloud stores sealed with the PII key. Each
analytics run opens the sale events received since the last run's watermark and copies
their lines to ``sale_lines``. The watermark is moved back an hour before use: an ingest
batch stamps its events before it commits, so a long batch could land just behind it;
the lines of the overlap's sales are deleted first, so nothing is ever copied twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import sqlalchemy as sa

from cloud.analytics.bulk import insert_rows
from cloud.tables import events, sale_lines, sales, settings
from common.pii import PiiError, PiiVault

log = logging.getLogger(__name__)
WATERMARK = "analytics.sale_lines_through"
OVERLAP = dt.timedelta(hours=1)
BATCH = 5000


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def read_setting(conn: sa.Connection, key: str) -> str | None:
    """Return a ``settings`` value the analytics keep between runs (None if never set)."""
    value = conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar()
    return str(value) if value else None


def write_setting(conn: sa.Connection, key: str, value: str) -> None:
    """Set a ``settings`` value the analytics keep between runs."""
    conn.execute(sa.delete(settings).where(settings.c.key == key))
    now = dt.datetime.now(dt.UTC)
    conn.execute(sa.insert(settings), [{"key": key, "value": value, "updated_at": now}])


def copied_through(conn: sa.Connection) -> dt.datetime | None:
    """Return the newest sale event whose lines were copied (None before the first run)."""
    value = read_setting(conn, WATERMARK)
    return dt.datetime.fromisoformat(value) if value else None


def set_watermark(conn: sa.Connection, moment: dt.datetime) -> None:
    """Record that the lines of events received up to ``moment`` are copied."""
    write_setting(conn, WATERMARK, moment.isoformat())


def lines_of(body: dict[str, Any], received_at: dt.datetime) -> list[dict[str, Any]]:
    """Return the ``sale_lines`` rows of one sale event's wire form (none if it has no items)."""
    payload = body.get("payload", {})
    items = payload.get("items") or []
    sale_id, member_id = payload.get("sale_id"), payload.get("member_id")
    if not isinstance(sale_id, str) or not isinstance(member_id, str):
        return []
    rows = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        rows.append(
            {
                "sale_id": sale_id,
                "line_no": n,
                "member_id": member_id,
                "category": str(item.get("category") or "")[:64],
                "sku": str(item.get("sku") or "")[:64],
                "quantity": int(item.get("quantity") or 0),
                "amount_rial": int(item.get("amount_rial") or 0),
                "received_at": received_at,
            }
        )
    return rows


def copy_sale_lines(conn: sa.Connection, vault: PiiVault) -> int:
    """Copy the lines of sale events received since the watermark; return how many."""
    since = copied_through(conn)
    query = sa.select(events.c.id, events.c.body_enc, events.c.received_at).where(
        events.c.kind == "sale.completed", events.c.body_enc.is_not(None)
    )
    if since is not None:
        query = query.where(events.c.received_at > since - OVERLAP)
        _forget_overlap(conn, since)
    copied, latest = 0, since
    result = conn.execute(query.order_by(events.c.received_at))
    while chunk := result.fetchmany(BATCH):
        rows: list[dict[str, Any]] = []
        for event_id, sealed, received_at in chunk:
            moment = _aware(received_at)
            latest = moment if latest is None or moment > latest else latest
            try:
                body = json.loads(vault.decrypt(event_id, sealed))
            except (PiiError, ValueError) as exc:  # another key, a damaged body: skip it
                log.warning("sale event %s: cannot open its body: %s", event_id, exc)
                continue
            rows.extend(lines_of(body, moment))
        if rows:
            copied += insert_rows(
                conn, sale_lines, list(rows[0]), (tuple(r.values()) for r in rows)
            )
    if latest is not None:
        set_watermark(conn, latest)
    return copied


def _forget_overlap(conn: sa.Connection, since: dt.datetime) -> None:
    """Delete the lines of the events read again (the overlap before the watermark)."""
    again = sa.select(events.c.id).where(
        events.c.kind == "sale.completed",
        events.c.received_at > since - OVERLAP,
        events.c.received_at <= since,
    )
    sale_ids = sa.select(sales.c.id).where(sales.c.event_id.in_(again))
    conn.execute(sa.delete(sale_lines).where(sale_lines.c.sale_id.in_(sale_ids)))

"""Apply a terminal's batch of events exactly once each.

Each event is applied in a savepoint: a bad event is refused (naming the field) without
undoing the good ones. An id seen before is a duplicate if its content is identical,
and refused, naming the first differing field, if not. Sequence gaps are reported.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from cloud.errors import BadRequest
from cloud.storage import utcnow
from cloud.tables import events, ledger_entries, ledger_postings, members, sales, terminals
from common.errors import InvalidMobile, ProtocolError
from common.mobile import normalize_mobile
from common.pii import PiiVault
from common.protocol import MAX_BATCH_EVENTS, Event, differing_field, parse_event, parse_postings


class EventRejected(ProtocolError):
    """One event the cloud will not apply."""


def ingest_batch(
    conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], body: Any
) -> dict[str, Any]:
    """Apply every event of a batch; return per-event results and the terminal's gaps."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadRequest("body must be an object with an 'events' list", field="events")
    if len(body["events"]) > MAX_BATCH_EVENTS:
        raise BadRequest(f"at most {MAX_BATCH_EVENTS} events per batch", field="events")
    results = [_ingest_one(conn, vault, terminal, raw) for raw in body["events"]]
    gaps = _advance_sequence(conn, terminal.id)
    return {"results": results, "gaps": gaps}


def _ingest_one(
    conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], raw: Any
) -> dict[str, Any]:
    event_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        event = parse_event(raw)
        with conn.begin_nested():
            status = _apply_once(conn, vault, terminal, event)
    except ProtocolError as exc:
        return {"id": event_id, "status": "rejected", "field": exc.field, "error": str(exc)}
    return {"id": event.id, "status": status}


def _apply_once(conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], event: Event) -> str:
    stored = conn.execute(sa.select(events).where(events.c.id == event.id)).first()
    if stored is not None:
        if stored.terminal_id != terminal.id:
            raise EventRejected("event id belongs to another terminal", field="id")
        if stored.digest != event.digest():
            field = differing_field(json.loads(stored.body), event.to_dict()) or "id"
            raise EventRejected(f"event {event.id} resent with a different {field}", field=field)
        return "duplicate"
    clash = conn.execute(
        sa.select(events.c.id).where(events.c.terminal_id == terminal.id, events.c.seq == event.seq)
    ).first()
    if clash is not None:
        raise EventRejected(f"seq {event.seq} already used by event {clash.id}", field="seq")
    now = utcnow()
    conn.execute(
        sa.insert(events).values(
            id=event.id,
            terminal_id=terminal.id,
            seq=event.seq,
            kind=event.kind,
            digest=event.digest(),
            body=json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True),
            received_at=now,
        )
    )
    APPLIERS[event.kind](conn, vault, terminal, event)
    return "applied"


def _apply_enrolment(
    conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], event: Event
) -> None:
    p = event.payload
    member_id = _field(p, "member_id", str)
    try:
        mobile = normalize_mobile(_field(p, "mobile", str))
    except InvalidMobile as exc:
        raise EventRejected(str(exc), field="payload.mobile") from exc
    name = _field(p, "name", str)
    digest = vault.lookup_hash(mobile)
    if conn.execute(sa.select(members.c.id).where(members.c.mobile_hmac == digest)).first():
        raise EventRejected("mobile already belongs to another member", field="payload.mobile")
    conn.execute(
        sa.insert(members).values(
            id=member_id,
            card_code=_field(p, "card_code", str),
            mobile_hmac=digest,
            mobile_enc=vault.encrypt(member_id, mobile),
            name_enc=vault.encrypt(member_id, name),
            home_store_id=terminal.store_id,
            marketing_consent=_field(p, "marketing_consent", bool),
            enrolled_at=utcnow(),
        )
    )


def _apply_sale(conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], event: Event) -> None:
    p = event.payload
    member_id = _field(p, "member_id", str)
    if conn.execute(sa.select(members.c.id).where(members.c.id == member_id)).first() is None:
        raise EventRejected(f"unknown member {member_id}", field="payload.member_id")
    amount = _field(p, "amount_rial", int)
    if amount < 0:
        raise EventRejected("negative amount", field="payload.amount_rial")
    conn.execute(
        sa.insert(sales).values(
            id=_field(p, "sale_id", str),
            event_id=event.id,
            member_id=member_id,
            store_id=terminal.store_id,
            terminal_id=terminal.id,
            receipt_no=_field(p, "receipt_no", int),
            amount_rial=amount,
            points_earned=_field(p, "points_earned", int),
            points_redeemed=_field(p, "points_redeemed", int),
            channel=_field(p, "channel", str),
            terminal_time=event.terminal_time,
            received_at=utcnow(),
        )
    )
    for index, entry in enumerate(_field(p, "entries", list)):
        _apply_entry(conn, event.id, member_id, entry, f"payload.entries[{index}]")


def _apply_entry(
    conn: sa.Connection, event_id: str, member_id: str, entry: Any, where: str
) -> None:
    if not isinstance(entry, dict):
        raise EventRejected("entry is not an object", field=where)
    postings = parse_postings(entry.get("postings"), f"{where}.postings")
    for posting in postings:
        if posting.account.startswith("member:") and f":{member_id}:" not in posting.account:
            raise EventRejected("posting on another member's account", field=f"{where}.postings")
    entry_id = _field(entry, "id", str, where)
    if conn.execute(sa.select(ledger_entries.c.id).where(ledger_entries.c.id == entry_id)).first():
        raise EventRejected(f"ledger entry {entry_id} already recorded", field=f"{where}.id")
    conn.execute(
        sa.insert(ledger_entries).values(
            id=entry_id,
            event_id=event_id,
            kind=_field(entry, "kind", str, where),
            reverses=entry.get("reverses"),
            memo=str(entry.get("memo", ""))[:200],
        )
    )
    conn.execute(
        sa.insert(ledger_postings),
        [{"entry_id": entry_id, "account": p.account, "amount": p.amount} for p in postings],
    )


def _field(obj: dict[str, Any], name: str, kind: type, where: str = "payload") -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EventRejected(f"{where}.{name} must be {kind.__name__}", field=f"{where}.{name}")
    return value


def _advance_sequence(conn: sa.Connection, terminal_id: str) -> list[list[int]]:
    """Move the terminal's gap-free watermark forward; return the missing seq ranges."""
    row = conn.execute(
        sa.select(terminals.c.contiguous_seq).where(terminals.c.id == terminal_id)
    ).one()
    seen = (
        conn.execute(
            sa.select(events.c.seq)
            .where(events.c.terminal_id == terminal_id, events.c.seq > row.contiguous_seq)
            .order_by(events.c.seq)
        )
        .scalars()
        .all()
    )
    watermark = row.contiguous_seq
    for seq in seen:
        if seq != watermark + 1:
            break
        watermark = seq
    gaps, previous = [], watermark
    for seq in seen:
        if seq > previous + 1:
            gaps.append([previous + 1, seq - 1])
        previous = max(previous, seq)
    conn.execute(
        sa.update(terminals)
        .where(terminals.c.id == terminal_id)
        .values(
            contiguous_seq=watermark,
            highest_seq=seen[-1] if seen else watermark,
            last_seen_at=utcnow(),
        )
    )
    return gaps


def _known_member(conn: sa.Connection, payload: dict[str, Any]) -> str:
    member_id: str = _field(payload, "member_id", str)
    if conn.execute(sa.select(members.c.id).where(members.c.id == member_id)).first() is None:
        raise EventRejected(f"unknown member {member_id}", field="payload.member_id")
    return member_id


def _apply_entries(conn: sa.Connection, event: Event, member_id: str) -> None:
    for index, entry in enumerate(_field(event.payload, "entries", list)):
        _apply_entry(conn, event.id, member_id, entry, f"payload.entries[{index}]")


def _apply_refund(
    conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], event: Event
) -> None:
    member_id = _known_member(conn, event.payload)
    sale_id = _field(event.payload, "sale_id", str)
    refunded = conn.execute(
        sa.update(sales)
        .where(sales.c.id == sale_id, sales.c.member_id == member_id, sales.c.refunded_at.is_(None))
        .values(refunded_at=utcnow())
    )
    if refunded.rowcount != 1:
        raise EventRejected(f"no unrefunded sale {sale_id} of this member", field="payload.sale_id")
    _apply_entries(conn, event, member_id)


def _apply_expiry(
    conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], event: Event
) -> None:
    _apply_entries(conn, event, _known_member(conn, event.payload))


def _apply_tier(conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], event: Event) -> None:
    member_id = _known_member(conn, event.payload)
    tier = _field(event.payload, "tier", str)
    if tier not in ("normal", "silver", "gold", "vip"):
        raise EventRejected(f"unknown tier {tier!r}", field="payload.tier")
    conn.execute(sa.update(members).where(members.c.id == member_id).values(tier=tier))


APPLIERS = {
    "member.enrolled": _apply_enrolment,
    "member.tier_changed": _apply_tier,
    "sale.completed": _apply_sale,
    "sale.refunded": _apply_refund,
    "points.expired": _apply_expiry,
}

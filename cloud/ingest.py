"""Apply a terminal's batch of events exactly once each.

The batch is checked event by event against what the database already holds (looked up
once per batch, not once per event) and against the events before it in the same batch;
the good events' rows are then written together. A bad event is refused, naming the
field, without holding back the good ones. An id seen before is a duplicate if its
content is identical, and refused, naming the first differing field, if not. Sequence
gaps are reported.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cloud.balances import add_points, book_overdrafts, points_moved
from cloud.coupons import record_uses
from cloud.errors import BadRequest
from cloud.mobile_codes import claim_checks
from cloud.referrals import link_referrer, reward_first_purchases
from cloud.storage import utcnow
from cloud.tables import (
    coupons,
    events,
    grants,
    ledger_entries,
    ledger_postings,
    members,
    sales,
    terminals,
)
from cloud.versions import bump_members
from common.demographics import Demographics, InvalidDemographic
from common.demographics import check as check_demographics
from common.errors import InvalidMobile, ProtocolError
from common.mobile import normalize_mobile
from common.persian import birthday_lookup, parse_birthday
from common.pii import PiiVault
from common.protocol import (
    MAX_BATCH_EVENTS,
    Event,
    Posting,
    canonical_json,
    differing_field,
    parse_event,
    parse_postings,
)
from common.referral import referral_code

TIERS = ("normal", "silver", "gold", "vip")
INSERT_ORDER = (events, members, sales, ledger_entries, ledger_postings)
# The widths of the text columns these payload fields land in: PostgreSQL refuses a longer
# value (failing the whole batch with a 500), SQLite would store it silently.
TEXT_LIMITS = {
    "id": 32,
    "member_id": 32,
    "sale_id": 32,
    "card_code": 32,
    "reverses": 32,
    "kind": 20,
    "channel": 20,
}


class EventRejected(ProtocolError):
    """One event the cloud will not apply."""


@dataclass
class _Batch:
    """What the database holds that this batch touches, plus what the batch adds."""

    terminal: sa.Row[Any]
    vault: PiiVault
    stored: dict[str, tuple[str, str, bytes | None]]  # id -> (terminal, digest, sealed body)
    seqs: dict[int, str]  # seq -> event id, for this terminal
    members: set[str]
    mobiles: set[bytes]
    cards: set[str]
    entries: set[str]
    sales: dict[str, tuple[str, bool]]  # sale id -> (member id, refunded)
    rows: dict[sa.Table, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    refunds: list[str] = field(default_factory=list)
    tiers: dict[str, str] = field(default_factory=dict)
    received_at: Any = field(default_factory=utcnow)  # the cloud's clock, once per batch
    grants: dict[str, sa.Row[Any]] = field(default_factory=dict)  # grants this batch names
    coupons: dict[str, sa.Row[Any]] = field(default_factory=dict)  # coupons this batch names
    coupon_uses: list[tuple[str, str]] = field(default_factory=list)  # (code, sale id)
    referrals: list[tuple[str, Any]] = field(default_factory=list)  # (new member, code)
    applied_grants: dict[str, str] = field(default_factory=dict)  # grant id -> event id
    handed_over: dict[str, str] = field(default_factory=dict)  # gift's grant id -> event id
    touched: set[str] = field(default_factory=set)  # members whose snapshot changed
    mobile_checks: list[tuple[str, str, bytes]] = field(default_factory=list)  # mobile_codes


@dataclass
class _Staged:
    """The rows and changes one event would add, kept apart until it is accepted."""

    rows: list[tuple[sa.Table, dict[str, Any]]] = field(default_factory=list)
    refund: str | None = None
    tier: tuple[str, str] | None = None
    grant: str | None = None
    handed_over: str | None = None  # a gift's grant id
    coupon: tuple[str, str] | None = None  # (code, sale id)
    referral: tuple[str, Any] | None = None  # (new member, the code they gave)
    mobile_check: tuple[str, str, bytes] | None = None  # (new member, code id, mobile HMAC)
    duplicate: bool = False  # accepted, changes nothing (a gift another till handed over)


def ingest_batch(
    conn: sa.Connection,
    vault: PiiVault,
    terminal: sa.Row[Any],
    body: Any,
    triggered: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Apply every event of a batch; return per-event results and the terminal's gaps.

    ``triggered`` receives (``purchase`` | ``enrolment``, member id) for each event applied
    (not for duplicates): the caller runs those scenarios once this transaction commits.
    """
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadRequest("body must be an object with an 'events' list", field="events")
    raw_events = body["events"]
    if len(raw_events) > MAX_BATCH_EVENTS:
        raise BadRequest(f"at most {MAX_BATCH_EVENTS} events per batch", field="events")
    batch = _load(conn, vault, terminal, raw_events)
    results = [_ingest_one(batch, raw) for raw in raw_events]
    _write(conn, batch)
    if triggered is not None:
        triggered.extend(("enrolment", row["id"]) for row in batch.rows[members])
        triggered.extend(("purchase", row["member_id"]) for row in batch.rows[sales])
    return {"results": results, "gaps": _advance_sequence(conn, terminal.id)}


def _load(
    conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], raw_events: list[Any]
) -> _Batch:
    objects = [raw for raw in raw_events if isinstance(raw, dict)]
    ids = [raw["id"] for raw in objects if isinstance(raw.get("id"), str)]
    seqs = [raw["seq"] for raw in objects if _is_bigint(raw.get("seq"))]
    payloads = [raw["payload"] for raw in objects if isinstance(raw.get("payload"), dict)]
    member_ids = [p["member_id"] for p in payloads if isinstance(p.get("member_id"), str)]
    sale_ids = [p["sale_id"] for p in payloads if isinstance(p.get("sale_id"), str)]
    entry_ids = [
        entry["id"]
        for p in payloads
        if isinstance(p.get("entries"), list)
        for entry in p["entries"]
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]
    grant_ids = [p["grant_id"] for p in payloads if isinstance(p.get("grant_id"), str)]
    coupon_codes = [
        p["coupon"]["code"]
        for p in payloads
        if isinstance(p.get("coupon"), dict) and isinstance(p["coupon"].get("code"), str)
    ]
    mobiles = [_mobile_hash(vault, p.get("mobile")) for p in payloads]
    cards = [p["card_code"] for p in payloads if isinstance(p.get("card_code"), str)]
    return _Batch(
        coupons={
            row.code: row
            for row in conn.execute(sa.select(coupons).where(coupons.c.code.in_(coupon_codes)))
        },
        grants={
            row.id: row
            for row in conn.execute(
                sa.select(grants, terminals.c.store_id)
                .select_from(grants.outerjoin(terminals, terminals.c.id == grants.c.terminal_id))
                .where(grants.c.id.in_(grant_ids))
            )
        },
        terminal=terminal,
        vault=vault,
        stored={
            row.id: (row.terminal_id, row.digest, row.body_enc)
            for row in conn.execute(
                sa.select(
                    events.c.id, events.c.terminal_id, events.c.digest, events.c.body_enc
                ).where(events.c.id.in_(ids))
            )
        },
        seqs=dict(
            conn.execute(
                sa.select(events.c.seq, events.c.id).where(
                    events.c.terminal_id == terminal.id, events.c.seq.in_(seqs)
                )
            ).all()
        ),
        members=set(
            conn.execute(sa.select(members.c.id).where(members.c.id.in_(member_ids))).scalars()
        ),
        mobiles=set(
            conn.execute(
                sa.select(members.c.mobile_hmac).where(
                    members.c.mobile_hmac.in_([m for m in mobiles if m])
                )
            ).scalars()
        ),
        cards=set(
            conn.execute(
                sa.select(members.c.card_code).where(members.c.card_code.in_(cards))
            ).scalars()
        ),
        entries=set(
            conn.execute(
                sa.select(ledger_entries.c.id).where(ledger_entries.c.id.in_(entry_ids))
            ).scalars()
        ),
        sales={
            row.id: (row.member_id, row.refunded_at is not None)
            for row in conn.execute(
                sa.select(sales.c.id, sales.c.member_id, sales.c.refunded_at).where(
                    sales.c.id.in_(sale_ids)
                )
            )
        },
    )


def _mobile_hash(vault: PiiVault, raw: Any) -> bytes | None:
    if not isinstance(raw, str):
        return None
    try:
        return vault.lookup_hash(normalize_mobile(raw))
    except InvalidMobile:
        return None


def _ingest_one(batch: _Batch, raw: Any) -> dict[str, Any]:
    event_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        event = parse_event(raw)
        if not _is_bigint(event.seq):
            raise EventRejected("seq must fit in 64 bits", field="seq")
        status = _check_seen(batch, event)
        if status is None:
            staged = _Staged()
            APPLIERS[event.kind](batch, event, staged)
            _accept(batch, event, staged)
            status = "duplicate" if staged.duplicate else "applied"
    except ProtocolError as exc:
        return {"id": event_id, "status": "rejected", "field": exc.field, "error": str(exc)}
    return {"id": event.id, "status": status}


def _check_seen(batch: _Batch, event: Event) -> str | None:
    stored = batch.stored.get(event.id)
    if stored is not None:
        terminal_id, digest, body = stored
        if terminal_id != batch.terminal.id:
            raise EventRejected("event id belongs to another terminal", field="id")
        if digest != event.digest():
            field_name = _first_difference(batch.vault, event, body)
            raise EventRejected(
                f"event {event.id} resent with a different {field_name}", field=field_name
            )
        return "duplicate"
    clash = batch.seqs.get(event.seq)
    if clash is not None:
        raise EventRejected(f"seq {event.seq} already used by event {clash}", field="seq")
    return None


def _first_difference(vault: PiiVault, event: Event, sealed: bytes | None) -> str:
    """Name the first field in which a resend differs from the stored event."""
    if sealed is None:  # stored before bodies were kept (migration 0003 dropped clear ones)
        return "payload"
    return differing_field(json.loads(vault.decrypt(event.id, sealed)), event.to_dict()) or "id"


def _accept(batch: _Batch, event: Event, staged: _Staged) -> None:
    wire = canonical_json(event.to_dict())  # serialised once: hashed, then sealed
    digest = hashlib.sha256(wire).hexdigest()
    body = batch.vault.encrypt(event.id, wire.decode())
    batch.rows[events].append(
        {
            "id": event.id,
            "terminal_id": batch.terminal.id,
            "seq": event.seq,
            "kind": event.kind,
            "digest": digest,
            "body_enc": body,
            "received_at": batch.received_at,
        }
    )
    batch.stored[event.id] = (batch.terminal.id, digest, body)
    batch.seqs[event.seq] = event.id
    member_id = event.payload.get("member_id")
    if isinstance(member_id, str):
        batch.touched.add(member_id)
    for table, row in staged.rows:
        batch.rows[table].append(row)
        if table is members:
            batch.members.add(row["id"])
            batch.mobiles.add(row["mobile_hmac"])
            batch.cards.add(row["card_code"])
        elif table is ledger_entries:
            batch.entries.add(row["id"])
        elif table is sales:
            batch.sales[row["id"]] = (row["member_id"], False)
    if staged.refund is not None:
        member_id, _ = batch.sales[staged.refund]
        batch.sales[staged.refund] = (member_id, True)
        batch.refunds.append(staged.refund)
    if staged.tier is not None:
        batch.tiers[staged.tier[0]] = staged.tier[1]
    if staged.grant is not None:
        batch.applied_grants[staged.grant] = event.id
    if staged.handed_over is not None:
        batch.handed_over[staged.handed_over] = event.id
    if staged.coupon is not None:
        batch.coupon_uses.append(staged.coupon)
    if staged.referral is not None:
        batch.referrals.append(staged.referral)
    if staged.mobile_check is not None:
        batch.mobile_checks.append(staged.mobile_check)


def _write(conn: sa.Connection, batch: _Batch) -> None:
    for table in INSERT_ORDER:
        if batch.rows[table]:
            conn.execute(sa.insert(table), batch.rows[table])
    if batch.refunds:
        conn.execute(
            sa.update(sales).where(sales.c.id.in_(batch.refunds)).values(refunded_at=utcnow())
        )
    claim_checks(conn, batch.terminal.id, batch.mobile_checks)
    record_uses(conn, batch.coupon_uses, batch.received_at)
    for member_id, code in batch.referrals:
        link_referrer(conn, member_id, code)
    buyers = {row["member_id"] for row in batch.rows[sales]}
    reward_first_purchases(conn, buyers)
    for grant_id, event_id in batch.applied_grants.items():
        conn.execute(
            sa.update(grants)
            .where(grants.c.id == grant_id)
            .values(event_id=event_id, applied_at=batch.received_at)
        )
    for grant_id, event_id in batch.handed_over.items():
        conn.execute(
            sa.update(grants)
            .where(grants.c.id == grant_id, grants.c.handed_over_at.is_(None))
            .values(handover_event_id=event_id, handed_over_at=batch.received_at)
        )
    for member_id, tier in batch.tiers.items():
        conn.execute(sa.update(members).where(members.c.id == member_id).values(tier=tier))
    add_points(conn, batch.terminal.id, points_moved(batch.rows[ledger_postings]))
    bump_members(conn, batch.touched)
    book_overdrafts(conn, batch.touched)


def _apply_enrolment(batch: _Batch, event: Event, staged: _Staged) -> None:
    p = event.payload
    member_id = _field(p, "member_id", str)
    try:
        mobile = normalize_mobile(_field(p, "mobile", str))
    except InvalidMobile as exc:
        raise EventRejected(str(exc), field="payload.mobile") from exc
    name = _field(p, "name", str)
    birthday = p.get("birthday")
    if birthday is not None:
        try:
            parse_birthday(_field(p, "birthday", str))
        except ValueError as exc:
            raise EventRejected(str(exc), field="payload.birthday") from exc
    about = _demographics(p)
    digest = batch.vault.lookup_hash(mobile)
    if digest in batch.mobiles:
        raise EventRejected("mobile already belongs to another member", field="payload.mobile")
    card_code = _field(p, "card_code", str)
    if card_code in batch.cards:
        raise EventRejected(
            "card code already belongs to another member", field="payload.card_code"
        )
    if member_id in batch.members:
        raise EventRejected(f"member {member_id} already exists", field="payload.member_id")
    staged.rows.append(
        (
            members,
            {
                "id": member_id,
                "card_code": card_code,
                "mobile_hmac": digest,
                "mobile_enc": batch.vault.encrypt(member_id, mobile),
                "name_enc": batch.vault.encrypt(member_id, name),
                "home_store_id": batch.terminal.store_id,
                "marketing_consent": _field(p, "marketing_consent", bool),
                "enrolled_at": utcnow(),
                "birthday_enc": batch.vault.encrypt(member_id, birthday) if birthday else None,
                "birthday_hmac": birthday_lookup(batch.vault, birthday) if birthday else None,
                "referral_code": referral_code(member_id),
                **about.as_payload(),
            },
        )
    )
    if p.get("referred_by") is not None:
        staged.referral = (member_id, p["referred_by"])
    if p.get("mobile_verified") is True:  # the cloud's own record decides (claim_checks)
        staged.mobile_check = (member_id, _field(p, "mobile_check", str)[:32], digest)


def _demographics(p: dict[str, Any]) -> Demographics:
    """Check the enrolment's optional gender, province, city and birth year (absent from
    older terminals) against common's lists; a bad one rejects the event, naming it."""
    raw: dict[str, Any] = {}
    for name, kind in (("gender", str), ("province", str), ("city", str), ("birth_year", int)):
        if p.get(name) is not None:
            raw[name] = _field(p, name, kind)
    try:
        return check_demographics(**raw)
    except InvalidDemographic as exc:
        raise EventRejected(str(exc), field=f"payload.{exc.field}") from exc


def _apply_sale(batch: _Batch, event: Event, staged: _Staged) -> None:
    p = event.payload
    member_id = _known_member(batch, p)
    amount = _field(p, "amount_rial", int)
    if amount < 0:
        raise EventRejected("negative amount", field="payload.amount_rial")
    sale_id = _field(p, "sale_id", str)
    if len(event.terminal_time) > 40 or "\x00" in event.terminal_time:
        raise EventRejected("terminal_time: at most 40 characters, no NUL", field="terminal_time")
    if sale_id in batch.sales:
        raise EventRejected(f"sale {sale_id} already recorded", field="payload.sale_id")
    coupon = _coupon_used(batch, p, member_id)
    if coupon:
        staged.coupon = (coupon[0], sale_id)
    staged.rows.append(
        (
            sales,
            {
                "id": sale_id,
                "event_id": event.id,
                "member_id": member_id,
                "store_id": batch.terminal.store_id,
                "terminal_id": batch.terminal.id,
                "receipt_no": _field(p, "receipt_no", int),
                "amount_rial": amount,
                "points_earned": _field(p, "points_earned", int),
                "points_redeemed": _field(p, "points_redeemed", int),
                "credit_redeemed_rial": _credit_redeemed(p),
                "coupon_code": coupon[0] if coupon else None,
                "coupon_rial": coupon[1] if coupon else 0,
                "channel": _field(p, "channel", str),
                "terminal_time": event.terminal_time,
                "received_at": utcnow(),
            },
        )
    )
    _stage_entries(batch, event, member_id, staged)


def _coupon_used(batch: _Batch, payload: dict[str, Any], member_id: str) -> tuple[str, int] | None:
    """Return (code, value) of the member's coupon the sale used; a second use still counts."""
    used = payload.get("coupon")
    if used is None:
        return None
    if not isinstance(used, dict):
        raise EventRejected("coupon must be an object or null", field="payload.coupon")
    code = _field(used, "code", str, "payload.coupon")
    coupon = batch.coupons.get(code)
    if coupon is None or coupon.member_id != member_id:
        raise EventRejected(f"no coupon {code} for this member", field="payload.coupon.code")
    if used.get("value_rial") != coupon.value_rial:
        raise EventRejected("value differs from the coupon's", field="payload.coupon.value_rial")
    return code, int(coupon.value_rial)


def _credit_redeemed(payload: dict[str, Any]) -> int:
    if "credit_redeemed_rial" not in payload:  # terminals older than credit redemption
        return 0
    value: int = _field(payload, "credit_redeemed_rial", int)
    if value < 0:
        raise EventRejected("negative credit redeemed", field="payload.credit_redeemed_rial")
    return value


def _apply_refund(batch: _Batch, event: Event, staged: _Staged) -> None:
    member_id = _known_member(batch, event.payload)
    sale_id = _field(event.payload, "sale_id", str)
    if batch.sales.get(sale_id) != (member_id, False):
        raise EventRejected(f"no unrefunded sale {sale_id} of this member", field="payload.sale_id")
    staged.refund = sale_id
    _stage_entries(batch, event, member_id, staged)


def _apply_grant(batch: _Batch, event: Event, staged: _Staged) -> None:
    p = event.payload
    member_id = _known_member(batch, p)
    grant_id = _field(p, "grant_id", str)
    grant = batch.grants.get(grant_id)
    if grant is None or grant.member_id != member_id:
        raise EventRejected(f"no grant {grant_id} for this member", field="payload.grant_id")
    if grant.terminal_id != batch.terminal.id:
        raise EventRejected(
            f"grant {grant_id} was not sent to this terminal", field="payload.grant_id"
        )
    if grant.applied_at is not None or grant_id in batch.applied_grants:
        raise EventRejected(f"grant {grant_id} already applied", field="payload.grant_id")
    for name in ("kind", "amount"):
        if p.get(name) != getattr(grant, name):
            raise EventRejected(f"{name} differs from the grant's", field=f"payload.{name}")
    _stage_entries(batch, event, member_id, staged)
    staged.grant = grant_id


def _apply_gift_handover(batch: _Batch, event: Event, staged: _Staged) -> None:
    """A surprise gift handed over at a till of the store whose terminal booked it.

    The first hand-over from any till of that store is kept; a later one (two tills pressed
    before either synced) is stored as a duplicate that changes nothing, so the till that
    sent it is not left with an event refused for ever.
    """
    p = event.payload
    member_id = _known_member(batch, p)
    grant_id = _field(p, "grant_id", str)
    grant = batch.grants.get(grant_id)
    if grant is None or grant.member_id != member_id or not grant.gift:
        raise EventRejected(f"no gift {grant_id} for this member", field="payload.grant_id")
    if grant.terminal_id is None or grant.store_id != batch.terminal.store_id:
        raise EventRejected(
            f"gift {grant_id} was not sent to this terminal's store", field="payload.grant_id"
        )
    if grant.applied_at is None and grant_id not in batch.applied_grants:
        raise EventRejected(f"gift {grant_id} handed over before booked", field="payload.grant_id")
    if grant.handed_over_at is not None or grant_id in batch.handed_over:
        staged.duplicate = True
        return
    staged.handed_over = grant_id


def _apply_expiry(batch: _Batch, event: Event, staged: _Staged) -> None:
    _stage_entries(batch, event, _known_member(batch, event.payload), staged)


def _apply_tier(batch: _Batch, event: Event, staged: _Staged) -> None:
    member_id = _known_member(batch, event.payload)
    tier = _field(event.payload, "tier", str)
    if tier not in TIERS:
        raise EventRejected(f"unknown tier {tier!r}", field="payload.tier")
    staged.tier = (member_id, tier)


def _known_member(batch: _Batch, payload: dict[str, Any]) -> str:
    member_id: str = _field(payload, "member_id", str)
    if member_id not in batch.members:
        raise EventRejected(f"unknown member {member_id}", field="payload.member_id")
    return member_id


def _stage_entries(batch: _Batch, event: Event, member_id: str, staged: _Staged) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(_field(event.payload, "entries", list)):
        where = f"payload.entries[{index}]"
        if not isinstance(entry, dict):
            raise EventRejected("entry is not an object", field=where)
        postings = parse_postings(entry.get("postings"), f"{where}.postings")
        if len({posting.account for posting in postings}) != len(postings):
            raise EventRejected("an account appears twice in one entry", field=f"{where}.postings")
        if not all(_is_bigint(p.amount) for p in postings):
            raise EventRejected("amount must fit in 64 bits", field=f"{where}.postings")
        _check_accounts(postings, member_id, f"{where}.postings")
        entry_id = _field(entry, "id", str, where)
        if isinstance(entry.get("reverses"), str):
            _field(entry, "reverses", str, where)  # fits its column
        reverses = entry.get("reverses")
        if reverses is not None and not isinstance(reverses, str):
            raise EventRejected("reverses must be an entry id or null", field=f"{where}.reverses")
        if entry_id in batch.entries or entry_id in seen:
            raise EventRejected(f"ledger entry {entry_id} already recorded", field=f"{where}.id")
        seen.add(entry_id)
        staged.rows.append(
            (
                ledger_entries,
                {
                    "id": entry_id,
                    "event_id": event.id,
                    "kind": _field(entry, "kind", str, where),
                    "reverses": reverses,
                    "memo": str(entry.get("memo", "")).replace("\x00", "")[:200],
                },
            )
        )
        staged.rows.extend(
            (ledger_postings, {"entry_id": entry_id, "account": p.account, "amount": p.amount})
            for p in postings
        )


def _check_accounts(postings: list[Posting], member_id: str, where: str) -> None:
    for index, posting in enumerate(postings):
        if len(posting.account) > 80 or "\x00" in posting.account:
            raise EventRejected("account: at most 80 characters", field=f"{where}[{index}].account")
        parts = posting.account.split(":")
        # Exactly member:<this member>:<kind>; a substring test let member:<other>:<me>:… pass.
        if parts[0] == "member" and (len(parts) != 3 or parts[1] != member_id):
            raise EventRejected("posting on another member's account", field=where)


def _field(obj: dict[str, Any], name: str, kind: type, where: str = "payload") -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and not _is_bigint(value)):
        raise EventRejected(f"{where}.{name} must be {kind.__name__}", field=f"{where}.{name}")
    text = str(value) if kind is str else ""
    limit = TEXT_LIMITS.get(name, len(text))
    if len(text) > limit or "\x00" in text:
        path = f"{where}.{name}"
        raise EventRejected(f"{path}: at most {limit} characters, no NUL", field=path)
    return value


def _is_bigint(value: Any) -> bool:
    # The database's BIGINT: a larger number would escape as an OverflowError, a 500.
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


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


APPLIERS = {
    "member.enrolled": _apply_enrolment,
    "member.tier_changed": _apply_tier,
    "sale.completed": _apply_sale,
    "sale.refunded": _apply_refund,
    "points.expired": _apply_expiry,
    "grant.applied": _apply_grant,
    "gift.handed_over": _apply_gift_handover,
}

"""The sync wire format between a terminal and the cloud (version 1).

A terminal sends batches of events; each event is immutable, named by a client-made
128-bit id (32 hex digits) and numbered by the terminal's gap-free sequence::

    {"id": "9f0c…", "seq": 42, "kind": "sale.completed",
     "terminal_time": "2026-11-22T10:15:00+03:30", "payload": {...}}

The cloud answers a batch with what it applied, what it already had, what it refused
(naming the field) and any sequence gap it sees. ``terminal_time`` is informational:
the cloud keeps its own clock for order and time.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from common.errors import ProtocolError

PROTOCOL_VERSION = 1
MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 4 * 1024 * 1024

EVENT_KINDS = frozenset(
    {
        "member.enrolled",
        "member.tier_changed",
        "sale.completed",
        "sale.refunded",
        "points.expired",
        "grant.applied",
        "gift.handed_over",
    }
)
_HEX128 = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    """Return a fresh random 128-bit id as 32 lowercase hex digits."""
    return uuid.uuid4().hex


def canonical_json(obj: Any) -> bytes:
    """Serialise to the one byte form both sides hash and sign: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Posting:
    """One leg of a ledger entry: a signed amount on a named account."""

    account: str
    amount: int


@dataclass(frozen=True)
class Event:
    """One immutable event from a terminal's outbox."""

    id: str
    seq: int
    kind: str
    terminal_time: str
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the wire form of this event."""
        return {
            "id": self.id,
            "seq": self.seq,
            "kind": self.kind,
            "terminal_time": self.terminal_time,
            "payload": self.payload,
        }

    def digest(self) -> str:
        """Return the SHA-256 of the canonical wire form, hex."""
        return hashlib.sha256(canonical_json(self.to_dict())).hexdigest()


def parse_event(obj: Any) -> Event:
    """Validate one event's wire form and return it, or raise ProtocolError naming the field."""
    if not isinstance(obj, dict):
        raise ProtocolError("event is not an object", field="event")
    event_id = _require(obj, "id", str)
    if not _HEX128.fullmatch(event_id):
        raise ProtocolError("id must be 32 lowercase hex digits", field="id")
    seq = _require(obj, "seq", int)
    if isinstance(seq, bool) or seq < 1:
        raise ProtocolError("seq must be a positive integer", field="seq")
    kind = _require(obj, "kind", str)
    if kind not in EVENT_KINDS:
        raise ProtocolError(f"unknown event kind {kind!r}", field="kind")
    terminal_time = _require(obj, "terminal_time", str)
    payload = _require(obj, "payload", dict)
    return Event(event_id, seq, kind, terminal_time, payload)


def parse_postings(raw: Any, field_name: str = "payload.postings") -> list[Posting]:
    """Validate a list of postings that must sum to zero, or raise ProtocolError."""
    if not isinstance(raw, list) or not raw:
        raise ProtocolError("postings must be a non-empty list", field=field_name)
    postings = []
    for index, leg in enumerate(raw):
        where = f"{field_name}[{index}]"
        if not isinstance(leg, dict):
            raise ProtocolError("posting is not an object", field=where)
        account = _require(leg, "account", str, where)
        amount = _require(leg, "amount", int, where)
        if isinstance(amount, bool):
            raise ProtocolError("amount must be an integer", field=f"{where}.amount")
        postings.append(Posting(account, amount))
    if sum(p.amount for p in postings) != 0:
        raise ProtocolError("postings do not balance", field=field_name)
    return postings


def differing_field(stored: dict[str, Any], incoming: dict[str, Any], prefix: str = "") -> str:
    """Name the first field where two wire forms of the same event differ ('' if equal)."""
    for key in sorted(set(stored) | set(incoming)):
        path = f"{prefix}{key}"
        left, right = stored.get(key), incoming.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            inner = differing_field(left, right, prefix=f"{path}.")
            if inner:
                return inner
        elif left != right or type(left) is not type(right):
            return path
    return ""


def _require(obj: dict[str, Any], name: str, kind: type, prefix: str = "") -> Any:
    where = f"{prefix}.{name}" if prefix else name
    if name not in obj:
        raise ProtocolError(f"missing field {where}", field=where)
    value = obj[name]
    if not isinstance(value, kind):
        raise ProtocolError(f"{where} must be {kind.__name__}", field=where)
    return value

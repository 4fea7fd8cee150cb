"""The outbox: every event the cloud must hear, written in the same transaction as the
ledger entries it reports, numbered by a gap-free per-terminal sequence.

Rows are kept after the cloud acknowledges them (``acked_at`` is set), so a sequence
number is never reused and the store-owner page can show what was sent when. Bodies are
sealed with the PII vault (an enrolment event carries a mobile and a name), so the
database file holds no personal data in clear.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from common.pii import PiiVault
from common.protocol import Event, canonical_json, new_id


def enqueue(
    conn: sqlite3.Connection, vault: PiiVault, kind: str, payload: dict[str, Any], now: str
) -> Event:
    """Append an event inside the caller's write transaction and return it."""
    (seq,) = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'outbox_seq' RETURNING value"
    ).fetchone()
    event = Event(id=new_id(), seq=seq, kind=kind, terminal_time=now, payload=payload)
    conn.execute(
        "INSERT INTO outbox (seq, event_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?)",
        (
            seq,
            event.id,
            kind,
            vault.encrypt(event.id, canonical_json(event.to_dict()).decode()),
            now,
        ),
    )
    return event


def pending(conn: sqlite3.Connection, vault: PiiVault, limit: int) -> list[Event]:
    """Return up to ``limit`` unacknowledged events, oldest first."""
    rows = conn.execute(
        "SELECT event_id, body FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()
    return [Event(**json.loads(vault.decrypt(row[0], row[1]))) for row in rows]


def mark_acked(conn: sqlite3.Connection, event_ids: Iterable[str], now: str) -> int:
    """Record the cloud's acknowledgement of events; return how many were newly acked."""
    before = conn.total_changes
    conn.executemany(
        "UPDATE outbox SET acked_at = ? WHERE event_id = ? AND acked_at IS NULL",
        [(now, event_id) for event_id in event_ids],
    )
    return conn.total_changes - before


def depth(conn: sqlite3.Connection) -> int:
    """Return how many events still wait for the cloud."""
    (count,) = conn.execute("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL").fetchone()
    return int(count)

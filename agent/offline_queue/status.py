"""What the owner's sync page shows: when a push and a pull last succeeded, the last error.

The poller records each outcome in the ledger's ``settings`` table (one autocommitted
row each), so the page, which runs in another thread with its own view of the database,
reads it there, and it survives a restart of the agent.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from dataclasses import dataclass

from common.persian import now_tehran

log = logging.getLogger(__name__)
LAST_PUSH, LAST_PULL = "sync.last_push_at", "sync.last_pull_at"
LAST_ERROR, LAST_ERROR_AT = "sync.last_error", "sync.last_error_at"


@dataclass(frozen=True)
class SyncStatus:
    """The sync outcomes as last recorded (None: never)."""

    last_push: dt.datetime | None
    last_pull: dt.datetime | None
    last_error: str
    last_error_at: dt.datetime | None
    oldest_pending: dt.datetime | None


def _put(conn: sqlite3.Connection, key: str, value: str) -> None:
    try:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
    except sqlite3.Error as exc:  # a busy ledger must never stop the sync thread
        log.warning("sync status not recorded: %s", exc)


def record_success(conn: sqlite3.Connection, key: str, moment: dt.datetime | None = None) -> None:
    """Record that a push (``LAST_PUSH``) or a pull (``LAST_PULL``) succeeded now."""
    _put(conn, key, (moment or now_tehran()).isoformat())


def record_failure(conn: sqlite3.Connection, error: str, moment: dt.datetime | None = None) -> None:
    """Record the last failed attempt and its reason (English, for the technician)."""
    _put(conn, LAST_ERROR, error[:300])
    _put(conn, LAST_ERROR_AT, (moment or now_tehran()).isoformat())


def read(conn: sqlite3.Connection) -> SyncStatus:
    """Return the recorded outcomes and the time of the oldest event still queued."""
    rows = conn.execute(
        "SELECT key, value FROM settings WHERE key IN (?, ?, ?, ?)",
        (LAST_PUSH, LAST_PULL, LAST_ERROR, LAST_ERROR_AT),
    ).fetchall()
    values = {str(key): str(value) for key, value in rows}
    first = conn.execute(  # the pending index: the lowest seq is the oldest event
        "SELECT created_at FROM outbox WHERE acked_at IS NULL ORDER BY seq LIMIT 1"
    ).fetchone()
    oldest = first[0] if first else None
    return SyncStatus(
        last_push=_moment(values.get(LAST_PUSH)),
        last_pull=_moment(values.get(LAST_PULL)),
        last_error=values.get(LAST_ERROR, ""),
        last_error_at=_moment(values.get(LAST_ERROR_AT)),
        oldest_pending=_moment(oldest),
    )


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None

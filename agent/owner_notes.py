"""The store's open notes from HQ's scenarios (``owner_note``), delivered with each pull.

The cloud sends the whole open set on the pull's last page; it replaces what the terminal
held in the pull's transaction, so a note closed at HQ disappears at the next pull. The
notes name members by id only: the owner's page shows a first name and a masked mobile
when this terminal knows the member, as its other pages do.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from typing import Any

from agent import members
from agent.errors import UnknownMember
from common.mobile import mask_mobile
from common.persian import jalali_datetime
from common.pii import PiiVault

log = logging.getLogger(__name__)
LIMITS = {"id": 32, "member_id": 32, "scenario": 80, "text": 500, "created_at": 40}


def replace(conn: sqlite3.Connection, notes: list[Any]) -> int:
    """Replace the held notes with the cloud's open ones (caller's transaction); return how
    many were kept. A malformed note is left out and logged, never half-stored."""
    kept = [note for note in notes if _well_formed(note)]
    if len(kept) != len(notes):
        log.warning("%d owner notes from the cloud were malformed", len(notes) - len(kept))
    conn.execute("DELETE FROM owner_notes")
    conn.executemany(
        "INSERT OR IGNORE INTO owner_notes (id, member_id, scenario, text, created_at)"
        " VALUES (:id, :member_id, :scenario, :text, :created_at)",
        [{key: note[key] for key in LIMITS} for note in kept],
    )
    return len(kept)


def _well_formed(note: Any) -> bool:
    if not isinstance(note, dict):
        return False
    if not all(isinstance(note.get(k), str) and len(note[k]) <= n for k, n in LIMITS.items()):
        return False
    try:
        return dt.datetime.fromisoformat(note["created_at"]).tzinfo is not None
    except ValueError:
        return False


def listed(conn: sqlite3.Connection, vault: PiiVault) -> list[dict[str, str]]:
    """Return the held notes, newest first, with the member's first name and masked mobile."""
    rows = conn.execute(
        "SELECT id, member_id, scenario, text, created_at FROM owner_notes"
        " ORDER BY created_at DESC, id"
    ).fetchall()
    result = []
    for row in rows:
        try:
            member = members.get(conn, vault, row["member_id"])
            name, mobile = (member.name.split() or [""])[0], mask_mobile(member.mobile)
        except UnknownMember:
            name, mobile = "", ""
        result.append(
            {
                "id": row["id"],
                "member": name,
                "mobile": mobile,
                "scenario": row["scenario"],
                "text": row["text"],
                "when": jalali_datetime(dt.datetime.fromisoformat(row["created_at"])),
            }
        )
    return result

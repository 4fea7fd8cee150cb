"""Notes scenarios leave for store owners (the page is ``cloud/owner_notes_page.py``).

A scenario's ``owner_note`` action writes one row per scenario entry (``entry_id`` is
unique, and the entry itself is unique per member, scenario and period), so a rerun or a
resent event never leaves a second note. The note is for the store the triggering event
happened at — the answer's store for a feedback trigger — or else the member's home store.
It keeps the member's id only; the page shows a first name and a masked mobile, as the
terminal's owner pages do. A store owner sees and closes their stores' notes only: the
scope is part of every query (``cloud/access.py``), so an edited URL reaches nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from cloud.access import current_scope
from cloud.storage import utcnow
from cloud.tables import feedback, members, owner_notes, sales, scenarios, stores
from common.mobile import mask_mobile
from common.pii import PiiVault
from common.protocol import new_id

PAGE = 100


def note_store(conn: sa.Connection, member_id: str, trigger: str, event: str) -> str:
    """Return the store a note is for: the answer's for feedback, the sale's for a purchase,
    else the member's home."""
    where = {"feedback": feedback, "purchase": sales}.get(trigger)
    if where is not None and event:
        store = conn.execute(sa.select(where.c.store_id).where(where.c.id == event)).scalar()
        if store is not None:
            return str(store)
    home: str = conn.execute(
        sa.select(members.c.home_store_id).where(members.c.id == member_id)
    ).scalar_one()
    return home


def leave_note(
    conn: sa.Connection,
    entry_id: str,
    scenario_id: str,
    member_id: str,
    store_id: str,
    text: str,
) -> str:
    """Write one note for a scenario entry, in the caller's transaction; return its id."""
    note_id = new_id()
    conn.execute(
        sa.insert(owner_notes).values(
            id=note_id,
            entry_id=entry_id,
            store_id=store_id,
            member_id=member_id,
            scenario_id=scenario_id,
            text=text.strip(),
            created_at=utcnow(),
        )
    )
    return note_id


def notes_in_scope(
    conn: sa.Connection, vault: PiiVault, show_done: bool = False
) -> list[dict[str, Any]]:
    """Return the notes of the stores the signed-in user sees, newest first."""
    scope = current_scope()
    query = (
        sa.select(
            owner_notes,
            stores.c.name.label("store_name"),
            members.c.name_enc,
            members.c.mobile_enc,
            scenarios.c.definition,
        )
        .join(stores, stores.c.id == owner_notes.c.store_id)
        .join(members, members.c.id == owner_notes.c.member_id)
        .outerjoin(scenarios, scenarios.c.id == owner_notes.c.scenario_id)
        .where(scope.stores(owner_notes.c.store_id))
        .order_by(owner_notes.c.created_at.desc(), owner_notes.c.id)
        .limit(PAGE)
    )
    if not show_done:
        query = query.where(owner_notes.c.done_at.is_(None))
    return [_row(vault, row) for row in conn.execute(query)]


def _row(vault: PiiVault, row: sa.Row[Any]) -> dict[str, Any]:
    name = vault.decrypt(row.member_id, row.name_enc).split()
    return {
        "id": row.id,
        "store": row.store_name,
        "member": name[0] if name else "",
        "mobile": mask_mobile(vault.decrypt(row.member_id, row.mobile_enc)),
        "scenario": _scenario_name(row.definition, row.scenario_id),
        "text": row.text,
        "created": row.created_at,  # the template's jdt() shows it in Tehran time
        "done": row.done_at,
        "done_by": row.done_by or "",
    }


def _scenario_name(definition: str | None, scenario_id: str) -> str:
    try:
        name = json.loads(definition or "{}").get("name_fa")
    except ValueError:
        name = None
    return str(name) if isinstance(name, str) and name else scenario_id


def mark_done(conn: sa.Connection, note_id: str, username: str) -> bool:
    """Close a note in the user's scope; return False if there is none to close there."""
    done = conn.execute(
        sa.update(owner_notes)
        .where(
            owner_notes.c.id == note_id,
            owner_notes.c.done_at.is_(None),
            current_scope().stores(owner_notes.c.store_id),
        )
        .values(done_at=utcnow(), done_by=username[:80])
    )
    return done.rowcount == 1


def open_for_store(conn: sa.Connection, store_id: str) -> list[dict[str, Any]]:
    """Return a store's open notes for its terminals' pull (newest ``PAGE``), member by id."""
    rows = conn.execute(
        sa.select(owner_notes, scenarios.c.definition)
        .outerjoin(scenarios, scenarios.c.id == owner_notes.c.scenario_id)
        .where(owner_notes.c.store_id == store_id, owner_notes.c.done_at.is_(None))
        .order_by(owner_notes.c.created_at.desc(), owner_notes.c.id)
        .limit(PAGE)
    )
    return [
        {
            "id": row.id,
            "member_id": row.member_id,
            "scenario": _scenario_name(row.definition, row.scenario_id)[:80],
            "text": row.text,
            "created_at": _aware(row.created_at).isoformat(),
        }
        for row in rows
    ]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone

"""Points and credit the cloud gives a member, delivered through one terminal.

The cloud's ledger is the terminals' ledgers put together, so the cloud never posts an
entry itself. A grant (a review, a survey, a referral, a scenario's reward, HQ's manual
adjustment) waits here until a terminal of the member's home store pulls; it is assigned
to that terminal, which books it in its own ledger in the same transaction as the pull and
reports it with a ``grant.applied`` event. The grant is sent again on every pull until
that event arrives, and the terminal books each grant id once, so it lands exactly once.

A gift (``gift``) is booked by that one terminal but may be handed over at any till of its
store: every pull also carries the store's gifts still waiting for a hand-over
(``waiting_gifts``), and the cloud keeps the first ``gift.handed_over`` of any of them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.errors import BadRequest, NotFound
from cloud.fleet import readable
from cloud.storage import utcnow
from cloud.tables import grants, members, terminals
from common.protocol import new_id

KINDS = ("points", "credit")
MAX_GRANT = {"points": 1_000_000, "credit": 1_000_000_000}  # a slip, not a gift, beyond this


def create_grant(
    conn: sa.Connection,
    member_id: str,
    kind: str,
    amount: int,
    reason: str,
    created_by: str,
    note: str = "",
    gift: bool = False,
) -> str:
    """Queue points or Rials of credit for a member; return the grant id.

    ``gift``: a surprise the terminal announces with its note at the member's next visit.
    """
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {KINDS}", field="kind")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_GRANT[kind]:
        raise BadRequest(f"amount must be 1..{MAX_GRANT[kind]}", field="amount")
    if not reason.strip() or len(reason) > 40 or not readable(reason):
        raise BadRequest("reason must be 1-40 characters, no control ones", field="reason")
    if len(note) > 200 or not readable(note):
        raise BadRequest("note must be at most 200 characters, no control ones", field="note")
    if conn.execute(sa.select(members.c.id).where(members.c.id == member_id)).first() is None:
        raise NotFound(f"unknown member {member_id}", fa="این عضو پیدا نشد", field="member_id")
    grant_id = new_id()
    conn.execute(
        sa.insert(grants).values(
            id=grant_id,
            member_id=member_id,
            kind=kind,
            amount=amount,
            reason=reason.strip(),
            note=note,
            gift=gift,
            created_by=created_by,
            created_at=utcnow(),
        )
    )
    return grant_id


def create_point_grants(
    conn: sa.Connection, amounts: dict[str, int], reason: str, created_by: str
) -> None:
    """Queue points for many members at once (an import's opening balances): the same
    grants as ``create_grant`` makes, checked the same way, in one insert."""
    if not reason.strip() or len(reason) > 40 or not readable(reason):
        raise BadRequest("reason must be 1-40 characters, no control ones", field="reason")
    for amount in amounts.values():
        if isinstance(amount, bool) or not 0 < amount <= MAX_GRANT["points"]:
            raise BadRequest(f"amount must be 1..{MAX_GRANT['points']}", field="amount")
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "member_id": member_id,
            "kind": "points",
            "amount": amount,
            "reason": reason.strip(),
            "note": "",
            "created_by": created_by,
            "created_at": now,
        }
        for member_id, amount in amounts.items()
    ]
    if rows:
        conn.execute(sa.insert(grants), rows)  # members.id foreign key: unknown ones fail


def deliver(conn: sa.Connection, terminal: sa.Row[Any]) -> list[dict[str, Any]]:
    """Assign waiting grants of this store's members to the terminal; return all it holds."""
    home_members = sa.select(members.c.id).where(members.c.home_store_id == terminal.store_id)
    conn.execute(
        sa.update(grants)
        .where(grants.c.terminal_id.is_(None), grants.c.member_id.in_(home_members))
        .values(terminal_id=terminal.id, assigned_at=utcnow())
    )
    rows = conn.execute(
        sa.select(grants)
        .where(grants.c.terminal_id == terminal.id, grants.c.applied_at.is_(None))
        .order_by(grants.c.created_at, grants.c.id)
    )
    return [{**_wire(row), "reason": row.reason, "gift": bool(row.gift)} for row in rows]


def waiting_gifts(conn: sa.Connection, terminal: sa.Row[Any]) -> list[dict[str, Any]]:
    """Return the gifts of the terminal's store not yet handed over, for every till's cards.

    A gift booked by another terminal is listed once its ``grant.applied`` arrived (its
    points are in the chain's ledger); the terminal's own are listed from their assignment,
    so a gift of its own missing from the list was handed over at another till.
    """
    store_terminals = sa.select(terminals.c.id).where(terminals.c.store_id == terminal.store_id)
    rows = conn.execute(
        sa.select(grants)
        .where(
            grants.c.gift.is_(True),
            grants.c.handed_over_at.is_(None),
            grants.c.terminal_id.in_(store_terminals),
            sa.or_(grants.c.applied_at.is_not(None), grants.c.terminal_id == terminal.id),
        )
        .order_by(grants.c.created_at, grants.c.id)
    )
    return [_wire(row) for row in rows]


def _wire(row: sa.Row[Any]) -> dict[str, Any]:
    """Return a grant as the pull sends it to terminals."""
    return {
        "grant_id": row.id,
        "member_id": row.member_id,
        "kind": row.kind,
        "amount": row.amount,
        "note": row.note,
    }

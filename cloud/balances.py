"""Members' chain-wide points, and the overdrafts the cloud books when they go below zero.

Each terminal keeps its own ledger. A member's chain-wide balance is the sum, over every
terminal, of their ``member:<id>:points`` postings (points earned, redeemed, expired there)
and their ``member:<id>:drawn`` postings (points held at other stores, redeemed there).
Two offline stores may both redeem the same points: both redemptions are recorded as they
happened, the balance goes below zero, and the shortfall is booked here, visible to HQ,
until the member's later earnings settle it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from cloud.storage import upsert_into, utcnow
from cloud.tables import (
    events,
    ledger_entries,
    ledger_postings,
    member_overdrafts,
    member_terminal_points,
)

KINDS = ("points", "drawn")


def points_moved(postings: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Sum posting rows on members' points and drawn accounts, per member."""
    moved: dict[str, int] = {}
    for posting in postings:
        parts = str(posting["account"]).split(":")
        if len(parts) == 3 and parts[0] == "member" and parts[2] in KINDS:
            moved[parts[1]] = moved.get(parts[1], 0) + int(posting["amount"])
    return moved


def add_points(conn: sa.Connection, terminal_id: str, moved: dict[str, int]) -> None:
    """Add a batch's points movements to the running totals of this terminal's members."""
    if not moved:
        return
    rows = [
        {"member_id": member_id, "terminal_id": terminal_id, "points": points}
        for member_id, points in sorted(moved.items())
    ]
    statement = upsert_into(conn, member_terminal_points).values(rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["member_id", "terminal_id"],
            set_={"points": member_terminal_points.c.points + statement.excluded.points},
        )
    )


def chain_balances(
    conn: sa.Connection, member_ids: Iterable[str], except_terminal: str | None = None
) -> dict[str, int]:
    """Return each member's points across the chain (or all but one terminal's share)."""
    ids = sorted(set(member_ids))
    found = dict.fromkeys(ids, 0)
    totals = member_terminal_points
    for chunk in (ids[i : i + 400] for i in range(0, len(ids), 400)):
        query = (
            sa.select(totals.c.member_id, sa.func.sum(totals.c.points))
            .where(totals.c.member_id.in_(chunk))
            .group_by(totals.c.member_id)
        )
        if except_terminal is not None:
            query = query.where(totals.c.terminal_id != except_terminal)
        for member_id, points in conn.execute(query):
            found[member_id] = int(points)
    return found


def book_overdrafts(conn: sa.Connection, member_ids: Iterable[str]) -> None:
    """Open, update or settle the overdraft of each member whose points just moved."""
    balances = chain_balances(conn, member_ids)
    if not balances:
        return
    open_rows = {
        row.member_id: row
        for row in conn.execute(
            sa.select(member_overdrafts).where(member_overdrafts.c.member_id.in_(balances))
        )
    }
    now = utcnow()
    for member_id, balance in balances.items():
        row = open_rows.get(member_id)
        owed = max(0, -balance)
        if row is None and owed:
            conn.execute(
                sa.insert(member_overdrafts).values(
                    member_id=member_id, points=owed, opened_at=now, updated_at=now
                )
            )
        elif row is not None and (row.points != owed or (owed and row.settled_at)):
            values: dict[str, Any] = {"points": owed, "updated_at": now}
            if owed and row.settled_at is not None:  # overdrawn again after settling
                values.update(opened_at=now, settled_at=None)
            elif not owed:
                values["settled_at"] = now
            conn.execute(
                sa.update(member_overdrafts)
                .where(member_overdrafts.c.member_id == member_id)
                .values(**values)
            )


def overdraft_totals(conn: sa.Connection) -> tuple[int, int]:
    """Return (members overdrawn now, points they owe together)."""
    count, points = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(member_overdrafts.c.points), 0)
        ).where(member_overdrafts.c.points > 0)
    ).one()
    return int(count), int(points)


def running_total_problems(conn: sa.Connection) -> list[str]:
    """Compare the running totals with a fresh sum of the postings; describe each mismatch."""
    member = sa.func.substr(
        sa.func.replace(sa.func.replace(ledger_postings.c.account, ":points", ""), ":drawn", ""), 8
    )
    replayed = {
        (m, t): int(total)
        for m, t, total in conn.execute(
            sa.select(member, events.c.terminal_id, sa.func.sum(ledger_postings.c.amount))
            .join(ledger_entries, ledger_entries.c.id == ledger_postings.c.entry_id)
            .join(events, events.c.id == ledger_entries.c.event_id)
            .where(
                sa.or_(
                    ledger_postings.c.account.like("member:%:points"),
                    ledger_postings.c.account.like("member:%:drawn"),
                )
            )
            .group_by(member, events.c.terminal_id)
        )
    }
    kept = {
        (row.member_id, row.terminal_id): int(row.points)
        for row in conn.execute(sa.select(member_terminal_points))
    }
    return [
        f"member {m} at terminal {t}: running total {kept.get((m, t), 0)} != postings {v}"
        for (m, t), v in sorted({**dict.fromkeys(kept, 0), **replayed}.items())
        if kept.get((m, t), 0) != v
    ]

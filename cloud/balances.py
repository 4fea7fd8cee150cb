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

from cloud.storage import utcnow
from cloud.tables import ledger_postings, member_overdrafts

KINDS = ("points", "drawn")


def member_accounts(member_ids: Iterable[str]) -> dict[str, str]:
    """Map every account that holds a member's points to the member."""
    return {f"member:{member_id}:{kind}": member_id for member_id in member_ids for kind in KINDS}


def chain_balances(conn: sa.Connection, member_ids: Iterable[str]) -> dict[str, int]:
    """Return each member's points across the whole chain (0 for a member who never moved)."""
    ids = sorted(set(member_ids))
    found = dict.fromkeys(ids, 0)
    for chunk in (ids[i : i + 400] for i in range(0, len(ids), 400)):
        accounts = member_accounts(chunk)
        rows = conn.execute(
            sa.select(ledger_postings.c.account, sa.func.sum(ledger_postings.c.amount))
            .where(ledger_postings.c.account.in_(accounts))
            .group_by(ledger_postings.c.account)
        )
        for account, total in rows:
            found[accounts[account]] += int(total)
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

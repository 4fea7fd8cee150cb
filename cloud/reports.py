"""Chain-wide figures read by the HQ pages, the CLI and the end-to-end checks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloud.balances import overdraft_totals
from cloud.tables import ledger_postings, members, sales, stores, terminals


def totals(conn: sa.Connection) -> dict[str, int]:
    """Return members, sales, revenue and points figures for the whole chain."""
    points = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ledger_postings.c.amount), 0)).where(
            sa.or_(
                ledger_postings.c.account.like("member:%:points"),
                ledger_postings.c.account.like("member:%:drawn"),
            )
        )
    ).scalar_one()
    overdrawn, owed = overdraft_totals(conn)
    sale_row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sales.c.amount_rial), 0),
            sa.func.coalesce(sa.func.sum(sales.c.points_earned), 0),
            sa.func.coalesce(sa.func.sum(sales.c.points_redeemed), 0),
        )
    ).one()
    return {
        "stores": conn.execute(sa.select(sa.func.count()).select_from(stores)).scalar_one(),
        "terminals": conn.execute(sa.select(sa.func.count()).select_from(terminals)).scalar_one(),
        "members": conn.execute(sa.select(sa.func.count()).select_from(members)).scalar_one(),
        "sales": sale_row[0],
        "revenue_rial": int(sale_row[1]),
        "points_issued": int(sale_row[2]),
        "points_redeemed": int(sale_row[3]),
        "points_total": int(points),
        "overdrawn_members": overdrawn,
        "overdraft_points": owed,
    }


def fleet(conn: sa.Connection) -> list[dict[str, Any]]:
    """Return every terminal with its store and sync watermark."""
    rows = conn.execute(
        sa.select(terminals, stores.c.name.label("store_name"))
        .join(stores, stores.c.id == terminals.c.store_id)
        .order_by(stores.c.name, terminals.c.created_at)
    ).mappings()
    return [dict(row) for row in rows]

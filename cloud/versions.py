"""Member versions: a chain-wide counter that tells terminals which members changed.

Every change a terminal should see (enrolment, points, tier, a coupon) gives the member a
new version; a terminal pulls the members whose version passed its cursor.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from cloud.tables import counters, members


def bump_members(conn: sa.Connection, member_ids: Iterable[str]) -> None:
    """Give changed members a new version so terminals pull them again."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    version = next_value(conn, "member_version")
    conn.execute(sa.update(members).where(members.c.id.in_(ids)).values(version=version))


def next_value(conn: sa.Connection, name: str) -> int:
    """Advance a named counter and return its new value (row-locked on PostgreSQL)."""
    updated = conn.execute(
        sa.update(counters)
        .where(counters.c.name == name)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    ).scalar()
    if updated is None:
        conn.execute(sa.insert(counters).values(name=name, value=1))
        return 1
    return int(updated)

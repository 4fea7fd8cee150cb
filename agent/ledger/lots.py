"""Points lots: each earning is a lot with an expiry date; points leave lots oldest first.

A lot's ``remaining`` is a cache of ``points`` minus its moves in ``lot_moves``; the sum of
a member's ``remaining`` equals their points balance. ``verify`` checks both.
"""

from __future__ import annotations

import sqlite3


def open_lot(
    conn: sqlite3.Connection, entry_id: str, member_id: str, points: int, now: str, expires: str
) -> None:
    """Record the lot an earn entry created."""
    conn.execute(
        "INSERT INTO lots (entry_id, member_id, points, remaining, earned_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (entry_id, member_id, points, points, now, expires),
    )


def take(conn: sqlite3.Connection, entry_id: str, member_id: str, points: int) -> int:
    """Draw up to ``points`` from a member's open lots, soonest expiry first; return drawn."""
    drawn = 0
    rows = conn.execute(
        "SELECT entry_id, remaining FROM lots WHERE member_id = ? AND remaining > 0"
        " ORDER BY expires_at, earned_at, entry_id",
        (member_id,),
    ).fetchall()
    for lot_id, remaining in rows:
        if drawn == points:
            break
        share = min(remaining, points - drawn)
        _move(conn, entry_id, lot_id, share)
        drawn += share
    return drawn


def take_from(conn: sqlite3.Connection, entry_id: str, lot_id: str, points: int) -> int:
    """Draw up to ``points`` from one lot; return what it could give."""
    (remaining,) = conn.execute(
        "SELECT remaining FROM lots WHERE entry_id = ?", (lot_id,)
    ).fetchone()
    share = min(remaining, points)
    if share:
        _move(conn, entry_id, lot_id, share)
    return int(share)


def put_back(conn: sqlite3.Connection, entry_id: str, taken_by: str) -> int:
    """Return to their lots the points another entry took; return how many."""
    moves = conn.execute(
        "SELECT lot_id, points FROM lot_moves WHERE entry_id = ? AND points > 0", (taken_by,)
    ).fetchall()
    for lot_id, points in moves:
        _move(conn, entry_id, lot_id, -points)
    return sum(points for _, points in moves)


def due(conn: sqlite3.Connection, now: str) -> list[tuple[str, str, int]]:
    """Return (lot id, member id, remaining) of every lot past its expiry with points left."""
    rows = conn.execute(
        "SELECT entry_id, member_id, remaining FROM lots"
        " WHERE remaining > 0 AND expires_at <= ? ORDER BY expires_at, entry_id",
        (now,),
    ).fetchall()
    return [(row[0], row[1], int(row[2])) for row in rows]


def _move(conn: sqlite3.Connection, entry_id: str, lot_id: str, points: int) -> None:
    conn.execute(
        "INSERT INTO lot_moves (entry_id, lot_id, points) VALUES (?, ?, ?)",
        (entry_id, lot_id, points),
    )
    conn.execute("UPDATE lots SET remaining = remaining - ? WHERE entry_id = ?", (points, lot_id))


def problems(conn: sqlite3.Connection) -> list[str]:
    """Return every lot that disagrees with its moves or with its member's balance."""
    found = [
        f"lot {lot_id}: remaining {remaining} != points - moves {expected}"
        for lot_id, remaining, expected in conn.execute(
            "SELECT l.entry_id, l.remaining, l.points - COALESCE(SUM(m.points), 0)"
            " FROM lots l LEFT JOIN lot_moves m ON m.lot_id = l.entry_id"
            " GROUP BY l.entry_id HAVING l.remaining != l.points - COALESCE(SUM(m.points), 0)"
        )
    ]
    found += [
        f"member {member_id}: open lots {in_lots} != balance {balance}"
        for member_id, in_lots, balance in conn.execute(
            "SELECT a.member_id, COALESCE(l.total, 0), COALESCE(b.balance, 0) FROM accounts a"
            " LEFT JOIN balances b ON b.account_id = a.id"
            " LEFT JOIN (SELECT member_id, SUM(remaining) AS total FROM lots GROUP BY member_id) l"
            "   ON l.member_id = a.member_id"
            " WHERE a.kind = 'member_points' AND a.member_id IS NOT NULL"
            " AND COALESCE(l.total, 0) != COALESCE(b.balance, 0)"
        )
    ]
    return found

"""The double-entry points ledger: immutable entries whose postings always sum to zero.

A member's balance is the sum of the postings on their account; ``balances`` caches it
in the same transaction and ``verify`` proves the cache equals a replay. Mistakes are
undone by a reversing entry, never by an update (triggers refuse updates and deletes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from agent.errors import LedgerError
from agent.ledger import lots
from agent.ledger.accounts import SYSTEM_ACCOUNTS
from common.protocol import Posting, new_id


@dataclass(frozen=True)
class Entry:
    """One ledger entry as written: its id, kind and balanced postings."""

    id: str
    kind: str
    postings: tuple[Posting, ...]
    sale_id: str | None = None
    reverses: str | None = None
    memo: str = ""

    def to_wire(self) -> dict[str, object]:
        """Return the entry as it travels in a sync event."""
        return {
            "id": self.id,
            "kind": self.kind,
            "reverses": self.reverses,
            "memo": self.memo,
            "postings": [{"account": p.account, "amount": p.amount} for p in self.postings],
        }


def ensure_system_accounts(conn: sqlite3.Connection) -> None:
    """Create the system accounts if they do not exist yet."""
    conn.executemany(
        "INSERT OR IGNORE INTO accounts (id, kind) VALUES (?, 'system')",
        [(name,) for name in SYSTEM_ACCOUNTS],
    )


def post(
    conn: sqlite3.Connection,
    kind: str,
    postings: Sequence[Posting],
    now: str,
    sale_id: str | None = None,
    reverses: str | None = None,
    memo: str = "",
    entry_id: str | None = None,
) -> Entry:
    """Write one balanced entry inside the caller's transaction and update cached balances."""
    legs = tuple(p for p in postings if p.amount != 0)
    if not legs:
        raise LedgerError(f"entry {kind!r} has no non-zero posting")
    if sum(p.amount for p in legs) != 0:
        raise LedgerError(f"entry {kind!r} does not balance: {legs}")
    if len({p.account for p in legs}) != len(legs):
        raise LedgerError(f"entry {kind!r} names an account twice")
    entry = Entry(entry_id or new_id(), kind, legs, sale_id, reverses, memo)
    conn.execute(
        "INSERT INTO entries (id, kind, sale_id, reverses, memo, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (entry.id, kind, sale_id, reverses, memo, now),
    )
    for leg in legs:
        conn.execute(
            "INSERT INTO postings (entry_id, account_id, amount) VALUES (?, ?, ?)",
            (entry.id, leg.account, leg.amount),
        )
        conn.execute(
            "INSERT INTO balances (account_id, balance) VALUES (?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET balance = balance + excluded.balance",
            (leg.account, leg.amount),
        )
    return entry


def balance(conn: sqlite3.Connection, account: str) -> int:
    """Return the cached balance of an account (0 if it never moved)."""
    row = conn.execute("SELECT balance FROM balances WHERE account_id = ?", (account,)).fetchone()
    return int(row[0]) if row else 0


def total_member_points(conn: sqlite3.Connection) -> int:
    """Return the points held by all members together (the points liability)."""
    row = conn.execute(
        "SELECT COALESCE(SUM(b.balance), 0) FROM balances b"
        " JOIN accounts a ON a.id = b.account_id"
        " WHERE a.kind IN ('member_points', 'member_drawn')"
    ).fetchone()
    return int(row[0])


def verify(conn: sqlite3.Connection) -> list[str]:
    """Replay every posting and return each broken invariant as a sentence (empty if sound)."""
    problems = []
    for entry_id, total in conn.execute(
        "SELECT entry_id, SUM(amount) FROM postings GROUP BY entry_id HAVING SUM(amount) != 0"
    ):
        problems.append(f"entry {entry_id} does not balance (sum {total})")
    for account, cached, replayed in conn.execute(
        "SELECT a.id, COALESCE(b.balance, 0), COALESCE(p.total, 0) FROM accounts a"
        " LEFT JOIN balances b ON b.account_id = a.id"
        " LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM postings GROUP BY account_id) p"
        "   ON p.account_id = a.id"
        " WHERE COALESCE(b.balance, 0) != COALESCE(p.total, 0)"
    ):
        problems.append(f"account {account}: cached balance {cached} != replay {replayed}")
    for (account,) in conn.execute(
        "SELECT b.account_id FROM balances b JOIN accounts a ON a.id = b.account_id"
        " WHERE a.kind = 'member_points' AND b.balance < 0"
    ):
        problems.append(f"account {account} is negative")
    for (account,) in conn.execute(
        "SELECT b.account_id FROM balances b JOIN accounts a ON a.id = b.account_id"
        " WHERE a.kind = 'member_drawn' AND b.balance > 0"
    ):
        problems.append(f"account {account} drew a negative number of points")
    (books,) = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM postings").fetchone()
    if books != 0:
        problems.append(f"the books do not close: all postings sum to {books}")
    return problems + lots.problems(conn)

"""The terminal's schema upgrades in place and keeps every sale and posting."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.flow import CashierFlow
from agent.ledger import accounts, book, db
from agent.rules import EarningRules
from common.pii import PiiVault


def _as_before_m005(path: Path) -> None:
    """Turn a current database back into one from before m005 (the old accounts CHECK)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    conn.execute(
        "CREATE TABLE accounts_old (id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN"
        " ('member_points', 'member_credit', 'system')), member_id TEXT REFERENCES members(id))"
    )
    conn.execute("INSERT INTO accounts_old SELECT * FROM accounts")
    conn.execute("DROP TABLE accounts")
    conn.execute("ALTER TABLE accounts_old RENAME TO accounts")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_member_drawn_accounts'")
    conn.execute("COMMIT")
    conn.close()


def test_member_drawn_accounts_arrive_without_losing_a_posting(tmp_path: Path) -> None:
    """GIVEN a terminal database from before m005 holding members, sales and postings
    WHEN the new version opens it
    THEN the accounts table is rebuilt to allow 'member_drawn', every account, posting and
    balance is still there, foreign keys hold, and the ledger verifies."""
    path = tmp_path / "old.sqlite3"
    vault = PiiVault(b"k" * 32)
    old = db.connect(path)
    flow = CashierFlow(old, vault, EarningRules())
    member = flow.enrol("09121234567", "سارا احمدی", consent=True)
    flow.sale(member.id, 1_500_000)
    flow.sale(member.id, 800_000, redeem_points=50)
    before = {
        "accounts": old.execute("SELECT * FROM accounts ORDER BY id").fetchall(),
        "postings": old.execute("SELECT * FROM postings ORDER BY entry_id, account_id").fetchall(),
    }
    old.close()
    _as_before_m005(path)

    conn = db.connect(path)

    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'accounts'").fetchone()
    assert "member_drawn" in sql
    assert [tuple(r) for r in conn.execute("SELECT * FROM accounts ORDER BY id")] == [
        tuple(r) for r in before["accounts"]
    ]
    assert [
        tuple(r) for r in conn.execute("SELECT * FROM postings ORDER BY entry_id, account_id")
    ] == [tuple(r) for r in before["postings"]]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert book.verify(conn) == []
    assert book.balance(conn, accounts.member_points(member.id)) == 150 - 50 + 80
    conn.execute(
        "INSERT INTO accounts (id, kind, member_id) VALUES (?, 'member_drawn', ?)",
        (accounts.member_drawn(member.id), member.id),
    )
    conn.close()
    assert db.connect(path).execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] >= 5

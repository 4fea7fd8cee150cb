"""The double-entry ledger: balanced, immutable, and equal to a replay."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.errors import IntegrityFailure, LedgerError
from agent.ledger import accounts, book, db
from agent.ledger.db import write_transaction
from common.protocol import Posting


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection = db.connect(tmp_path / "ledger.sqlite3")
    with write_transaction(connection):
        book.ensure_system_accounts(connection)
        connection.execute(
            "INSERT INTO accounts (id, kind) VALUES ('member:m1:points', 'member_points')"
        )
    return connection


def _earn(conn: sqlite3.Connection, points: int) -> book.Entry:
    legs = [Posting("member:m1:points", points), Posting(accounts.POINTS_ISSUED, -points)]
    with write_transaction(conn):
        return book.post(conn, "earn", legs, "2026-11-22T10:00:00+03:30")


def test_database_is_durable_by_configuration(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_balances_follow_entries_and_verify_is_clean(conn: sqlite3.Connection) -> None:
    _earn(conn, 120)
    _earn(conn, 30)
    assert book.balance(conn, "member:m1:points") == 150
    assert book.balance(conn, accounts.POINTS_ISSUED) == -150
    assert book.total_member_points(conn) == 150
    assert book.verify(conn) == []


def test_unbalanced_entry_is_refused_and_nothing_is_written(conn: sqlite3.Connection) -> None:
    legs = [Posting("member:m1:points", 10), Posting(accounts.POINTS_ISSUED, -9)]
    with pytest.raises(LedgerError, match="does not balance"), write_transaction(conn):
        book.post(conn, "earn", legs, "now")
    assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0
    assert book.balance(conn, "member:m1:points") == 0


def test_entries_cannot_be_updated_or_deleted(conn: sqlite3.Connection) -> None:
    entry = _earn(conn, 5)
    for statement in (
        "UPDATE postings SET amount = 500 WHERE entry_id = ?",
        "DELETE FROM postings WHERE entry_id = ?",
        "UPDATE entries SET kind = 'x' WHERE id = ?",
        "DELETE FROM entries WHERE id = ?",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            conn.execute(statement, (entry.id,))


def test_verify_reports_a_cache_that_drifted_from_the_replay(conn: sqlite3.Connection) -> None:
    _earn(conn, 40)
    conn.execute("UPDATE balances SET balance = 41 WHERE account_id = 'member:m1:points'")
    problems = book.verify(conn)
    assert any("member:m1:points" in p and "41" in p and "40" in p for p in problems)


def test_a_reversal_undoes_an_entry_without_touching_it(conn: sqlite3.Connection) -> None:
    entry = _earn(conn, 70)
    reverse = [Posting(p.account, -p.amount) for p in entry.postings]
    with write_transaction(conn):
        book.post(conn, "reverse", reverse, "now", reverses=entry.id)
    assert book.balance(conn, "member:m1:points") == 0
    assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 2
    assert book.verify(conn) == []


def test_boot_integrity_check_refuses_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    db.connect(path).close()
    raw = bytearray(path.read_bytes())
    raw[4096 : 4096 + 12] = b"\x00" * 12  # wipe the b-tree header of the second page
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityFailure, match=r"damaged|integrity"):
        db.connect(path)

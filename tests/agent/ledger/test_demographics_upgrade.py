"""A terminal database from before m008 gains the demographic columns and keeps its members."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.flow import CashierFlow
from agent.ledger import db
from agent.rules import EarningRules
from common.pii import PiiVault


def test_members_from_before_m008_keep_everything_and_can_be_told_apart(tmp_path: Path) -> None:
    """GIVEN a ledger whose members table has no demographic columns (as before m008)
    WHEN the new version opens it THEN the columns arrive empty, old members read as before,
    and a new enrolment stores gender, place and birth year."""
    path = tmp_path / "old.sqlite3"
    vault = PiiVault(b"k" * 32)
    conn = db.connect(path)
    old = CashierFlow(conn, vault, EarningRules()).enrol("09121234567", "سارا", True, "06-31")
    conn.close()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("DROP INDEX members_created")
    for column in ("gender", "province", "city", "birth_year"):
        raw.execute(f"ALTER TABLE members DROP COLUMN {column}")
    raw.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_member_demographics'")
    raw.close()

    conn = db.connect(path)
    flow = CashierFlow(conn, vault, EarningRules())
    again = flow.identify("09121234567")
    assert (again.id, again.name, again.birthday) == (old.id, "سارا", (6, 31))
    assert (again.gender, again.province, again.city, again.birth_year) == (None,) * 4
    new = flow.enrol("09121234568", "نیما", True, "1380/01/01", gender="m", province="یزد")
    assert flow.identify("09121234568").demographics == new.demographics
    assert new.birth_year == 1380 and new.city is None
    indexes = {row[1] for row in conn.execute("PRAGMA index_list('members')")}
    assert "members_created" in indexes
    conn.close()

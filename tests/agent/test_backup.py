"""Online backup and restore of the terminal's ledger."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from agent.backup import backup, check, restore
from agent.errors import IntegrityFailure, LedgerError
from agent.ledger import book
from agent.terminal import Terminal

MOMENT = dt.datetime(2026, 11, 22, 21, 30)


def _sell(terminal: Terminal, count: int) -> str:
    member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
    for index in range(count):
        terminal.flow.sale(member.id, 100_000 * (index + 1))
    return member.id


def test_a_backup_taken_while_selling_is_checked_and_private(terminal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a terminal with sales and its connection open WHEN a backup is taken
    THEN the copy passes the integrity check and the ledger replay, holds every sale,
    and only its owner may read it."""
    _sell(terminal, 5)
    info = backup(terminal.config.database, tmp_path / "backups", MOMENT)
    assert info.path.name == "vafa-ledger-20261122-213000.sqlite3"
    assert (info.sales, info.outbox_seq) == (5, 6)
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    with pytest.raises(LedgerError, match="exists already"):
        backup(terminal.config.database, tmp_path / "backups", MOMENT)


def test_restore_brings_a_damaged_terminal_back_to_the_backup(agent_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a backup, then more sales, then the ledger file damaged
    WHEN the backup is restored
    THEN the terminal opens, its ledger verifies, it holds the backed-up sales and members
    (their names readable with the same key), and the damaged file is gone."""
    terminal = Terminal(agent_config)
    member_id = _sell(terminal, 3)
    balance = terminal.flow.balance(member_id)
    info = backup(terminal.config.database, tmp_path / "backups", MOMENT)
    terminal.flow.sale(member_id, 900_000)
    terminal.close()
    live = agent_config.database
    raw = bytearray(live.read_bytes())
    raw[4096 : 4096 + 512] = b"\x00" * 512  # a bad sector in the first table pages
    live.write_bytes(bytes(raw))
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)

    restore(info.path, live)

    again = Terminal(agent_config)
    try:
        assert book.verify(again.conn) == []
        assert again.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] == 3
        assert again.flow.balance(member_id) == balance
        assert again.flow.identify("09121234567").name == "سارا احمدی"
        kept = [p.name for p in live.parent.iterdir() if ".damaged-" in p.name]
        assert kept and kept[0].startswith("ledger.sqlite3.damaged-")
    finally:
        again.close()


def test_a_healthy_newer_ledger_is_not_rolled_back(terminal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    member_id = _sell(terminal, 2)
    info = backup(terminal.config.database, tmp_path / "b", MOMENT)
    terminal.flow.sale(member_id, 100_000)
    with pytest.raises(LedgerError, match="newer than") as refused:
        restore(info.path, terminal.config.database)
    assert refused.value.fa == "دفتر فعلی از فایل پشتیبان تازه‌تر است"
    assert terminal.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] == 3


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_a_broken_backup_is_refused_and_the_live_ledger_kept(
    terminal, tmp_path: Path, content: bytes
) -> None:  # type: ignore[no-untyped-def]
    _sell(terminal, 1)
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(content)
    with pytest.raises(IntegrityFailure):
        restore(broken, terminal.config.database)
    assert terminal.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] == 1
    with pytest.raises(IntegrityFailure, match="no backup file"):
        check(tmp_path / "missing.sqlite3")


def test_a_terminal_restored_behind_the_cloud_syncs_again(enrolled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a terminal that synced sales made after its last backup, then lost its disk
    WHEN the backup is restored and the terminal pulls
    THEN its outbox sequence moves past what the cloud has seen, and new sales sync."""
    from agent.offline_queue import outbox
    from agent.offline_queue.pull import pull

    terminal, client, _app = enrolled
    member_id = _sell(terminal, 2)
    client.drain(terminal.conn, terminal.vault)
    info = backup(terminal.config.database, tmp_path / "b", MOMENT)
    for _ in range(3):
        terminal.flow.sale(member_id, 200_000)
    client.drain(terminal.conn, terminal.vault)  # the cloud has seqs 1..6
    terminal.conn.close()
    live = terminal.config.database
    for suffix in ("", "-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)  # the disk is gone

    restore(info.path, live)
    restored = Terminal(terminal.config)
    terminal.conn = restored.conn  # the fixture closes what it holds
    pull(client, restored.conn, restored.vault)
    restored.flow.sale(member_id, 100_000)
    client.drain(restored.conn, restored.vault)
    assert outbox.depth(restored.conn) == 0
    (seq,) = restored.conn.execute("SELECT MAX(seq) FROM outbox").fetchone()
    assert seq == 7

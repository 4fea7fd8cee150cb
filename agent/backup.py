"""Online backup and restore of the terminal's ledger, with SQLite's backup API.

A backup is taken while the agent runs (SQLite copies a consistent snapshot page by page,
WAL included) and is checked before it is called done: integrity check and a full ledger
replay on the copy. Restore checks the file the same way first, then copies it into the
live database through the same API, so the live file's WAL never meets a foreign file.
The PII key is not in the database: keep its own copy (``keys/pii.key``), or the restored
members' mobiles and names cannot be read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.errors import IntegrityFailure, LedgerError
from agent.ledger import book, db


@dataclass(frozen=True)
class BackupInfo:
    """What a checked backup file holds."""

    path: Path
    sales: int
    entries: int
    outbox_seq: int


def backup(live: Path, folder: Path, moment: dt.datetime) -> BackupInfo:
    """Copy the live ledger into ``folder`` as a dated file and check the copy."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"vafa-ledger-{moment:%Y%m%d-%H%M%S}.sqlite3"
    if target.exists():
        raise LedgerError(f"{target} exists already")
    source = db.connect(live)
    try:
        with contextlib.closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
    finally:
        source.close()
    target.chmod(0o600)  # it holds sealed PII and the whole ledger
    try:
        return check(target)
    except IntegrityFailure:
        target.unlink()
        raise


def check(path: Path) -> BackupInfo:
    """Check a backup file (integrity and a full ledger replay); describe what it holds."""
    if not path.is_file():
        raise IntegrityFailure(f"no backup file {path}", fa="فایل پشتیبان پیدا نشد")
    uri = f"file:{path}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise IntegrityFailure(f"{path} is damaged: {'; '.join(result)}")
            problems = book.verify(conn)
            (sales,) = conn.execute("SELECT COUNT(*) FROM sales").fetchone()
            (entries,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
            (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
    except sqlite3.DatabaseError as exc:
        raise IntegrityFailure(
            f"{path} is not a Vafa ledger: {exc}", fa="فایل پشتیبان خراب است"
        ) from exc
    if problems:
        raise IntegrityFailure(f"{path} fails the ledger check: {'; '.join(problems[:5])}")
    return BackupInfo(path, int(sales), int(entries), int(seq))


def restore(backup_file: Path, live: Path, force: bool = False) -> BackupInfo:
    """Replace the live ledger with a checked backup (the agent must be stopped).

    A healthy live ledger that holds events the backup lacks is never rolled back unless
    ``force``: those events may be at the cloud already. A damaged or missing one is.
    """
    info = check(backup_file)
    newer = _live_outbox_seq(live)
    if newer is not None and newer > info.outbox_seq and not force:
        raise LedgerError(
            f"the live ledger is newer than {backup_file} (outbox seq {newer} >"
            f" {info.outbox_seq}); restoring would lose its events (use --force if it must)",
            fa="دفتر فعلی از فایل پشتیبان تازه‌تر است",
        )
    if newer is None and live.exists():  # damaged: keep it aside for whoever investigates
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{live}{suffix}")
            if part.exists():
                part.rename(part.with_name(f"{part.name}.damaged-{stamp}"))
    with (
        contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(live)) as target,
    ):
        src.backup(target)
    db.connect(live).close()  # opens, migrates and checks the restored file
    return info


def _live_outbox_seq(live: Path) -> int | None:
    """Return the live ledger's last outbox seq, or None if it is missing or damaged."""
    if not live.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(live)) as conn:  # read-write: WAL readable
            if [row[0] for row in conn.execute("PRAGMA integrity_check")] != ["ok"]:
                return None
            (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
    except sqlite3.DatabaseError:
        return None
    return int(seq)

"""Opening the cloud database, on SQLite or PostgreSQL, with one code path."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import sqlalchemy as sa

from cloud.tables import metadata


def utcnow() -> dt.datetime:
    """Return the cloud's clock: the authority for order and time."""
    return dt.datetime.now(dt.UTC)


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema up to date."""
    # The first schema is created from the table definitions; named Alembic revisions take
    # over with the first change to a table that already holds data (issue #5).
    metadata.create_all(engine)

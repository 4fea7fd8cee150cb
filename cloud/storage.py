"""Opening the cloud database, on SQLite or PostgreSQL, with one code path."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite


def utcnow() -> dt.datetime:
    """Return the cloud's clock: the authority for order and time."""
    return dt.datetime.now(dt.UTC)


def upsert_into(conn: sa.Connection, table: sa.Table) -> Any:
    """Return the dialect's INSERT for ``table``, which has ``on_conflict_do_update`` (the
    same construct on PostgreSQL and SQLite, each from its own dialect)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table)


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


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Return the Alembic configuration of the cloud's named migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: sa.Engine) -> None:
    """Apply every pending named migration, in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")

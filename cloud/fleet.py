"""Stores, their one-time enrolment codes, and the terminals enrolled with them."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
from typing import Any

import sqlalchemy as sa

from cloud.errors import BadRequest, Forbidden, NotFound, Unauthorized
from cloud.storage import utcnow
from cloud.tables import enrolment_codes, stores, terminals
from common.protocol import new_id
from common.signing import load_public_key

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
CODE_TTL = dt.timedelta(hours=24)


def create_store(conn: sa.Connection, name: str) -> str:
    """Create a store and return its id."""
    name = name.strip()
    if not name or len(name) > 200 or not readable(name):
        raise BadRequest("store name must be 1–200 characters, no control characters", field="name")
    store_id = new_id()
    conn.execute(sa.insert(stores).values(id=store_id, name=name, created_at=utcnow()))
    return store_id


def readable(text: str) -> bool:
    """Say whether text holds no control characters and no lone surrogates."""
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


def create_enrolment_code(conn: sa.Connection, store_id: str) -> str:
    """Return a fresh one-time code (e.g. 7KQM-2XPA) for enrolling a terminal in a store."""
    if conn.execute(sa.select(stores.c.id).where(stores.c.id == store_id)).first() is None:
        raise NotFound(f"no store {store_id}")
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    now = utcnow()
    conn.execute(
        sa.insert(enrolment_codes).values(
            code_hash=_hash_code(raw), store_id=store_id, created_at=now, expires_at=now + CODE_TTL
        )
    )
    return f"{raw[:4]}-{raw[4:]}"


def enroll_terminal(
    conn: sa.Connection, code: str, public_key: str, hostname: str
) -> dict[str, Any]:
    """Spend a one-time code to register a terminal's public key; return its identity."""
    load_public_key(public_key)
    now = utcnow()
    row = conn.execute(
        sa.select(enrolment_codes).where(enrolment_codes.c.code_hash == _hash_code(code))
    ).first()
    if row is None or row.used_at is not None or _aware(row.expires_at) < now:
        raise Unauthorized("enrolment code unknown, used or expired", code="bad_code")
    spent = conn.execute(
        sa.update(enrolment_codes)
        .where(enrolment_codes.c.code_hash == row.code_hash, enrolment_codes.c.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise Unauthorized("enrolment code already used", code="bad_code")
    terminal_id = new_id()
    conn.execute(
        sa.insert(terminals).values(
            id=terminal_id,
            store_id=row.store_id,
            public_key=public_key,
            # PostgreSQL refuses NUL in text; a hostname is informational, so drop the junk.
            hostname="".join(ch for ch in hostname if ch.isprintable())[:200],
            created_at=now,
        )
    )
    store_name = conn.execute(
        sa.select(stores.c.name).where(stores.c.id == row.store_id)
    ).scalar_one()
    return {"terminal_id": terminal_id, "store_id": row.store_id, "store_name": store_name}


def revoke_terminal(conn: sa.Connection, terminal_id: str) -> None:
    """Revoke a terminal: its signed requests are refused from now on."""
    done = conn.execute(
        sa.update(terminals)
        .where(terminals.c.id == terminal_id, terminals.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if done.rowcount != 1:
        raise NotFound(f"no active terminal {terminal_id}")


def active_terminal(conn: sa.Connection, terminal_id: str) -> sa.Row[Any]:
    """Return an enrolled, unrevoked terminal, or raise."""
    row = conn.execute(sa.select(terminals).where(terminals.c.id == terminal_id)).first()
    if row is None:
        raise Unauthorized(f"unknown terminal {terminal_id}")
    if row.revoked_at is not None:
        raise Forbidden(f"terminal {terminal_id} is revoked", code="revoked")
    return row


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


MAX_QUEUE_DEPTH = 1_000_000_000
VERSION = re.compile(r"[0-9A-Za-z.+_-]{1,40}")  # a package version, e.g. 0.1.0 or 1.2.0rc1


def record_report(conn: sa.Connection, terminal_id: str, body: Any) -> None:
    """Keep what a signed sync request says of its terminal (``body["agent"]``: the agent's
    version and outbox depth) for HQ's fleet page; a request without it changes nothing."""
    report = body.get("agent") if isinstance(body, dict) else None
    if report is None:
        return
    if not isinstance(report, dict):
        raise BadRequest("agent must be an object", field="agent")
    version, depth = report.get("version"), report.get("queue_depth")
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise BadRequest("agent.version must be 1-40 of 0-9 A-Z a-z . + _ -", field="agent.version")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_QUEUE_DEPTH:
        raise BadRequest(
            "agent.queue_depth must be a non-negative integer", field="agent.queue_depth"
        )
    conn.execute(
        sa.update(terminals)
        .where(terminals.c.id == terminal_id)
        .values(agent_version=version, queue_depth=depth, reported_at=utcnow())
    )

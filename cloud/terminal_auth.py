"""Verify that a request comes from an enrolled, unrevoked terminal, exactly once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from cloud.errors import Unauthorized
from cloud.fleet import active_terminal
from cloud.storage import utcnow
from cloud.tables import nonces
from common.errors import SignatureError, StaleTime
from common.signing import MAX_SKEW_SECONDS, load_public_key, read_key_id, verify_request


def authenticate(
    conn: sa.Connection, headers: Mapping[str, str], method: str, path: str, body: bytes
) -> sa.Row[Any]:
    """Return the terminal that signed this request; refuse forgeries, stale times, replays."""
    try:
        terminal = active_terminal(conn, read_key_id(headers))
        signed = verify_request(
            load_public_key(terminal.public_key),
            headers,
            method,
            path,
            body,
            now=utcnow().timestamp(),
        )
    except SignatureError as exc:
        code = "stale_time" if isinstance(exc, StaleTime) else "bad_signature"
        raise Unauthorized(str(exc), fa=exc.fa, code=code) from exc
    _spend_nonce(conn, terminal.id, signed.nonce)
    return terminal


def _spend_nonce(conn: sa.Connection, terminal_id: str, nonce: str) -> None:
    now = utcnow()
    conn.execute(
        sa.delete(nonces).where(nonces.c.seen_at < now - dt.timedelta(seconds=2 * MAX_SKEW_SECONDS))
    )
    try:
        with conn.begin_nested():
            conn.execute(
                sa.insert(nonces).values(terminal_id=terminal_id, nonce=nonce, seen_at=now)
            )
    except sa.exc.IntegrityError as exc:
        raise Unauthorized("nonce already used: replayed request", code="replay") from exc

"""Book the points and credit the cloud gives members (reviews, surveys, referrals, gifts).

A grant arrives with a pull and is booked in the same transaction: a balanced entry (a lot
for points), a row keyed by the grant id so a grant sent again is never booked twice, and a
``grant.applied`` event that tells the cloud it landed. A grant marked ``gift`` (a
scenario's surprise) is also shown on the member card until the cashier hands it over
(``agent/gifts.py``); its points are booked here, at the pull, like any grant.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from agent.errors import InputError
from agent.ledger import accounts, book, lots
from agent.offline_queue import outbox
from agent.rules import EarningRules
from common.pii import PiiVault
from common.protocol import Posting

KINDS = ("points", "credit")


def apply_grant(
    conn: sqlite3.Connection,
    vault: PiiVault,
    grant: dict[str, Any],
    rules: EarningRules,
    moment: dt.datetime,
) -> bool:
    """Book one grant inside the caller's transaction; return False if it was booked before."""
    grant_id, member_id, kind, amount = _check(grant)
    if conn.execute("SELECT 1 FROM grants WHERE grant_id = ?", (grant_id,)).fetchone():
        return False
    now = moment.isoformat()
    memo = f"grant {grant_id}: {grant.get('reason', '')}"[:200]
    if kind == "points":
        legs = [Posting(accounts.member_points(member_id), amount)]
        legs.append(Posting(accounts.POINTS_ISSUED, -amount))
    else:
        legs = [Posting(accounts.member_credit(member_id), amount)]
        legs.append(Posting(accounts.CREDIT_FLOAT, -amount))
    entry = book.post(conn, "grant", legs, now, memo=memo)
    if kind == "points":
        expires = moment + dt.timedelta(days=rules.points_validity_days)
        lots.open_lot(conn, entry.id, member_id, amount, now, expires.isoformat())
    payload = {
        "grant_id": grant_id,
        "member_id": member_id,
        "kind": kind,
        "amount": amount,
        "reason": str(grant.get("reason", "")),
        "entries": [entry.to_wire()],
    }
    event = outbox.enqueue(conn, vault, "grant.applied", payload, now)
    conn.execute(
        "INSERT INTO grants (grant_id, member_id, kind, amount, reason, note, entry_id,"
        " event_id, applied_at, gift) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            grant_id,
            member_id,
            kind,
            amount,
            payload["reason"],
            str(grant.get("note", "")),
            entry.id,
            event.id,
            now,
            1 if grant.get("gift") is True else 0,
        ),
    )
    return True


def _check(grant: dict[str, Any]) -> tuple[str, str, str, int]:
    grant_id, member_id = grant.get("grant_id"), grant.get("member_id")
    kind, amount = grant.get("kind"), grant.get("amount")
    if not (isinstance(grant_id, str) and len(grant_id) == 32 and isinstance(member_id, str)):
        raise InputError(f"grant without a proper grant_id or member_id: {grant!r}"[:300])
    if kind not in KINDS or isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise InputError(f"grant {grant_id} has a bad kind or amount")
    return grant_id, member_id, str(kind), amount


def credit(conn: sqlite3.Connection, member_id: str) -> int:
    """Return a member's credit in Rials, as this terminal holds it."""
    return book.balance(conn, accounts.member_credit(member_id))

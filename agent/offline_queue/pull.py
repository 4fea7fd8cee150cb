"""Pull from the cloud what the terminal needs offline: rules, member snapshots, grants and
the store's open notes from HQ's scenarios.

Everything one pull brings is applied in one transaction, with the cursor and the rules'
ETag saved beside it, so a crash between pulls never leaves half a snapshot.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from agent import gifts, members, owner_notes
from agent.errors import InputError, SyncError
from agent.grants import apply_grant
from agent.ledger.db import write_transaction
from agent.offline_queue.sync import SyncClient, report
from agent.rules import EarningRules
from common.errors import VafaError
from common.persian import now_tehran
from common.pii import PiiVault

log = logging.getLogger(__name__)

PULL_PATH = "/api/v1/sync/pull"
RULES_KEY, ETAG_KEY, CURSOR_KEY = "earning_rules", "earning_rules_etag", "members_cursor"
MAX_PAGES = 1_000


@dataclass
class PullResult:
    """What one pull changed."""

    members: int = 0
    rules_changed: bool = False
    grants: int = 0


def setting(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    """Return a stored setting."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def _store(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def load_rules(conn: sqlite3.Connection) -> EarningRules:
    """Return the rules last pulled from the cloud, or the embedded defaults."""
    text = setting(conn, RULES_KEY)
    return EarningRules.from_dict(json.loads(text)) if text else EarningRules()


def pull(client: SyncClient, conn: sqlite3.Connection, vault: PiiVault) -> PullResult:
    """Fetch rules and every changed member page by page; apply each page atomically."""
    result = PullResult()
    for _ in range(MAX_PAGES):
        answer = client.post_signed(
            PULL_PATH,
            {
                "members_cursor": int(setting(conn, CURSOR_KEY, "0")),
                "rules_etag": setting(conn, ETAG_KEY),
                "agent": report(conn),
            },
        )
        page = _apply(conn, vault, answer)
        result.members += page.members
        result.rules_changed |= page.rules_changed
        result.grants += page.grants
        if not answer.get("more"):
            return result
    raise SyncError(f"pull did not finish in {MAX_PAGES} pages")


def _apply(conn: sqlite3.Connection, vault: PiiVault, answer: dict[str, Any]) -> PullResult:
    rules = answer.get("rules")
    snapshots, cursor = answer.get("members"), answer.get("members_cursor")
    grants = answer.get("grants", [])
    if (
        not isinstance(snapshots, list)
        or not isinstance(grants, list)
        or isinstance(cursor, bool)
        or not isinstance(cursor, int)
    ):
        raise SyncError(f"the cloud's pull answer is malformed: {sorted(answer)}")
    if rules is not None:
        try:  # refuse rules this terminal cannot use, before storing anything
            EarningRules.from_dict(rules)
        except (InputError, AttributeError) as exc:
            raise SyncError(
                f"the cloud sent earning rules this terminal cannot use: {exc}"
            ) from exc
    moment = now_tehran()
    now = moment.isoformat()
    applied = booked = 0
    with write_transaction(conn):
        if rules is not None:
            _store(conn, RULES_KEY, json.dumps(rules, ensure_ascii=False))
            _store(conn, ETAG_KEY, str(answer["rules_etag"]))
        for snapshot in snapshots:
            conn.execute("SAVEPOINT snapshot")
            try:
                members.apply_snapshot(conn, vault, snapshot, now)
                applied += 1
            except (VafaError, KeyError, TypeError) as exc:
                # e.g. the same mobile enrolled here, offline, under another id: the cloud
                # refuses that enrolment and the member arrives under the cloud's id later.
                conn.execute("ROLLBACK TO snapshot")
                log.warning("member snapshot %s not applied: %s", snapshot.get("member_id"), exc)
            conn.execute("RELEASE snapshot")
        earning = load_rules(conn) if grants else EarningRules()  # rules only for a lot's expiry
        for grant in grants:
            conn.execute("SAVEPOINT grant")
            try:
                booked += apply_grant(conn, vault, grant, earning, moment)
            except (VafaError, sqlite3.IntegrityError, AttributeError) as exc:
                # e.g. a member this terminal does not know yet: the cloud sends it again.
                conn.execute("ROLLBACK TO grant")
                log.warning("grant not booked: %s", exc)
            conn.execute("RELEASE grant")
        if isinstance(answer.get("owner_notes"), list):  # absent from older clouds
            owner_notes.replace(conn, answer["owner_notes"])
        if isinstance(answer.get("store_gifts"), list):  # absent from older clouds
            gifts.replace_store_list(conn, answer["store_gifts"], now)
        _store(conn, CURSOR_KEY, str(cursor))
        _skip_used_seqs(conn, answer.get("highest_seq"))
    return PullResult(applied, rules is not None, booked)


def _skip_used_seqs(conn: sqlite3.Connection, highest: Any) -> None:
    """Move the outbox sequence past what the cloud has seen from this terminal.

    Only a ledger restored from a backup is ever behind: without this its next events
    would reuse seqs the cloud holds for other events, and be refused for ever.
    """
    if isinstance(highest, bool) or not isinstance(highest, int):
        return
    behind = conn.execute(
        "UPDATE counters SET value = ? WHERE name = 'outbox_seq' AND value < ? RETURNING value",
        (highest, highest),
    ).fetchone()
    if behind is not None:
        log.warning("outbox sequence moved to %d, past what the cloud has seen", highest)

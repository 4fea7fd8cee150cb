"""What a terminal pulls from the cloud: the earning rules and member snapshots.

Members carry a ``version`` taken from a chain-wide counter and bumped whenever the
member or their points change; a terminal asks for the members whose version passed its
cursor, so a pull sends only what changed. Snapshots cover the terminal's own store's
members and the members active anywhere in the chain recently, so a member who shops in
another branch is recognised at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa

from cloud.balances import chain_balances
from cloud.coupons import open_coupons
from cloud.errors import BadRequest
from cloud.grants import deliver, waiting_gifts
from cloud.owner_notes import open_for_store
from cloud.storage import utcnow
from cloud.tables import member_suggestions, members, sales, settings
from common.pii import PiiVault

RULES_KEY = "earning_rules"
RECENT = dt.timedelta(days=30)
PAGE = 1_000


def set_rules(conn: sa.Connection, rules: Any) -> str:
    """Store the chain's earning rules (a JSON object); return their ETag."""
    if not isinstance(rules, dict):
        raise BadRequest("rules must be a JSON object", field="rules")
    text = json.dumps(rules, ensure_ascii=False, sort_keys=True)
    values = {"value": text, "updated_at": utcnow()}
    done = conn.execute(sa.update(settings).where(settings.c.key == RULES_KEY).values(**values))
    if done.rowcount == 0:
        conn.execute(sa.insert(settings).values(key=RULES_KEY, **values))
    return _etag(text)


def get_rules(conn: sa.Connection) -> tuple[dict[str, Any], str]:
    """Return the chain's earning rules and their ETag ({} and the ETag of {} if unset)."""
    text = conn.execute(sa.select(settings.c.value).where(settings.c.key == RULES_KEY)).scalar()
    text = text or "{}"
    return json.loads(text), _etag(text)


def _etag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def pull(conn: sa.Connection, vault: PiiVault, terminal: sa.Row[Any], body: Any) -> dict[str, Any]:
    """Answer a terminal's pull: rules if their ETag changed, and members past its cursor."""
    if not isinstance(body, dict):
        raise BadRequest("body must be an object", field="body")
    cursor = body.get("members_cursor", 0)
    if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
        raise BadRequest("members_cursor must be a non-negative integer", field="members_cursor")
    rules, etag = get_rules(conn)
    rows, more = _changed_members(conn, terminal, cursor)
    elsewhere = chain_balances(conn, [row.id for row in rows], except_terminal=terminal.id)
    offers = open_coupons(conn, [row.id for row in rows])
    likely = suggestions(conn, [row.id for row in rows])
    return {
        "rules": rules if body.get("rules_etag") != etag else None,
        "rules_etag": etag,
        "members": [
            _snapshot(vault, row, elsewhere.get(row.id, 0), offers[row.id], likely.get(row.id, []))
            for row in rows
        ],
        "members_cursor": rows[-1].version if rows else cursor,
        "more": more,
        "highest_seq": terminal.highest_seq,  # a terminal restored from a backup skips past it
        # Grants only with the last page, when every member they name has been sent.
        "grants": [] if more else deliver(conn, terminal),
        # The store's open notes from scenarios, whole, with the last page only.
        **({} if more else {"owner_notes": open_for_store(conn, terminal.store_id)}),
        # The store's gifts waiting for a hand-over at any till, whole, after the grants.
        **({} if more else {"store_gifts": waiting_gifts(conn, terminal)}),
    }


def _changed_members(
    conn: sa.Connection, terminal: sa.Row[Any], cursor: int
) -> tuple[list[Any], bool]:
    recent_buyers = sa.select(sales.c.member_id).where(sales.c.received_at >= utcnow() - RECENT)
    query = sa.select(members).where(
        sa.or_(members.c.home_store_id == terminal.store_id, members.c.id.in_(recent_buyers))
    )
    rows = list(
        conn.execute(
            query.where(members.c.version > cursor).order_by(members.c.version).limit(PAGE)
        )
    )
    if len(rows) < PAGE:
        return rows, False
    # Never cut a version in two: the cursor moves past a version only when all of it was sent.
    last: int = rows[-1].version
    whole = [row for row in rows if row.version < last]
    if not whole:
        whole = list(conn.execute(query.where(members.c.version == last)))
    return whole, True


MAX_SUGGESTIONS = 2  # what fits on the till's member card


def suggestions(conn: sa.Connection, member_ids: list[str]) -> dict[str, list[str]]:
    """Return each member's categories "not bought yet, but likely" (the last analytics
    run's best by co-purchase lift), for the cashier to offer. They travel with the
    member's snapshot, so a terminal sees new ones when the member next changes."""
    found: dict[str, list[str]] = {}
    if not member_ids:
        return found
    rows = conn.execute(
        sa.select(member_suggestions.c.member_id, member_suggestions.c.category)
        .where(
            member_suggestions.c.member_id.in_(member_ids),
            member_suggestions.c.rank <= MAX_SUGGESTIONS,
        )
        .order_by(member_suggestions.c.member_id, member_suggestions.c.rank)
    )
    for member_id, category in rows:
        found.setdefault(member_id, []).append(category)
    return found


def _snapshot(
    vault: PiiVault,
    row: Any,
    elsewhere: int,
    offers: list[dict[str, Any]],
    likely: list[str],
) -> dict[str, Any]:
    return {
        "member_id": row.id,
        "card_code": row.card_code,
        "mobile": vault.decrypt(row.id, row.mobile_enc),
        "name": vault.decrypt(row.id, row.name_enc),
        "birthday": vault.decrypt(row.id, row.birthday_enc) if row.birthday_enc else None,
        "tier": row.tier,
        "marketing_consent": row.marketing_consent,
        "gender": row.gender,
        "province": row.province,
        "city": row.city,
        "birth_year": row.birth_year,
        "points_elsewhere": elsewhere,
        "coupons": offers,
        "suggestions": likely,
    }

"""Coupons: a Rial discount for one member, with an expiry, honoured offline at any store.

A coupon travels to terminals inside its member's snapshot (creating or using one bumps the
member's version). A sale that used it names it; the cloud counts the uses, so a coupon
honoured by two offline stores is recorded twice and visible, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from cloud.errors import BadRequest, NotFound
from cloud.fleet import readable
from cloud.storage import utcnow
from cloud.tables import coupons, members
from cloud.versions import bump_members

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud at the counter
MAX_VALUE_RIAL = 1_000_000_000


def new_code() -> str:
    """Return a fresh coupon code (CP- and ten characters a cashier can read aloud)."""
    return "CP-" + "".join(secrets.choice(ALPHABET) for _ in range(10))


def create_coupon(
    conn: sa.Connection,
    member_id: str,
    value_rial: int,
    valid_days: int,
    reason: str,
    created_by: str,
    min_purchase_rial: int = 0,
) -> str:
    """Issue a coupon to a member; return its code."""
    for name, value, high in (
        ("value_rial", value_rial, MAX_VALUE_RIAL),
        ("valid_days", valid_days, 3650),
        ("min_purchase_rial", min_purchase_rial, MAX_VALUE_RIAL * 100),
    ):
        low = 0 if name == "min_purchase_rial" else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadRequest(f"{name} must be {low}..{high}", field=name)
    if not reason.strip() or len(reason) > 40 or not readable(reason):
        raise BadRequest("reason must be 1-40 characters, no control ones", field="reason")
    if conn.execute(sa.select(members.c.id).where(members.c.id == member_id)).first() is None:
        raise NotFound(f"unknown member {member_id}", fa="این عضو پیدا نشد", field="member_id")
    code, now = new_code(), utcnow()
    conn.execute(
        sa.insert(coupons).values(
            code=code,
            member_id=member_id,
            value_rial=value_rial,
            min_purchase_rial=min_purchase_rial,
            expires_at=now + dt.timedelta(days=valid_days),
            reason=reason.strip(),
            created_by=created_by,
            created_at=now,
        )
    )
    bump_members(conn, [member_id])
    return code


def open_coupons(conn: sa.Connection, member_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Return each member's unused, unexpired coupons as terminals receive them."""
    ids = list(member_ids)
    found: dict[str, list[dict[str, Any]]] = {member_id: [] for member_id in ids}
    if not ids:
        return found
    rows = conn.execute(
        sa.select(coupons)
        .where(
            coupons.c.member_id.in_(ids),
            coupons.c.uses == 0,
            coupons.c.expires_at > utcnow(),
        )
        .order_by(coupons.c.expires_at, coupons.c.code)
    )
    for row in rows:
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        found[row.member_id].append(
            {
                "code": row.code,
                "value_rial": row.value_rial,
                "min_purchase_rial": row.min_purchase_rial,
                "expires_at": expires.isoformat(),
            }
        )
    return found


def record_uses(conn: sa.Connection, used: list[tuple[str, str]], when: dt.datetime) -> None:
    """Count each use of a coupon ((code, sale id) pairs, in order); keep the first sale."""
    for code, sale_id in used:
        conn.execute(
            sa.update(coupons)
            .where(coupons.c.code == code)
            .values(
                uses=coupons.c.uses + 1,
                sale_id=sa.func.coalesce(coupons.c.sale_id, sale_id),
                redeemed_at=sa.func.coalesce(coupons.c.redeemed_at, when),
            )
        )

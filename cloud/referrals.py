"""The referral programme: a member enrols with another's code; when the new member first
buys, both get points — once, and at most ``MONTHLY_CAP`` times a Jalali month per referrer.

A code nobody holds, or one two members share, refers nobody (the enrolment still counts).
The points are grants: each member's home-store terminal books them at its next pull.
"""

from __future__ import annotations

from collections.abc import Iterable

import jdatetime
import sqlalchemy as sa

from cloud.grants import create_grant
from cloud.snapshots import get_rules
from cloud.storage import utcnow
from cloud.tables import members, referral_rewards
from common.referral import normalise_code

MONTHLY_CAP = 10
DEFAULT_POINTS = 300


def link_referrer(conn: sa.Connection, member_id: str, typed_code: object) -> str | None:
    """Record who referred a new member; return the referrer's id or None."""
    code = normalise_code(typed_code) if isinstance(typed_code, str) else None
    if code is None:
        return None
    holders = list(
        conn.execute(
            sa.select(members.c.id).where(
                members.c.referral_code == code, members.c.id != member_id
            )
        ).scalars()
    )
    if len(holders) != 1:
        return None  # nobody, or ambiguous
    conn.execute(sa.update(members).where(members.c.id == member_id).values(referred_by=holders[0]))
    return str(holders[0])


def reward_first_purchases(conn: sa.Connection, buyers: Iterable[str]) -> int:
    """Reward the referrals of members who just bought for the first time; return how many."""
    ids = sorted(set(buyers))
    if not ids:
        return 0
    waiting = conn.execute(
        sa.select(members.c.id, members.c.referred_by).where(
            members.c.id.in_(ids),
            members.c.referred_by.is_not(None),
            members.c.id.not_in(sa.select(referral_rewards.c.referred_id)),
        )
    ).all()
    month = jdatetime.date.today().strftime("%Y-%m")
    points = int(get_rules(conn)[0].get("referral_points", DEFAULT_POINTS))
    rewarded = 0
    for referred, referrer in waiting:
        given = conn.execute(
            sa.select(sa.func.count()).where(
                referral_rewards.c.referrer_id == referrer,
                referral_rewards.c.month == month,
                referral_rewards.c.outcome == "rewarded",
            )
        ).scalar_one()
        outcome = "rewarded" if given < MONTHLY_CAP else "capped"
        conn.execute(
            sa.insert(referral_rewards).values(
                referred_id=referred,
                referrer_id=referrer,
                month=month,
                outcome=outcome,
                created_at=utcnow(),
            )
        )
        if outcome == "rewarded":
            for member_id in (referrer, referred):
                create_grant(
                    conn,
                    member_id,
                    "points",
                    points,
                    "referral",
                    "referral",
                    note="هدیه معرفی دوستان",
                )
            rewarded += 1
    return rewarded

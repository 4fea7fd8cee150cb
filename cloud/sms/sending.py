"""Send SMS to members under the rules, and follow what happens to them.

A marketing text goes only to a member who consented, only inside the sending window
(08:00–21:00 Tehran time unless configured), and always ends with «لغو ۱۱». A service
text (a one-time code, a receipt) needs neither. Every text sent is logged sealed in
``sms_messages``; delivery reports update the log; replies of 11 / ۱۱ / لغو opt the member
out and 12 opts them back in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from cloud.sms.providers import STATUSES, SmsError, SmsProvider
from cloud.sms.text import MAX_PARTS, parts, reply_intent, with_opt_out
from cloud.storage import utcnow
from cloud.tables import members, sms_messages
from cloud.versions import bump_members
from common.errors import InvalidMobile, VafaError
from common.mobile import normalize_mobile
from common.persian import TEHRAN
from common.pii import PiiVault
from common.protocol import new_id

log = logging.getLogger(__name__)
WINDOW = (dt.time(8, 0), dt.time(21, 0))  # marketing texts only inside [start, end)
FINAL = ("delivered", "undelivered", "blocked", "failed")


class NotSent(VafaError):
    """A text the rules kept back (no consent, quiet hours, too long)."""

    fa = "پیامک فرستاده نشد"

    def __init__(self, message: str, reason: str, fa: str | None = None) -> None:
        super().__init__(message, fa)
        self.reason = reason


@dataclass(frozen=True)
class Sent:
    """A text that left through the provider."""

    message_id: str
    provider_id: str
    parts: int


def in_window(moment: dt.datetime, window: tuple[dt.time, dt.time] = WINDOW) -> bool:
    """Say whether a marketing text may be sent at this moment (Tehran time)."""
    local = moment.astimezone(TEHRAN).time()
    return window[0] <= local < window[1]


def send_to_member(
    conn: sa.Connection,
    vault: PiiVault,
    provider: SmsProvider,
    member_id: str,
    text: str,
    purpose: str,
    marketing: bool,
    moment: dt.datetime,
    window: tuple[dt.time, dt.time] = WINDOW,
) -> Sent:
    """Send one text to a member under the rules and log it; raise NotSent if kept back."""
    row = conn.execute(sa.select(members).where(members.c.id == member_id)).first()
    if row is None:
        raise NotSent(f"no member {member_id}", reason="unknown_member")
    if marketing:
        if not row.marketing_consent:
            raise NotSent(f"member {member_id} has not consented", reason="no_consent")
        if not in_window(moment, window):
            raise NotSent(
                f"outside the sending window {window[0]:%H:%M}-{window[1]:%H:%M} Tehran",
                reason="quiet_hours",
                fa="خارج از ساعت مجاز ارسال",
            )
        text = with_opt_out(text)
    count = parts(text)
    if count > MAX_PARTS:
        raise NotSent(f"text takes {count} parts (at most {MAX_PARTS})", reason="too_long")
    provider_id = provider.send(vault.decrypt(member_id, row.mobile_enc), text)
    message_id = new_id()
    conn.execute(
        sa.insert(sms_messages).values(
            id=message_id,
            member_id=member_id,
            purpose=purpose[:40],
            marketing=marketing,
            provider=provider.name,
            provider_id=provider_id,
            parts=count,
            body_enc=vault.encrypt(message_id, text),
            status="sent",
            created_at=utcnow(),
        )
    )
    return Sent(message_id, provider_id, count)


def poll_deliveries(conn: sa.Connection, provider: SmsProvider, limit: int = 500) -> int:
    """Ask the provider about texts not yet final; record changes; return how many changed."""
    waiting = dict(
        conn.execute(
            sa.select(sms_messages.c.provider_id, sms_messages.c.id)
            .where(sms_messages.c.provider == provider.name, sms_messages.c.status.not_in(FINAL))
            .order_by(sms_messages.c.created_at)
            .limit(limit)
        ).all()
    )
    try:
        reported = provider.statuses(list(waiting))
    except SmsError as exc:
        log.warning("delivery reports unavailable: %s", exc)
        return 0
    changed = 0
    for provider_id, status in reported.items():
        if provider_id in waiting and status in STATUSES:
            done = conn.execute(
                sa.update(sms_messages)
                .where(sms_messages.c.id == waiting[provider_id], sms_messages.c.status != status)
                .values(status=status, status_at=utcnow())
            )
            changed += done.rowcount
    return changed


def handle_replies(conn: sa.Connection, vault: PiiVault, provider: SmsProvider) -> dict[str, int]:
    """Apply opt-out (11, ۱۱, لغو) and opt-in (12) replies; count what was done."""
    counts = {"opt_out": 0, "opt_in": 0, "ignored": 0}
    for reply in provider.inbound():
        intent = reply_intent(reply.text)
        member_id = _member_by_mobile(conn, vault, reply.sender)
        if intent is None or member_id is None:
            counts["ignored"] += 1
            continue
        conn.execute(
            sa.update(members)
            .where(members.c.id == member_id)
            .values(marketing_consent=intent == "opt_in")
        )
        bump_members(conn, [member_id])  # terminals learn the member's choice at next pull
        counts[intent] += 1
    return counts


def _member_by_mobile(conn: sa.Connection, vault: PiiVault, sender: str) -> str | None:
    try:
        digest = vault.lookup_hash(normalize_mobile(sender))
    except InvalidMobile:
        return None
    found: str | None = conn.execute(
        sa.select(members.c.id).where(members.c.mobile_hmac == digest)
    ).scalar()
    return found

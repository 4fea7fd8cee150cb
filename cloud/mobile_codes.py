"""One-time codes that prove a new member holds the mobile they give at enrolment.

A terminal asks for a code for a mobile; the cloud makes a random six-digit code, keeps
only its keyed HMAC with an expiry and an attempt count (``mobile_codes``), and texts it
through the configured provider as a service message (no consent, quiet hours or «لغو ۱۱»:
the person is at the till asking for it). The same terminal then verifies what the member
read out: a limited number of attempts, compared in constant time, and a verified code
cannot be verified again. The answer names the code's row (``check_id``); the enrolment
event that follows carries it, and ingest marks the row with the new member
(``claim_checks``), so "verified" is the cloud's own record, never only the terminal's word.

Requests are limited per mobile (a pause between codes, a cap per hour) and per terminal
(a cap per hour). Refusals carry a Persian message for the cashier and an English one for
logs; no log line holds the mobile or the code.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import math
import secrets
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from cloud.context import ctx
from cloud.errors import BadRequest, CloudError, Conflict
from cloud.sms.providers import SmsError, SmsProvider, provider_from_config
from cloud.sms.text import parts, render
from cloud.storage import upsert_into, utcnow
from cloud.tables import members, mobile_code_locks, mobile_codes, terminals
from common.errors import InvalidMobile
from common.mobile import normalize_mobile
from common.persian import to_ascii_digits, to_persian_digits
from common.pii import PiiVault
from common.protocol import new_id

log = logging.getLogger(__name__)

DIGITS = 6
TEXT = "کد عضویت باشگاه مشتریان: {code}\nاین کد تا {minutes} دقیقه اعتبار دارد."
KEEP = dt.timedelta(days=1)  # how long a code never verified is kept
SMS_TIMEOUT = 3.0  # the cashier waits for the answer; the terminal's own timeout is longer
PURPOSE = "otp"  # what HQ's SMS log files a code's text under (shown as «کد تأیید»)
# Parts of a code's text at its longest (a TTL of 99 minutes): one.
SMS_PARTS = parts(render(TEXT, {"code": "0" * DIGITS, "minutes": 99}))


@dataclass(frozen=True)
class Limits:
    """How long a code lives and how often codes may be asked for."""

    ttl: dt.timedelta = dt.timedelta(minutes=5)
    attempts: int = 5  # wrong tries before the code is dead
    resend_after: dt.timedelta = dt.timedelta(seconds=60)  # per mobile
    per_mobile_hour: int = 5
    per_terminal_hour: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        """Read MOBILE_CODE_* overrides (seconds and counts) from the app's config."""
        base = cls()
        return cls(
            ttl=dt.timedelta(seconds=config.get("MOBILE_CODE_TTL_S", base.ttl.total_seconds())),
            attempts=int(config.get("MOBILE_CODE_ATTEMPTS", base.attempts)),
            resend_after=dt.timedelta(
                seconds=config.get("MOBILE_CODE_RESEND_S", base.resend_after.total_seconds())
            ),
            per_mobile_hour=int(config.get("MOBILE_CODE_PER_MOBILE_HOUR", base.per_mobile_hour)),
            per_terminal_hour=int(
                config.get("MOBILE_CODE_PER_TERMINAL_HOUR", base.per_terminal_hour)
            ),
        )


class RateLimited(CloudError):
    """Too many codes asked for a mobile or by a terminal."""

    status, code, fa = 429, "rate_limited", "درخواست کد بیش از حد مجاز است"


class CodeRefused(CloudError):
    """A code that is wrong, expired, used, or tried too often."""

    status, code, fa = 422, "wrong_code", "کد تأیید درست نیست"


class SmsUnavailable(CloudError):
    """The SMS provider did not take the text."""

    status, code, fa = 503, "sms_unavailable", "ارسال پیامک ممکن نشد"


@dataclass(frozen=True)
class Issued:
    """A code made and texted (the code itself is only in the SMS)."""

    code_id: str
    expires_at: dt.datetime
    parts: int


def read_mobile(body: Any) -> str:
    """Return the E.164 mobile of a request body, or refuse naming the field."""
    if not isinstance(body, dict):
        raise BadRequest("body must be an object", field="body")
    raw = body.get("mobile")
    if not isinstance(raw, str) or not raw or len(raw) > 40:
        raise BadRequest("mobile must be a short string", field="mobile")
    try:
        return normalize_mobile(raw)
    except InvalidMobile as exc:
        raise BadRequest(str(exc), fa=exc.fa, field="mobile") from exc


def read_code(body: dict[str, Any]) -> str:
    """Return the typed code in ASCII digits, or refuse naming the field."""
    raw = body.get("code")
    text = to_ascii_digits(raw).strip() if isinstance(raw, str) else ""
    if len(text) != DIGITS or not text.isascii() or not text.isdigit():
        raise BadRequest(
            f"code must be {DIGITS} digits", fa="کد تأیید را با شش رقم وارد کنید", field="code"
        )
    return text


def _code_hmac(vault: PiiVault, code_id: str, code: str) -> bytes:
    """Key the code to its row: the table alone tells nothing (a million codes is no secret)."""
    return vault.lookup_hash(f"mobile-code:{code_id}:{code}")


def _refuse_members(conn: sa.Connection, mobile_hmac: bytes) -> None:
    """A mobile already in the club (at any store) gets no code: its enrolment would be
    rejected at sync, and the member would be texted for nothing."""
    found = conn.execute(sa.select(members.c.id).where(members.c.mobile_hmac == mobile_hmac))
    if found.first() is not None:
        raise Conflict(
            "the mobile already belongs to a member",
            fa="این شماره قبلاً در باشگاه عضو شده است",
            code="already_member",
            field="mobile",
        )


def _lock_mobile(conn: sa.Connection, mobile_hmac: bytes, now: dt.datetime) -> None:
    """Take the mobile's lock row (an upsert: it waits for a request holding it)."""
    statement = upsert_into(conn, mobile_code_locks).values(mobile_hmac=mobile_hmac, taken_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["mobile_hmac"], set_={"taken_at": statement.excluded.taken_at}
        )
    )


def _forget_old_codes(conn: sa.Connection, now: dt.datetime) -> None:
    """Forget which mobile and code a day-old code never verified was for.

    Such a code is only needed for the limits, an hour at most; its row stays, without
    either HMAC, as the record of a text sent (HQ's SMS log counts it). A row never texted
    (the cloud stopped between storing and sending) goes. A verified code is kept whole for
    the enrolment naming it, however late that event arrives.
    """
    old = (  # the terms of the partial index mobile_codes_to_forget, so it is used
        mobile_codes.c.mobile_hmac.is_not(None),
        mobile_codes.c.verified_at.is_(None),
        mobile_codes.c.created_at < now - KEEP,
    )
    conn.execute(sa.delete(mobile_codes).where(*old, mobile_codes.c.provider.is_(None)))
    conn.execute(sa.update(mobile_codes).where(*old).values(mobile_hmac=None, code_hmac=None))


def _check_limits(
    conn: sa.Connection, terminal_id: str, mobile_hmac: bytes, now: dt.datetime, limits: Limits
) -> None:
    """Refuse a code asked too soon or too often, saying (in Persian) how long to wait."""
    hour = now - dt.timedelta(hours=1)
    recent = sa.select(sa.func.count(), sa.func.max(mobile_codes.c.created_at)).where(
        mobile_codes.c.created_at > hour
    )
    for_mobile = mobile_codes.c.mobile_hmac == mobile_hmac
    count, last = conn.execute(recent.where(for_mobile)).one()
    if last is not None and now - _aware(last) < limits.resend_after:
        wait = int((limits.resend_after - (now - _aware(last))).total_seconds()) + 1
        raise RateLimited(
            f"a code was sent to this mobile {int((now - _aware(last)).total_seconds())} s ago",
            fa="برای این شماره همین تازگی کد فرستاده شده؛"
            f" {to_persian_digits(str(wait))} ثانیه دیگر دوباره بخواهید",
        )
    if count >= limits.per_mobile_hour:
        minutes = _minutes_until_below(conn, for_mobile, limits.per_mobile_hour, now)
        raise RateLimited(
            f"{count} codes for this mobile in the last hour (limit {limits.per_mobile_hour})",
            fa="برای این شماره در یک ساعت گذشته کد کافی فرستاده شده؛"
            f" {to_persian_digits(str(minutes))} دقیقه دیگر دوباره بخواهید",
        )
    by_terminal = mobile_codes.c.terminal_id == terminal_id
    mine = conn.execute(recent.where(by_terminal)).one()[0]
    if mine >= limits.per_terminal_hour:
        minutes = _minutes_until_below(conn, by_terminal, limits.per_terminal_hour, now)
        raise RateLimited(
            f"terminal {terminal_id} asked {mine} codes in the last hour"
            f" (limit {limits.per_terminal_hour})",
            fa="این پایانه در یک ساعت گذشته بیش از حد مجاز کد خواسته است؛"
            f" {to_persian_digits(str(minutes))} دقیقه دیگر دوباره بخواهید",
        )


def _minutes_until_below(
    conn: sa.Connection, which: sa.ColumnElement[bool], limit: int, now: dt.datetime
) -> int:
    """Return the whole minutes until fewer than ``limit`` of the codes matching ``which`` are
    left in the last hour (the oldest leave it first): when the ``limit``-th newest leaves.

    Worked out from the codes there now, not from the count the refusal was made on: a code
    whose text failed is deleted outside the locks (``issue``), maybe since that count.
    """
    newest = (
        conn.execute(
            sa.select(mobile_codes.c.created_at)
            .where(which, mobile_codes.c.created_at > now - dt.timedelta(hours=1))
            .order_by(mobile_codes.c.created_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if len(newest) < limit:  # some left the count meanwhile: ask again at once
        return 1
    seconds = (_aware(newest[-1]) + dt.timedelta(hours=1) - now).total_seconds()
    return max(1, math.ceil(seconds / 60))


def issue(
    engine: sa.Engine,
    vault: PiiVault,
    provider: SmsProvider,
    terminal_id: str,
    mobile_e164: str,
    limits: Limits,
    now: dt.datetime | None = None,
) -> Issued:
    """Make a code for a mobile, keep its HMAC and text it; nothing is kept if the text fails."""
    now = now or utcnow()
    code_id, code = new_id(), f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    mobile_hmac = vault.lookup_hash(mobile_e164)
    with engine.begin() as conn:
        # Take the terminal's row, then the mobile's (row locks on PostgreSQL, the write lock
        # on SQLite), so two requests of one terminal, or of two terminals for one mobile,
        # count the codes one after the other: at the same instant both would pass the
        # limits and both would text. Always in this order, so no two requests deadlock.
        conn.execute(
            sa.update(terminals).where(terminals.c.id == terminal_id).values(id=terminals.c.id)
        )
        _lock_mobile(conn, mobile_hmac, now)
        _refuse_members(conn, mobile_hmac)
        _check_limits(conn, terminal_id, mobile_hmac, now, limits)
        _forget_old_codes(conn, now)
        conn.execute(
            sa.insert(mobile_codes).values(
                id=code_id,
                terminal_id=terminal_id,
                mobile_hmac=mobile_hmac,
                code_hmac=_code_hmac(vault, code_id, code),
                created_at=now,
                expires_at=now + limits.ttl,
                attempts=0,
            )
        )
        # The lock row lives only inside this transaction: a request waiting on it goes on
        # once this one commits (PostgreSQL re-checks a unique key whose inserter deleted
        # it), and no mobile that never became a member is kept in it.
        conn.execute(
            sa.delete(mobile_code_locks).where(mobile_code_locks.c.mobile_hmac == mobile_hmac)
        )
    # Texted outside the transaction: a slow provider must not hold the database.
    text = render(TEXT, {"code": code, "minutes": int(limits.ttl.total_seconds() // 60) or 1})
    try:
        provider_id = provider.send(mobile_e164, text)
    except SmsError as exc:
        with engine.begin() as conn:
            conn.execute(sa.delete(mobile_codes).where(mobile_codes.c.id == code_id))
        raise SmsUnavailable(f"mobile code {code_id} not sent: {exc}") from exc
    with engine.begin() as conn:
        conn.execute(
            sa.update(mobile_codes)
            .where(mobile_codes.c.id == code_id)
            .values(provider=provider.name, provider_id=provider_id[:64])
        )
    log.info("mobile code %s sent for terminal %s via %s", code_id, terminal_id, provider.name)
    return Issued(code_id, now + limits.ttl, parts(text))


def verify(
    engine: sa.Engine,
    vault: PiiVault,
    terminal_id: str,
    mobile_e164: str,
    code: str,
    limits: Limits,
    now: dt.datetime | None = None,
) -> str:
    """Check the code this terminal last asked for this mobile; return the code's id.

    Every try counts, committed before a refusal is raised; a verified code is spent.
    """
    now = now or utcnow()
    with engine.begin() as conn:
        outcome, code_id, left = _try(conn, vault, terminal_id, mobile_e164, code, limits, now)
    if outcome != "verified":
        raise _refusal(outcome, code_id, left)
    log.info("mobile code %s verified for terminal %s", code_id, terminal_id)
    return code_id


def _try(
    conn: sa.Connection,
    vault: PiiVault,
    terminal_id: str,
    mobile_e164: str,
    code: str,
    limits: Limits,
    now: dt.datetime,
) -> tuple[str, str, int]:
    """Spend one attempt on the latest code; return (outcome, code id, tries left)."""
    row = conn.execute(
        sa.select(mobile_codes)
        .where(
            mobile_codes.c.terminal_id == terminal_id,
            mobile_codes.c.mobile_hmac == vault.lookup_hash(mobile_e164),
        )
        .order_by(mobile_codes.c.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return "no_code", "", 0
    if row.verified_at is not None:
        return "code_used", row.id, 0
    if _aware(row.expires_at) <= now:
        return "code_expired", row.id, 0
    # One conditional UPDATE takes the attempt: two tries at once cannot both get the last.
    taken = conn.execute(
        sa.update(mobile_codes)
        .where(
            mobile_codes.c.id == row.id,
            mobile_codes.c.attempts < limits.attempts,
            mobile_codes.c.verified_at.is_(None),
        )
        .values(attempts=mobile_codes.c.attempts + 1)
    ).rowcount
    if taken != 1:
        return "too_many_attempts", row.id, 0
    left = limits.attempts - row.attempts - 1
    if not hmac.compare_digest(bytes(row.code_hmac), _code_hmac(vault, row.id, code)):
        return ("wrong_code" if left > 0 else "too_many_attempts"), row.id, left
    spent = conn.execute(
        sa.update(mobile_codes)
        .where(mobile_codes.c.id == row.id, mobile_codes.c.verified_at.is_(None))
        .values(verified_at=now)
    ).rowcount
    return ("verified" if spent == 1 else "code_used"), row.id, left


_REFUSALS = {
    "no_code": ("no code was asked for this mobile here", "برای این شماره کدی فرستاده نشده است"),
    "code_used": ("the code was already used", "این کد قبلاً به کار رفته است؛ کد تازه بخواهید"),
    "code_expired": ("the code expired", "مهلت کد تمام شده است؛ کد تازه بخواهید"),
    "too_many_attempts": (
        "too many wrong tries for this code",
        "کد چند بار اشتباه وارد شد؛ کد تازه بخواهید",
    ),
    "wrong_code": ("wrong code", "کد تأیید درست نیست"),
}


def _refusal(outcome: str, code_id: str, left: int) -> CodeRefused:
    english, persian = _REFUSALS[outcome]
    if outcome == "wrong_code":
        english, persian = (
            f"{english} ({left} tries left)",
            (f"{persian}؛ {to_persian_digits(str(left))} بار دیگر می‌توانید وارد کنید"),
        )
    return CodeRefused(f"mobile code {code_id or '-'}: {english}", fa=persian, code=outcome)


def claim_checks(
    conn: sa.Connection, terminal_id: str, claims: Iterable[tuple[str, str, bytes]]
) -> set[str]:
    """Mark each verified code named by a new member's enrolment as that member's.

    ``claims`` are (member id, code id, mobile HMAC). A code counts only if this terminal
    verified it for the same mobile and no other member took it. Return the members whose
    mobile is thereby verified; a claim that does not hold is logged and left unverified.
    """
    verified = set()
    for member_id, code_id, mobile_hmac in claims:
        done = conn.execute(
            sa.update(mobile_codes)
            .where(
                mobile_codes.c.id == code_id,
                mobile_codes.c.terminal_id == terminal_id,
                mobile_codes.c.mobile_hmac == mobile_hmac,
                mobile_codes.c.verified_at.is_not(None),
                mobile_codes.c.member_id.is_(None),
            )
            .values(member_id=member_id)
        ).rowcount
        if done == 1:
            verified.add(member_id)
        else:
            log.warning(
                "member %s: mobile code %s not verified here for this mobile; kept unverified",
                member_id,
                code_id[:32],
            )
    return verified


def is_verified(conn: sa.Connection, member_id: str) -> bool:
    """Tell whether a member's mobile was proved by a one-time code at enrolment."""
    found = conn.execute(
        sa.select(mobile_codes.c.id).where(mobile_codes.c.member_id == member_id)
    ).first()
    return found is not None


def texts_sent() -> sa.Select[Any]:
    """Select the codes texted as rows of HQ's SMS log, shaped like ``sms_messages``'s.

    A code has no member yet (``member_id`` is set once its enrolment claims it), so it
    cannot be an ``sms_messages`` row; it is filed under ``PURPOSE`` as a service text of
    ``SMS_PARTS`` parts, ``sent`` once the provider took it (its delivery is not followed).
    """
    return sa.select(
        mobile_codes.c.id,
        mobile_codes.c.member_id,
        sa.literal(PURPOSE, sa.String(40)).label("purpose"),
        sa.literal(False, sa.Boolean).label("marketing"),
        sa.literal(SMS_PARTS, sa.Integer).label("parts"),
        sa.null().cast(sa.LargeBinary).label("body_enc"),
        sa.literal("sent", sa.String(20)).label("status"),
        mobile_codes.c.created_at,
        sa.null().cast(sa.DateTime(timezone=True)).label("status_at"),
    ).where(mobile_codes.c.provider.is_not(None))


def answer_request(terminal_id: str, body: Any) -> dict[str, Any]:
    """Serve ``POST /api/v1/mobile-codes``: text a code for the body's mobile."""
    mobile = read_mobile(body)
    limits = Limits.from_config(current_app.config)
    try:
        provider = provider_from_config(
            dict(current_app.config), Path(current_app.instance_path), timeout=SMS_TIMEOUT
        )
    except SmsError as exc:  # HQ's settings name no usable provider: as if it were down
        raise SmsUnavailable(f"no SMS provider for mobile codes: {exc}") from exc
    with closing(provider):
        issue(ctx().engine, ctx().vault, provider, terminal_id, mobile, limits)
    return {
        "expires_in_s": int(limits.ttl.total_seconds()),
        "resend_after_s": int(limits.resend_after.total_seconds()),
    }


def answer_verify(terminal_id: str, body: Any) -> dict[str, Any]:
    """Serve ``POST /api/v1/mobile-codes/verify``: check the code read out for the mobile."""
    mobile = read_mobile(body)
    code = read_code(body)
    limits = Limits.from_config(current_app.config)
    return {"check_id": verify(ctx().engine, ctx().vault, terminal_id, mobile, code, limits)}


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands times back naive; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

"""Classify and validate what a scanner or a cashier produced, before anything looks it up.

Scanners and keyboards hand the agent untrusted text. Each accepted form becomes a
:class:`Code` with one ``kind`` and a normalised ``value``; everything else is an
:class:`~agent.errors.InputError` with an English message for the log (never the content,
which may be a mobile or a card number) and a Persian ``fa`` for the cashier.

Order matters where forms overlap: a signed QR, a coupon, a ``VAFA:`` Code128 payload and a
magnetic stripe are recognised by their markers; then a run of digits is a mobile if it looks
like one, an EAN-13 if it has 13 digits (only the in-store "29" range is a member card, and
its check digit must hold), and otherwise an RFID card number (8–20 decimal or hex digits;
all-digit numbers are read as decimal, the way wedge RFID readers usually send them).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.errors import InputError
from common.cards import CARD_PREFIX, ean13_check_digit
from common.errors import InvalidMobile, SignatureError
from common.member_qr import PREFIX as QR_PREFIX
from common.member_qr import make_member_qr, verify_member_qr
from common.mobile import looks_like_mobile, normalize_mobile
from common.persian import to_ascii_digits

__all__ = ["MAX_CODE", "Code", "CodeKind", "make_member_qr", "parse_code"]

CodeKind = Literal["member_card", "mobile", "mag_stripe", "rfid", "member_qr", "coupon"]
MAX_CODE = 512
FA_INVALID = "کد اسکن‌شده معتبر نیست"

# Invisible marks a Persian keyboard or a copied number may carry; removed, not refused.
_HARMLESS_MARKS = str.maketrans("", "", "\u200c\u200e\u200f")
_COUPON = re.compile(r"CP-[A-Z0-9]{6,16}")
_CODE128_CARD = re.compile(r"VAFA:([0-9]{1,20})")
_TRACK1 = re.compile(r"%B([0-9]{12,19})\^[^^?]{0,26}\^[^?]*\?.?")
_TRACK2 = re.compile(r";([0-9]{12,19})=[0-9]*\?.?")
_EAN13 = re.compile(r"[0-9]{13}")
_DECIMAL_ID = re.compile(r"[0-9]{8,20}")
_HEX_ID = re.compile(r"[0-9A-Fa-f]{8,20}")


@dataclass(frozen=True)
class Code:
    """A classified, normalised code."""

    kind: CodeKind
    value: str


def parse_code(
    raw: str, now: datetime | None = None, qr_key: Ed25519PublicKey | None = None
) -> Code:
    """Classify a scanned or typed code, or raise InputError."""
    text = _clean(raw)
    if text.startswith(QR_PREFIX + "."):
        return _member_qr(text, now or datetime.now(UTC), qr_key)
    for parse in _MARKED:
        code = parse(text)
        if code is not None:
            return code
    return _digits(text)


def _refuse(reason: str, fa: str = FA_INVALID) -> InputError:
    return InputError(f"scanned code refused: {reason}", fa=fa)


def _clean(raw: str) -> str:
    """Refuse oversized or control-laden text; return it trimmed, with ASCII digits."""
    if len(raw) > MAX_CODE:
        raise _refuse(f"too long ({len(raw)} characters, at most {MAX_CODE})")
    text = to_ascii_digits(raw.translate(_HARMLESS_MARKS)).strip()
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise _refuse("contains control or formatting characters")
    if not text:
        raise _refuse("empty", fa="کدی وارد نشده است")
    return text


def _member_qr(text: str, now: datetime, key: Ed25519PublicKey | None) -> Code:
    if key is None:
        raise _refuse("member QR but no QR key is configured", fa="کد QR عضویت پذیرفته نمی‌شود")
    try:
        claims = verify_member_qr(text, key, now)
    except SignatureError as exc:
        raise _refuse(str(exc), fa=exc.fa) from exc
    return Code("member_qr", claims.member_id)


def _coupon(text: str) -> Code | None:
    return Code("coupon", text) if _COUPON.fullmatch(text) else None


def _code128_card(text: str) -> Code | None:
    match = _CODE128_CARD.fullmatch(text)
    return Code("member_card", match.group(1)) if match else None


def _mag_stripe(text: str) -> Code | None:
    match = _TRACK1.fullmatch(text) or _TRACK2.fullmatch(text)
    return Code("mag_stripe", match.group(1)) if match else None


_MARKED: tuple[Callable[[str], Code | None], ...] = (_coupon, _code128_card, _mag_stripe)


def _digits(text: str) -> Code:
    """Classify what has no marker: a mobile, an EAN-13 member card or an RFID number."""
    if looks_like_mobile(text):
        return _mobile(text)
    if _EAN13.fullmatch(text):
        return _ean13_card(text)
    if _DECIMAL_ID.fullmatch(text):
        return Code("rfid", f"{int(text):08X}")
    if _HEX_ID.fullmatch(text):
        return Code("rfid", text.upper())
    raise _refuse("not a card, mobile, QR, coupon or RFID code")


def _mobile(text: str) -> Code:
    try:
        return Code("mobile", normalize_mobile(text))
    except InvalidMobile as exc:  # its message quotes the number: keep that out of the log
        raise _refuse("not a valid Iranian mobile", fa=exc.fa) from exc


def _ean13_card(text: str) -> Code:
    if not text.startswith(CARD_PREFIX):
        raise _refuse("an EAN-13 outside the member range (a product barcode?)")
    if ean13_check_digit(text[:12]) != text[12]:
        raise _refuse("EAN-13 check digit is wrong", fa="رقم کنترل کارت عضویت درست نیست")
    return Code("member_card", text)

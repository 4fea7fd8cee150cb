"""Iranian mobile numbers in any form people type them, normalised to E.164."""

from __future__ import annotations

import re

import phonenumbers

from common.errors import InvalidMobile
from common.persian import to_ascii_digits, to_persian_digits

_SEPARATORS = re.compile(r"[\s\-().\u200c\u200f\u200e]+")
_MAX_INPUT = 32


def normalize_mobile(raw: str) -> str:
    """Return the E.164 form (+989xxxxxxxxx) of an Iranian mobile, or raise InvalidMobile."""
    if len(raw) > _MAX_INPUT:
        raise InvalidMobile(f"mobile input too long ({len(raw)} chars)")
    text = _SEPARATORS.sub("", to_ascii_digits(raw))
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("9") and len(text) == 10:
        text = "0" + text
    if not re.fullmatch(r"\+?\d{10,13}", text):
        raise InvalidMobile(f"not a phone number: {_redacted(raw)}")
    try:
        number = phonenumbers.parse(text, "IR")
    except phonenumbers.NumberParseException as exc:
        raise InvalidMobile(f"unparseable mobile {_redacted(raw)}") from exc
    if number.country_code != 98 or not phonenumbers.is_valid_number(number):
        raise InvalidMobile(f"not a valid Iranian number: {_redacted(raw)}")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise InvalidMobile(f"not a mobile number: {_redacted(raw)}", fa="این شماره موبایل نیست")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _redacted(raw: str) -> str:
    """Describe a rejected number for a log without writing the number down."""
    text = _SEPARATORS.sub("", to_ascii_digits(raw))
    if len(text) <= 6:
        return f"({len(text)} characters)"
    return f"{text[:4]}…{text[-2:]} ({len(text)} characters)"


def looks_like_mobile(raw: str) -> bool:
    """Tell whether a scanned or typed string is meant as a mobile number."""
    text = _SEPARATORS.sub("", to_ascii_digits(raw))
    return bool(re.fullmatch(r"(\+98|0098|0)?9\d{9}", text))


def national_form(e164: str) -> str:
    """Return the local form 09xxxxxxxxx of an E.164 Iranian mobile."""
    return "0" + e164.removeprefix("+98")


def mask_mobile(e164: str) -> str:
    """Mask the middle of a mobile for a receipt, Persian digits: ۰۹۱۲***۴۵۶۷."""
    local = national_form(e164)
    return to_persian_digits(f"{local[:4]}***{local[-4:]}")

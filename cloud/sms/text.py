"""Persian SMS text: placeholders, the opt-out line, and how many parts a text costs.

A text with any character outside the GSM 7-bit alphabet (every Persian text) travels as
UCS-2: 70 characters in one part, 67 in each part of a longer one. GSM 7-bit texts take
160, then 153. Marketing texts end with «لغو ۱۱» so the member can opt out by replying 11.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from common.persian import to_persian_digits

OPT_OUT_LINE = "لغو ۱۱"
OPT_OUT_REPLIES = frozenset({"11", "لغو"})
OPT_IN_REPLIES = frozenset({"12"})
MAX_PARTS = 6  # a template that long is a mistake, not a message

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_PLACEHOLDER = re.compile(r"\{([^{}]{1,30})\}")


class TemplateError(ValueError):
    """A template naming a placeholder it was not given."""


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill {name} placeholders (Persian names welcome); whole numbers in Persian digits."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in values:
            raise TemplateError(f"template names {{{name}}} but no value was given")
        value = values[name]
        if isinstance(value, int) and not isinstance(value, bool):
            return to_persian_digits(f"{value:,}".replace(",", "٬"))
        return str(value)  # text as given: a coupon code's digits must stay typeable

    return _PLACEHOLDER.sub(fill, template)


def with_opt_out(text: str) -> str:
    """End a marketing text with the opt-out line (once)."""
    text = text.rstrip()
    return text if text.endswith(OPT_OUT_LINE) else f"{text}\n{OPT_OUT_LINE}"


def parts(text: str) -> int:
    """Return how many SMS parts a text takes."""
    if all(char in _GSM7 for char in text):
        single, multi = 160, 153
    else:
        single, multi = 70, 67
    length = len(text)
    return 1 if length <= single else -(-length // multi)


def reply_intent(text: str) -> str | None:
    """Read an inbound reply: 'opt_out', 'opt_in' or None."""
    word = re.sub(
        r"\s+", "", text.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789"))
    )
    if word in OPT_OUT_REPLIES:
        return "opt_out"
    if word in OPT_IN_REPLIES:
        return "opt_in"
    return None

"""Members' referral codes: derived from the member id, so a terminal knows one offline.

A code is ``R-`` and eight characters from an alphabet without look-alikes (no 0/O, 1/I/L),
read aloud or typed from a receipt; a typed code is normalised (case, Persian digits,
spaces and dashes) before it is compared. Codes are not unique by construction (31^8
values): a code two members share is ambiguous and rewards nobody.
"""

from __future__ import annotations

import hashlib
import re

from common.persian import to_ascii_digits

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE = re.compile(r"R-[A-HJKMNP-Z2-9]{8}")


def referral_code(member_id: str) -> str:
    """Return a member's referral code."""
    number = int.from_bytes(hashlib.sha256(f"referral:{member_id}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(8):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "R-" + "".join(chars)


def normalise_code(typed: str) -> str | None:
    """Return a typed referral code in its canonical form, or None if it cannot be one."""
    text = re.sub(r"[\s\-_]", "", to_ascii_digits(typed)).upper()
    code = f"R-{text[1:]}" if text.startswith("R") else ""
    return code if _CODE.fullmatch(code) else None

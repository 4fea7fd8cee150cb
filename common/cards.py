"""Member card numbers: EAN-13 codes in the in-store range, made by terminals and by imports."""

from __future__ import annotations

import secrets

CARD_PREFIX = "29"  # EAN-13 "in-store" range: never collides with a product barcode


def ean13_check_digit(first12: str) -> str:
    """Return the EAN-13 check digit of twelve digits."""
    weights = (1, 3) * 6
    total = sum(int(d) * w for d, w in zip(first12, weights, strict=True))
    return str((10 - total % 10) % 10)


def new_card_code() -> str:
    """Return a fresh EAN-13 member card number in the in-store range."""
    body = CARD_PREFIX + f"{secrets.randbelow(10**10):010d}"
    return body + ean13_check_digit(body)

"""Signed member QR tokens: the cloud signs them, the terminal verifies them offline.

A token is ``VQ1.<payload>.<signature>``, both parts base64url without padding. The payload
is compact JSON ``{"exp": <unix seconds>, "member_id": "..."}``; the Ed25519 signature covers
the ASCII text ``VQ1.<payload>``, so the version cannot be swapped without breaking it.
Only the cloud holds the private key, so a token cannot be forged at a till.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common import tokens
from common.errors import SignatureError

PREFIX = "VQ1"
MAX_MEMBER_ID = 64
_FA_INVALID = "کد QR عضویت معتبر نیست"


@dataclass(frozen=True)
class MemberQr:
    """What a verified token proves: this member, until this time."""

    member_id: str
    expires_at: int


def make_member_qr(private_key: Ed25519PrivateKey, member_id: str, expires_at: datetime) -> str:
    """Sign a member QR token valid until ``expires_at``."""
    if not 0 < len(member_id) <= MAX_MEMBER_ID:
        raise ValueError(f"member_id must be 1–{MAX_MEMBER_ID} characters")
    return tokens.sign(
        PREFIX, private_key, {"exp": int(expires_at.timestamp()), "member_id": member_id}
    )


def verify_member_qr(token: str, public_key: Ed25519PublicKey, now: datetime) -> MemberQr:
    """Check a token's form, signature and expiry; raise SignatureError if any fails."""
    claims = tokens.verify(PREFIX, token, public_key, now, _FA_INVALID, "کد QR عضویت منقضی شده است")
    member_id = claims.get("member_id")
    if not isinstance(member_id, str) or not 0 < len(member_id) <= MAX_MEMBER_ID:
        raise SignatureError("member QR: no valid member_id", fa=_FA_INVALID)
    return MemberQr(member_id=member_id, expires_at=claims["exp"])

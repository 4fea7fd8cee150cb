"""Signed member QR tokens: the cloud signs them, the terminal verifies them offline.

A token is ``VQ1.<payload>.<signature>``, both parts base64url without padding. The payload
is compact JSON ``{"exp": <unix seconds>, "member_id": "..."}``; the Ed25519 signature covers
the ASCII text ``VQ1.<payload>``, so the version cannot be swapped without breaking it.
Only the cloud holds the private key, so a token cannot be forged at a till.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.errors import SignatureError

PREFIX = "VQ1"
MAX_MEMBER_ID = 64
_TOKEN = re.compile(r"VQ1\.([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{86})")
_FA_INVALID = "کد QR عضویت معتبر نیست"


@dataclass(frozen=True)
class MemberQr:
    """What a verified token proves: this member, until this time."""

    member_id: str
    expires_at: int


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("member QR: bad base64url", fa=_FA_INVALID) from exc


def make_member_qr(private_key: Ed25519PrivateKey, member_id: str, expires_at: datetime) -> str:
    """Sign a member QR token valid until ``expires_at``."""
    if not 0 < len(member_id) <= MAX_MEMBER_ID:
        raise ValueError(f"member_id must be 1–{MAX_MEMBER_ID} characters")
    claims = {"exp": int(expires_at.timestamp()), "member_id": member_id}
    payload = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{PREFIX}.{payload}"
    return f"{signed}.{_b64encode(private_key.sign(signed.encode('ascii')))}"


def verify_member_qr(token: str, public_key: Ed25519PublicKey, now: datetime) -> MemberQr:
    """Check a token's form, signature and expiry; raise SignatureError if any fails."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise SignatureError("member QR: malformed token", fa=_FA_INVALID)
    payload, signature = match.groups()
    try:
        public_key.verify(_b64decode(signature), f"{PREFIX}.{payload}".encode("ascii"))
    except InvalidSignature as exc:
        raise SignatureError("member QR: signature does not verify", fa=_FA_INVALID) from exc
    claims = _claims(_b64decode(payload))
    if claims.expires_at <= now.timestamp():
        raise SignatureError("member QR: expired", fa="کد QR عضویت منقضی شده است")
    return claims


def _claims(payload: bytes) -> MemberQr:
    """Read the signed claims; a signed but ill-formed payload is still refused."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignatureError("member QR: payload is not JSON", fa=_FA_INVALID) from exc
    member_id = data.get("member_id") if isinstance(data, dict) else None
    exp = data.get("exp") if isinstance(data, dict) else None
    if not isinstance(member_id, str) or not 0 < len(member_id) <= MAX_MEMBER_ID:
        raise SignatureError("member QR: no valid member_id", fa=_FA_INVALID)
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise SignatureError("member QR: no valid exp", fa=_FA_INVALID)
    return MemberQr(member_id=member_id, expires_at=exp)

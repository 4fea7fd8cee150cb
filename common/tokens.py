"""Signed, expiring tokens in a URL or a QR: ``<PREFIX>.<payload>.<signature>``.

The payload is compact JSON claims with an ``exp`` (unix seconds), base64url without
padding; the Ed25519 signature covers the ASCII text ``<PREFIX>.<payload>`` so neither the
version nor a claim can change without breaking it. Used for member QR codes (signed by
the cloud) and receipt feedback links (signed by the terminal that printed the receipt).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.errors import SignatureError


def b64url(data: bytes) -> str:
    """Encode base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str, fa: str) -> bytes:
    """Decode base64url without padding, or raise SignatureError."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("token: bad base64url", fa=fa) from exc


def sign(prefix: str, private_key: Ed25519PrivateKey, claims: dict[str, Any]) -> str:
    """Return a signed token carrying ``claims`` (which must hold an int ``exp``)."""
    payload = b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{prefix}.{payload}"
    return f"{signed}.{b64url(private_key.sign(signed.encode('ascii')))}"


def read(prefix: str, token: str, fa: str, max_payload: int = 400) -> dict[str, Any]:
    """Return a token's claims WITHOUT checking its signature (to choose the key)."""
    pattern = rf"{re.escape(prefix)}\.([A-Za-z0-9_-]{{1,{max_payload}}})\.([A-Za-z0-9_-]{{86}})"
    match = re.fullmatch(pattern, token)
    if match is None:
        raise SignatureError(f"{prefix} token: malformed", fa=fa)
    try:
        claims = json.loads(unb64url(match.group(1), fa))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignatureError(f"{prefix} token: payload is not JSON", fa=fa) from exc
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise SignatureError(f"{prefix} token: no valid exp", fa=fa)
    return claims  # type: ignore[no-any-return]


def verify(
    prefix: str, token: str, public_key: Ed25519PublicKey, now: datetime, fa: str, expired_fa: str
) -> dict[str, Any]:
    """Check a token's form, signature and expiry; return its claims or raise SignatureError."""
    claims = read(prefix, token, fa)
    signed, _, signature = token.rpartition(".")
    try:
        public_key.verify(unb64url(signature, fa), signed.encode("ascii"))
    except InvalidSignature as exc:
        raise SignatureError(f"{prefix} token: signature does not verify", fa=fa) from exc
    if claims["exp"] <= now.timestamp():
        raise SignatureError(f"{prefix} token: expired", fa=expired_fa)
    return claims


FEEDBACK_PREFIX = "VF1"
FEEDBACK_VALID_FOR_S = 30 * 86_400


def feedback_link(
    base_url: str, private_key: Ed25519PrivateKey, terminal_id: str, sale_id: str, now: datetime
) -> str:
    """Return a receipt's feedback URL, signed by the terminal that printed it."""
    claims = {"exp": int(now.timestamp()) + FEEDBACK_VALID_FOR_S, "s": sale_id, "t": terminal_id}
    return f"{base_url.rstrip('/')}/f/{sign(FEEDBACK_PREFIX, private_key, claims)}"

"""Ed25519 request signatures between an enrolled terminal and the cloud.

The terminal signs one line-separated string::

    VAFA-ED25519-V1
    POST
    /api/v1/sync/events
    <sha256 hex of the body>
    <unix time, seconds>
    <nonce, 32 hex>
    <key id (the terminal id)>

and sends it in the headers below. The cloud checks the digest, the time window and the
signature here; it refuses replayed nonces itself, because only it keeps them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from common.errors import SignatureError, StaleTime

SCHEME = "VAFA-ED25519-V1"
MAX_SKEW_SECONDS = 300
H_KEY, H_TIME, H_NONCE, H_DIGEST, H_SIGNATURE = (
    "X-Vafa-Key",
    "X-Vafa-Time",
    "X-Vafa-Nonce",
    "X-Vafa-Digest",
    "X-Vafa-Signature",
)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9a-f]{32}")
_KEY_ID = re.compile(r"[!-~]{1,64}")


@dataclass(frozen=True)
class SignedRequest:
    """What a verified request proves: who sent it and which nonce it spent."""

    key_id: str
    timestamp: int
    nonce: str


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """Return the raw 32-byte public key of a private key, base64."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(b64: str) -> Ed25519PublicKey:
    """Load a raw base64 Ed25519 public key, or raise SignatureError."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except ValueError as exc:
        raise SignatureError("malformed Ed25519 public key") from exc


def _string_to_sign(
    method: str, path: str, digest: str, timestamp: int, nonce: str, key_id: str
) -> bytes:
    return "\n".join([SCHEME, method.upper(), path, digest, str(timestamp), nonce, key_id]).encode()


def sign_request(
    private_key: Ed25519PrivateKey,
    key_id: str,
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
) -> dict[str, str]:
    """Return the headers that sign one request."""
    timestamp = int(time.time() if now is None else now)
    nonce = uuid.uuid4().hex
    digest = hashlib.sha256(body).hexdigest()
    signature = private_key.sign(_string_to_sign(method, path, digest, timestamp, nonce, key_id))
    return {
        H_KEY: key_id,
        H_TIME: str(timestamp),
        H_NONCE: nonce,
        H_DIGEST: digest,
        H_SIGNATURE: base64.b64encode(signature).decode(),
    }


def read_key_id(headers: Mapping[str, str]) -> str:
    """Return the key id a request claims, or raise SignatureError."""
    key_id = headers.get(H_KEY, "")
    # Printable ASCII only: the id is looked up in the database, and PostgreSQL refuses NUL.
    if not _KEY_ID.fullmatch(key_id):
        raise SignatureError("missing, oversized or malformed key id header")
    return key_id


def verify_request(
    public_key: Ed25519PublicKey,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> SignedRequest:
    """Check a request's digest, time window and signature; raise SignatureError if any fails."""
    key_id = read_key_id(headers)
    raw_time = headers.get(H_TIME, "")
    # Unix seconds in plain ASCII digits: int() alone would take "1_0", " 7" or 400 digits,
    # and a number too large for a float must not escape as an OverflowError.
    if not _TIMESTAMP.fullmatch(raw_time):
        raise SignatureError("malformed time header")
    timestamp = int(raw_time)
    try:
        signature = base64.b64decode(headers.get(H_SIGNATURE, ""), validate=True)
    except ValueError as exc:
        raise SignatureError("malformed signature header") from exc
    nonce = headers.get(H_NONCE, "")
    if not _NONCE.fullmatch(nonce):
        raise SignatureError("nonce must be 32 lowercase hex digits")
    digest = hashlib.sha256(body).hexdigest()
    if headers.get(H_DIGEST) != digest:
        raise SignatureError("body digest does not match")
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_skew:
        raise StaleTime(
            f"request time {timestamp} is {int(current - timestamp)} s from the cloud clock"
        )
    try:
        public_key.verify(
            signature, _string_to_sign(method, path, digest, timestamp, nonce, key_id)
        )
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc
    return SignedRequest(key_id, timestamp, nonce)

"""Personal data at rest: AES-256-GCM with the row id as associated data, and a keyed HMAC
of the normalised mobile for lookups.

The key lives in a file of its own (mode 0600), never in the database: a copied database
file alone reveals no mobile and no name. One 32-byte master key is split with HKDF into
an encryption key and a lookup key, so the lookup hash says nothing about the ciphertext.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.errors import VafaError

NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = b"\x01"


class PiiError(VafaError):
    """A key file or ciphertext that cannot be used."""

    fa = "خطا در رمزگذاری اطلاعات شخصی"


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte master key at path, creating it (mode 0600) if absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
            handle.flush()
            os.fsync(handle.fileno())
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PiiError(f"key file {path} has mode {mode:o}; it must be 0600")
    key = path.read_bytes()
    if len(key) != 32:
        raise PiiError(f"key file {path} holds {len(key)} bytes, not 32")
    return key


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class PiiVault:
    """Encrypt, decrypt and hash personal fields with keys derived from one master key."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(_derive(master_key, b"vafa pii aes-gcm v1"))
        self._lookup_key = _derive(master_key, b"vafa pii lookup hmac v1")

    def encrypt(self, row_id: str, plaintext: str) -> bytes:
        """Encrypt one field, bound to its row id."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), row_id.encode())

    def decrypt(self, row_id: str, blob: bytes) -> str:
        """Decrypt one field; fails if the blob was moved to another row or altered."""
        if blob[:1] != VERSION:
            raise PiiError("unknown ciphertext version")
        if len(blob) < 1 + NONCE_BYTES + TAG_BYTES:
            # AESGCM would raise ValueError on a short nonce, not a PiiError.
            raise PiiError(f"ciphertext of row {row_id} is truncated")
        nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, row_id.encode()).decode()
        except InvalidTag as exc:
            raise PiiError(f"ciphertext of row {row_id} does not authenticate") from exc

    def lookup_hash(self, normalised: str) -> bytes:
        """Return the keyed HMAC used to find a row by a normalised value (e.g. E.164)."""
        return hmac.new(self._lookup_key, normalised.encode(), hashlib.sha256).digest()

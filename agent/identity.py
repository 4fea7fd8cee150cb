"""The terminal's identity: its Ed25519 key (made here, never sent) and what HQ assigned.

``enroll`` trades HQ's one-time code for a terminal id, registering only the public key.
The private key file is mode 0600 in the data directory.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from agent.errors import NotEnrolled, SyncError
from common.signing import public_key_b64

KEY_FILE = "terminal_ed25519.pem"
IDENTITY_FILE = "identity.json"


@dataclass(frozen=True)
class TerminalIdentity:
    """Who this terminal is to the cloud."""

    terminal_id: str
    store_id: str
    store_name: str
    cloud_url: str
    private_key: Ed25519PrivateKey


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """Return the terminal's private key, generating it on first use."""
    path = data_dir / KEY_FILE
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SyncError(f"{path} does not hold an Ed25519 key")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    _write_private(path, pem)
    return key


def enroll(
    cloud_url: str, code: str, data_dir: Path, transport: httpx.BaseTransport | None = None
) -> TerminalIdentity:
    """Register this terminal's public key with HQ using a one-time code; save the identity."""
    key = load_or_create_key(data_dir)
    body = {"code": code.strip(), "public_key": public_key_b64(key), "hostname": platform.node()}
    try:
        with httpx.Client(base_url=cloud_url, transport=transport, timeout=10.0) as client:
            response = client.post("/api/v1/terminals/enroll", json=body)
    except httpx.HTTPError as exc:
        raise SyncError(f"cannot reach {cloud_url}: {exc}") from exc
    if response.status_code != 200:
        raise SyncError(
            f"enrolment refused ({response.status_code}): {response.text[:200]}",
            fa="کد ثبت پایانه پذیرفته نشد",
        )
    answer = response.json()
    record = {
        "terminal_id": answer["terminal_id"],
        "store_id": answer["store_id"],
        "store_name": answer["store_name"],
        "cloud_url": cloud_url,
    }
    _write_private(data_dir / IDENTITY_FILE, json.dumps(record, ensure_ascii=False).encode())
    return TerminalIdentity(private_key=key, **record)


def load_identity(data_dir: Path) -> TerminalIdentity:
    """Return the saved identity, or raise NotEnrolled."""
    path = data_dir / IDENTITY_FILE
    if not path.exists():
        raise NotEnrolled(f"{path} not found: run `vafa-agent enroll` first")
    record = json.loads(path.read_text())
    return TerminalIdentity(private_key=load_or_create_key(data_dir), **record)

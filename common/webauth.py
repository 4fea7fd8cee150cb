"""Web login pieces both Flask apps use: slow password hashes, CSRF tokens, a login limiter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from flask import abort, request, session

# scrypt with n=2**14, r=8: ~50 ms and 16 MiB per guess; slow enough to hurt a thief.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of a password, self-describing."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    """Tell whether a password matches a stored hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    try:
        expected = base64.b64decode(digest, validate=True)
        candidate = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except (ValueError, TypeError, OverflowError):
        # A damaged hash (bad number, bad base64, parameters scrypt refuses) matches nothing.
        return False
    return hmac.compare_digest(candidate, expected)


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Abort with 400 unless a form POST carries this session's CSRF token."""
    sent = request.form.get("csrf", "") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="CSRF token missing or wrong")


class LoginLimiter:
    """Refuse logins from a client that failed too often in a sliding window."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        """Tell whether this client must wait before trying again."""
        with self._lock:
            if client not in self._failures:
                return False  # no entry kept for clients that never failed
            recent = self._recent(client)
            if not recent:
                del self._failures[client]
            return len(recent) >= self.max_failures

    def failed(self, client: str) -> None:
        """Record one failed login."""
        with self._lock:
            self._recent(client).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        """Forget a client's failures after a good login."""
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures[client]
        cutoff = time.monotonic() - self.window_s
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

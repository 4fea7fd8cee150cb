"""The root of every Vafa exception, shared by the agent and the cloud.

    VafaError                      str(exc) is English, for logs
    ├── InvalidMobile              a mobile number that cannot be a valid Iranian mobile
    ├── ProtocolError              a sync event or batch that breaks the wire format
    └── SignatureError             a request signature that does not verify

Each side grows its own tree under ``VafaError`` (``agent.errors``, ``cloud.errors``).
Every error carries ``fa``: the same fact in Persian, for the person at the screen.
"""

from __future__ import annotations


class VafaError(Exception):
    """Base of all Vafa errors: English message for logs, Persian for people."""

    fa: str = "خطای نامشخص"

    def __init__(self, message: str, fa: str | None = None) -> None:
        super().__init__(message)
        if fa is not None:
            self.fa = fa


class InvalidMobile(VafaError):
    """A mobile number that is not a valid Iranian mobile."""

    fa = "شماره موبایل معتبر نیست"


class ProtocolError(VafaError):
    """A sync message that does not follow the wire format; ``field`` names the culprit."""

    fa = "پیام همگام‌سازی نامعتبر است"

    def __init__(self, message: str, field: str = "", fa: str | None = None) -> None:
        super().__init__(message, fa)
        self.field = field


class SignatureError(VafaError):
    """A request whose signature, time or nonce is not acceptable."""

    fa = "امضای درخواست معتبر نیست"


class StaleTime(SignatureError):
    """A signed request whose time is too far from the cloud's clock."""

    fa = "ساعت پایانه با سرور اختلاف زیادی دارد"

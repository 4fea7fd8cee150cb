"""The cloud's exceptions; each maps to one HTTP status and a stable error code.

VafaError (common.errors)
└── CloudError                 500 internal
    ├── BadRequest             400 bad_request (``field`` names the culprit)
    ├── Unauthorized           401 unauthorized / bad_signature / stale_time / replay
    ├── Forbidden              403 forbidden / revoked
    ├── NotFound               404 not_found
    └── Conflict               409 conflict
"""

from __future__ import annotations

from common.errors import VafaError


class CloudError(VafaError):
    """Base of every cloud error."""

    status = 500
    code = "internal"
    fa = "خطای سرور"

    def __init__(
        self, message: str, fa: str | None = None, code: str | None = None, field: str = ""
    ) -> None:
        super().__init__(message, fa)
        if code is not None:
            self.code = code
        self.field = field

    def to_json(self) -> dict[str, str]:
        """Return the error body sent to the client."""
        body = {"error": self.code, "message": str(self), "message_fa": self.fa}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(CloudError):
    """The request body or parameters are malformed."""

    status, code, fa = 400, "bad_request", "درخواست نامعتبر است"


class Unauthorized(CloudError):
    """The caller did not prove who it is."""

    status, code, fa = 401, "unauthorized", "احراز هویت ناموفق بود"


class Forbidden(CloudError):
    """The caller is known but may not do this."""

    status, code, fa = 403, "forbidden", "دسترسی مجاز نیست"


class NotFound(CloudError):
    """No such thing, or not visible to this caller."""

    status, code, fa = 404, "not_found", "پیدا نشد"


class Conflict(CloudError):
    """The request contradicts what is already stored."""

    status, code, fa = 409, "conflict", "با داده‌های موجود در تعارض است"

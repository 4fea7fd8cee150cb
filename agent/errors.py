"""The terminal agent's exceptions. ``str(exc)`` is English for the log; ``exc.fa`` is Persian
for the cashier or owner.

    VafaError (common.errors)
    └── AgentError
        ├── InputError              bad input from a person or the POS: nothing was written
        │   ├── UnknownMember
        │   └── InsufficientBalance
        ├── LedgerError             the ledger's invariants or its database
        │   └── IntegrityFailure    ``ledger verify`` or the boot integrity check found a fault
        ├── ProfileError            an unusable firmware profile (names file, field, reason)
        ├── DeviceError             a scanner, printer or drawer that did not do its job
        │   ├── ScannerError
        │   ├── PrinterError
        │   │   └── PrinterNotReady     (agent.drivers.printer_status) paper out, offline…
        │   └── DrawerError
        └── SyncError               the cloud could not be reached or refused a request
            └── NotEnrolled
"""

from __future__ import annotations

from common.errors import VafaError


class AgentError(VafaError):
    """Base of every error raised by the terminal agent."""

    fa = "خطا در پایانه"


class InputError(AgentError):
    """Input refused before anything was stored."""

    fa = "ورودی نامعتبر است"


class UnknownMember(InputError):
    """No member matches the scanned code or typed mobile."""

    fa = "عضوی با این مشخصات پیدا نشد"


class InsufficientBalance(InputError):
    """A redemption larger than the member's balance or the offline cap."""

    fa = "امتیاز کافی نیست"


class LedgerError(AgentError):
    """The ledger database or one of its invariants."""

    fa = "خطا در دفتر امتیازها"


class IntegrityFailure(LedgerError):
    """A ledger invariant or SQLite's integrity check failed."""

    fa = "دفتر امتیازها سالم نیست"


class ProfileError(AgentError):
    """A firmware profile that cannot be loaded; the message names file, field and reason."""

    fa = "پروفایل دستگاه نامعتبر است"


class DeviceError(AgentError):
    """A device that did not do what was asked."""

    fa = "خطای دستگاه"


class ScannerError(DeviceError):
    """A scanner that cannot be read."""

    fa = "اسکنر در دسترس نیست"


class PrinterError(DeviceError):
    """A printer that cannot print."""

    fa = "چاپگر در دسترس نیست"


class DrawerError(DeviceError):
    """A cash drawer that cannot be opened or read."""

    fa = "کشوی پول باز نشد"


class SyncError(AgentError):
    """The cloud could not be reached or refused a sync request."""

    fa = "ارتباط با سرور برقرار نشد"


class NotEnrolled(SyncError):
    """The terminal has no identity yet: run ``vafa-agent enroll``."""

    fa = "پایانه هنوز ثبت نشده است"

"""Printer status through DLE EOT n (n = 1..4), parsed from the bytes the printer answers.

Every status byte has the fixed pattern ``0xx1xx10`` (bits 1 and 4 set, bits 0 and 7 clear);
a byte without it is line noise, never a status. Where a printer stays silent (the
``no_dle_eot`` quirk, a file backend, a timeout) the status is *unknown*, and an unknown
status never stops a print: only a printer that says it is offline or out of paper does.

    n=1 printer:   bit 2 drawer sensor (pin 3 high), bit 3 offline
    n=2 offline:   bit 2 cover open, bit 3 paper fed by the button, bit 5 paper end, bit 6 error
    n=3 error:     bit 2 cutter error, bit 3 unrecoverable, bit 5 auto-recoverable
    n=4 paper:     bits 2-3 near end, bits 5-6 paper end
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.errors import PrinterError

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
_FIXED_MASK, _FIXED_BITS = 0b1001_0011, 0b0001_0010

# Each problem with the English words for the log and the Persian words for the cashier.
PROBLEMS: dict[str, tuple[str, str]] = {
    "offline": ("printer is offline", "چاپگر آفلاین است"),
    "cover_open": ("printer cover is open", "درِ چاپگر باز است"),
    "paper_out": ("printer is out of paper", "کاغذ چاپگر تمام شده است"),
    "cutter_error": ("printer cutter is jammed", "کاتر چاپگر گیر کرده است"),
    "error": ("printer reports an error", "چاپگر خطا دارد"),
}


def status_query(n: int) -> bytes:
    """Return the DLE EOT command that asks for status ``n`` (1..4)."""
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT n must be 1..4, got {n}")
    return DLE_EOT + bytes([n])


def is_status_byte(value: int) -> bool:
    """Tell whether a byte has the fixed bits every DLE EOT answer carries."""
    return value & _FIXED_MASK == _FIXED_BITS


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said; None in a field means it did not say (unknown)."""

    online: bool | None = None
    drawer_open: bool | None = None
    cover_open: bool | None = None
    paper_out: bool | None = None
    paper_near_end: bool | None = None
    cutter_error: bool | None = None
    error: bool | None = None

    @property
    def known(self) -> bool:
        """Tell whether the printer answered at all."""
        return self.online is not None or self.paper_out is not None

    @property
    def problems(self) -> tuple[str, ...]:
        """Return the names of what stops printing, most specific first."""
        found = [
            name
            for name in ("paper_out", "cover_open", "cutter_error", "error")
            if getattr(self, name) is True
        ]
        if self.online is False and not found:
            found.append("offline")
        return tuple(found)

    @property
    def ready(self) -> bool:
        """Tell whether printing may go ahead (an unknown status counts as ready)."""
        return not self.problems

    def __str__(self) -> str:
        if not self.known:
            return "printer status unknown"
        return "; ".join(PROBLEMS[p][0] for p in self.problems) or "printer ready"

    @property
    def fa(self) -> str:
        """Say the status in Persian for the cashier."""
        if not self.known:
            return "وضعیت چاپگر نامعلوم است"
        return "؛ ".join(PROBLEMS[p][1] for p in self.problems) or "چاپگر آماده است"


class PrinterNotReady(PrinterError):
    """The printer answered that it cannot print now (paper out, offline, cover open)."""

    fa = "چاپگر آماده چاپ نیست"

    def __init__(self, status: PrinterStatus) -> None:
        super().__init__(str(status), status.fa)
        self.status = status


def _bit(value: int, bit: int) -> bool:
    return bool(value >> bit & 1)


def parse_status(answers: dict[int, int], drawer_inverted: bool = False) -> PrinterStatus:
    """Build a status from the bytes answered to DLE EOT n, keyed by n; bad bytes are ignored."""
    good = {n: v for n, v in answers.items() if is_status_byte(v)}
    fields: dict[str, bool] = {}
    if 1 in good:
        fields["online"] = not _bit(good[1], 3)
        fields["drawer_open"] = _bit(good[1], 2) != drawer_inverted
    if 2 in good:
        fields["cover_open"] = _bit(good[2], 2)
        fields["error"] = _bit(good[2], 6)
        fields["paper_out"] = _bit(good[2], 5)
    if 3 in good:
        fields["cutter_error"] = _bit(good[3], 2)
        fields["error"] = fields.get("error", False) or _bit(good[3], 3) or _bit(good[3], 5)
    if 4 in good:
        fields["paper_out"] = fields.get("paper_out", False) or good[4] & 0x60 == 0x60
        fields["paper_near_end"] = good[4] & 0x0C == 0x0C
    return PrinterStatus(**fields)


Exchange = Callable[[bytes], bytes]


def query_status(
    exchange: Exchange, drawer_inverted: bool = False, kinds: tuple[int, ...] = (1, 2, 3, 4)
) -> PrinterStatus:
    """Ask DLE EOT n for each n through ``exchange`` (send, return the answer or b"").

    A silent or failing printer stops the questions at once (one timeout, not four); what
    it answered before that still stands.
    """
    answers: dict[int, int] = {}
    for n in kinds:
        try:
            reply = exchange(status_query(n))
        except Exception as exc:
            log.info("printer did not answer DLE EOT %d: %r", n, exc)
            break
        if not reply:
            break
        byte = next((b for b in reversed(reply) if is_status_byte(b)), None)
        if byte is not None:
            answers[n] = byte
    return parse_status(answers, drawer_inverted)

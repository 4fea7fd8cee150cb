"""Serial (RS-232 or USB virtual COM) barcode scanners, opened with ``serial_for_url`` so
``loop://``, ``socket://`` and ptys work as well as real ports.

Frames end with any character of the profile's suffix (a CR, LF or CR LF all end a
frame, since scanners are often reconfigured in the field); the prefix is stripped.
Garbage and overlong frames are dropped with a logged reason, never passed on.
"""

from __future__ import annotations

import logging
import time

import serial

from agent.drivers.base import Scanner
from agent.drivers.profiles import ScannerProfile, SerialSettings
from agent.errors import ScannerError

log = logging.getLogger(__name__)

MAX_FRAME = 512
XON_XOFF = b"\x11\x13"  # DC1 / DC3: software flow control, never part of a code


class SerialScanner(Scanner):
    """Read framed codes from a serial scanner."""

    def __init__(self, url: str, profile: ScannerProfile) -> None:
        self.profile = profile
        settings = profile.serial or SerialSettings()
        self.terminators = set((profile.suffix or "\r").encode()) | {0x0D, 0x0A}
        self.buffer = bytearray()
        self.xonxoff = settings.xonxoff
        try:
            self.port = serial.serial_for_url(
                url,
                baudrate=settings.baudrate,
                bytesize=settings.bytesize,
                parity=settings.parity,
                stopbits=settings.stopbits,
                rtscts=settings.rtscts,
                xonxoff=settings.xonxoff,
                timeout=settings.timeout_s,
            )
        except (serial.SerialException, ValueError) as exc:
            raise ScannerError(f"cannot open scanner at {url}: {exc}") from exc

    def read(self, timeout: float) -> str | None:
        """Return the next complete code, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            code = self._next_frame()
            if code is not None:
                return code
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._fill(min(remaining, 0.1))

    def _fill(self, wait: float) -> None:
        try:
            self.port.timeout = wait
            chunk = self.port.read(max(1, self.port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise ScannerError(f"scanner read failed: {exc}") from exc
        if not self.xonxoff and any(b in XON_XOFF for b in chunk):
            # The scanner speaks XON/XOFF and the profile does not: a flow-control mismatch.
            log.warning("scanner: dropped XON/XOFF bytes (flow-control mismatch with profile)")
            chunk = chunk.translate(None, XON_XOFF)
        self.buffer += chunk
        if len(self.buffer) > MAX_FRAME and not self.terminators.intersection(self.buffer):
            log.warning("scanner: dropped %d bytes with no terminator", len(self.buffer))
            self.buffer.clear()

    def _next_frame(self) -> str | None:
        while True:
            end = next((i for i, b in enumerate(self.buffer) if b in self.terminators), -1)
            if end < 0:
                return None
            raw = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            code = self._decode(raw)
            if code:
                return code

    def _decode(self, raw: bytes) -> str | None:
        if not raw:
            return None  # the LF of a CR LF, or an empty frame
        if len(raw) > MAX_FRAME:
            log.warning("scanner: dropped an overlong frame of %d bytes", len(raw))
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("scanner: dropped a frame that is not UTF-8 (%d bytes)", len(raw))
            return None
        if any(ord(ch) < 0x20 for ch in text):
            log.warning("scanner: dropped a frame with control characters")
            return None
        return text.removeprefix(self.profile.prefix).strip() or None

    def close(self) -> None:
        """Close the port."""
        self.port.close()

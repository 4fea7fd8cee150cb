"""ESC/POS printers through python-escpos: composing receipt bytes and sending them.

Bytes are composed once with python-escpos's ``Dummy`` printer (so the receipt that is
stored for reprint and preview is exactly what went to the printer), then handed to a
transport: python-escpos's File, Network, Serial or Usb backend, each with a timeout.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import io
import logging
import os
import select
import socket
import time
from collections.abc import Callable
from typing import Any

import serial
from escpos import printer as escpos_printer
from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError
from PIL import Image

from agent.drivers.base import Drawer, Printer
from agent.drivers.printer_status import PrinterStatus, query_status
from agent.drivers.profiles import PrinterProfile, SerialSettings
from agent.errors import PrinterError

log = logging.getLogger(__name__)

ESC_INIT = b"\x1b@"
SELECT_PC437 = b"\x1bt\x00"  # the code page any text line is written in (ASCII-safe)
CANCEL_CHINESE = b"\x1c."  # FS .: leave Kanji/Chinese double-byte mode


def init_bytes(profile: PrinterProfile) -> bytes:
    """Return ESC @ and what this model loses by it (its code page, single-byte mode)."""
    data = ESC_INIT
    if profile.has_quirk("chinese_mode_default"):
        data += CANCEL_CHINESE
    if profile.has_quirk("codepage_lost_after_init"):
        data += SELECT_PC437
    return data


def _dummy(profile: PrinterProfile) -> escpos_printer.Dummy:
    dummy = escpos_printer.Dummy()
    # Tell python-escpos the paper width so it refuses an image too wide for the head.
    dummy.profile.profile_data["media"]["width"]["pixels"] = profile.dots
    return dummy


def drawer_kick_bytes(profile: PrinterProfile) -> bytes:
    """Return ESC p with the profile's pin and pulse times (ESC p counts in 2 ms units)."""
    on = min(255, profile.drawer_on_ms // 2)
    off = min(255, profile.drawer_off_ms // 2)
    return bytes([0x1B, 0x70, profile.drawer_pin, on, off])


def compose_receipt(image: Image.Image, profile: PrinterProfile, kick_drawer: bool) -> bytes:
    """Return the ESC/POS bytes that print an image in slices, cut, and optionally kick."""
    if image.width > profile.dots:
        raise PrinterError(
            f"receipt is {image.width} dots wide; {profile.name} prints {profile.dots}"
        )
    dummy = _dummy(profile)
    dummy._raw(init_bytes(profile))
    dummy.image(image, impl="bitImageRaster", fragment_height=profile.raster_slice_height)
    if profile.cut != "none":
        dummy.cut(mode="PART" if profile.cut == "partial" else "FULL")
    if kick_drawer:
        dummy._raw(drawer_kick_bytes(profile))
    data: bytes = dummy.output
    return data


class ClosingNetwork(escpos_printer.Network):  # type: ignore[misc]
    """python-escpos's Network backend, but a failed connect closes its socket and is retried.

    The library keeps a half-made socket after a refused connect and then asserts on the
    next write; a printer that is switched off and on again must simply work on the next job.
    """

    def open(self, raise_not_found: bool = True) -> None:
        """Connect with the backend's timeout; on failure leave nothing open."""
        self.close()  # a no-op unless a connection is open
        try:
            self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            self._device = False  # the next use connects again
            raise DeviceNotFoundError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc


class TimedSerial(escpos_printer.Serial):  # type: ignore[misc]
    """python-escpos's Serial backend opened with ``serial_for_url``, RTS/CTS as the profile
    says, and a write timeout: a printer holding flow control (a mismatch, paper out) makes
    a write fail after the timeout instead of blocking the cashier for ever."""

    def __init__(self, devfile: str, settings: SerialSettings, timeout: float) -> None:
        super().__init__(
            devfile=devfile,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            timeout=timeout,
            xonxoff=settings.xonxoff,
            dsrdtr=settings.dsrdtr,
        )
        self.rtscts = settings.rtscts

    def open(self, raise_not_found: bool = True) -> None:
        """Open the port with read and write timeouts."""
        self.close()
        try:
            self.device = serial.serial_for_url(
                self.devfile,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                xonxoff=self.xonxoff,
                rtscts=self.rtscts,
                dsrdtr=self.dsrdtr,
                timeout=self.timeout,
                write_timeout=self.timeout,
            )
        except (ValueError, serial.SerialException) as exc:
            self._device = False  # the next use opens again (after a replug)
            raise DeviceNotFoundError(f"cannot open serial printer {self.devfile}: {exc}") from exc

    def close(self) -> None:
        """Close without draining: never wait on a printer that stopped taking bytes."""
        device, self._device = self._device, False
        if isinstance(device, serial.SerialBase) and device.is_open:
            with contextlib.suppress(serial.SerialException, OSError):
                device.reset_output_buffer()
            device.close()


def _open_node(path: str, flags: int) -> int:
    # Never O_CREAT: a missing /dev/usb/lp0 (unplugged) must fail, not become a plain file
    # that swallows every receipt until someone notices.
    return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)


class TimedFile(escpos_printer.File):  # type: ignore[misc]
    """python-escpos's File backend for a device node (``/dev/usb/lp0``, a parallel port)
    written without blocking and with a deadline per job: the library's blocking write
    would hang the cashier on a printer that stopped taking bytes, and it creates a missing
    node as a plain file. After any failure the node is closed, so the next job opens it
    again (the printer may have been replugged)."""

    def __init__(self, devfile: str, timeout: float) -> None:
        super().__init__(devfile=devfile)
        self.timeout = timeout

    def open(self, raise_not_found: bool = True) -> None:
        """Open the node for writing, non-blocking; on failure leave nothing open."""
        self.close()
        try:
            self.device = open(self.devfile, "wb", buffering=0, opener=_open_node)  # noqa: SIM115
        except OSError as exc:
            self._device = False
            raise DeviceNotFoundError(f"cannot open printer {self.devfile}: {exc}") from exc

    def _raw(self, msg: bytes) -> None:
        """Write all of ``msg`` before the deadline, waiting with select between writes."""
        device = self.device
        view = memoryview(msg)
        deadline = time.monotonic() + self.timeout
        try:
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OSError(
                        errno.ETIMEDOUT,
                        f"printer took {len(msg) - len(view)} of {len(msg)} bytes"
                        f" in {self.timeout:g} s",
                    )
                _, ready, _ = select.select([], [device], [], remaining)
                if ready:
                    view = view[device.write(view) or 0 :]  # None: it would block after all
        except OSError:
            self.close()
            raise

    def flush(self) -> None:
        """Nothing to flush: writes are unbuffered."""

    def close(self) -> None:
        """Close the node without waiting for anything."""
        device, self._device = self._device, False
        if isinstance(device, io.FileIO):
            with contextlib.suppress(OSError):
                device.close()


class EscposTransportPrinter(Printer):
    """Send bytes through one python-escpos backend; ask DLE EOT status where it answers."""

    #: After a printer stays silent, do not ask again for this long: each question costs a
    #: full timeout, and a printer that never answers would slow every receipt by it.
    SILENT_BACKOFF_S = 300.0

    def __init__(
        self,
        backend: Any,
        profile: PrinterProfile | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.profile = profile
        self.clock = clock
        self.silent_until = 0.0
        self.stale = False

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1..4; any failure or silence gives an unknown status, never an error."""
        if self.profile is None or not self.profile.supports_status:
            return PrinterStatus()
        if isinstance(self.backend, escpos_printer.File):
            return PrinterStatus()  # a file or device node only takes bytes: never write a query
        if self.clock() < self.silent_until:
            return PrinterStatus()
        inverted = self.profile.has_quirk("drawer_sensor_inverted")
        try:
            status = query_status(self._exchange, drawer_inverted=inverted)
        except Exception as exc:
            log.info("printer status query failed, printing anyway: %r", exc)
            status = PrinterStatus()
        if not status.known:
            self.silent_until = self.clock() + self.SILENT_BACKOFF_S
        return status

    def _exchange(self, query: bytes) -> bytes:
        self.backend._raw(query)
        reply = self.backend._read()
        return bytes(reply or b"")

    def send(self, data: bytes) -> None:
        """Write bytes to the device; convert any transport error to PrinterError.

        After a failure, or once the device was replugged, the backend is closed before the
        next job so that job opens the device again: a USB printer unplugged and plugged
        back keeps no stale handle, and the cashier's retry simply prints."""
        if self.stale:
            self.stale = False
            self.close()
        try:
            self.backend._raw(data)
        except (EscposError, OSError, ValueError) as exc:
            self.close()
            raise PrinterError(f"printer did not take {len(data)} bytes: {exc}") from exc

    def replugged(self) -> None:
        """Open the device afresh before the next job (called from the device watcher)."""
        self.stale = True
        self.silent_until = 0.0  # a new device may answer status queries

    def close(self) -> None:
        """Close the backend's device so that its next use opens it again."""
        with contextlib.suppress(EscposError, OSError):
            self.backend.close()
        # python-escpos leaves None after a failed open, and None is never opened again.
        self.backend._device = False


class MemoryPrinter(Printer):
    """Keep the last prints in memory: the simulator's and the tests' printer.

    Only the last ``keep`` jobs stay: a terminal left on the simulated printer for a day
    would otherwise hold every receipt (tens of KB each) until it ran out of memory.
    """

    def __init__(self, keep: int = 100) -> None:
        self.jobs: collections.deque[bytes] = collections.deque(maxlen=keep)

    def send(self, data: bytes) -> None:
        """Remember the bytes of one print."""
        self.jobs.append(data)


class PrinterDrawer(Drawer):
    """A drawer wired to the printer's RJ-11 kick port."""

    def __init__(self, printer: Printer, profile: PrinterProfile) -> None:
        self.printer = printer
        self.profile = profile

    def kick(self) -> None:
        """Send ESC p with the profile's pin and pulse."""
        self.printer.send(drawer_kick_bytes(self.profile))

    def is_open(self) -> bool | None:
        """Read the drawer sensor from DLE EOT 1 bit 2; None when the printer does not say."""
        return self.printer.status().drawer_open


def open_printer(profile: PrinterProfile, transport: str, target: str, timeout: float) -> Printer:
    """Open a printer by transport name: file, network (host[:port]), serial (url) or usb."""
    try:
        if transport == "memory":
            return MemoryPrinter()
        if transport == "file":
            return EscposTransportPrinter(TimedFile(target, timeout), profile)
        if transport == "network":
            host, _, port = target.partition(":")
            backend = ClosingNetwork(host=host, port=int(port or 9100), timeout=timeout)
            return EscposTransportPrinter(backend, profile)
        if transport == "serial":
            backend = TimedSerial(target, profile.serial or SerialSettings(), timeout)
            return EscposTransportPrinter(backend, profile)
        if transport == "usb":
            vid, pid = int(profile.usb_vid or "0", 16), int(profile.usb_pid or "0", 16)
            return EscposTransportPrinter(
                escpos_printer.Usb(vid, pid, timeout=int(timeout * 1000)), profile
            )
    except (EscposError, OSError, ValueError) as exc:
        raise PrinterError(f"cannot open {transport} printer {target!r}: {exc}") from exc
    raise PrinterError(f"unknown printer transport {transport!r}")

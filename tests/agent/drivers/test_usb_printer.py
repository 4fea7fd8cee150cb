"""A printer on the usb transport (python-escpos's Usb backend over pyusb).

There is no USB bus in the test machine, so the one part not real here is the device pyusb
finds: a stand-in with pyusb's Device methods that python-escpos calls (``write``,
``read``, ``set_configuration``, ``reset``, and the context ``usb.util.dispose_resources``
uses), answering DLE EOT as an Xprinter does and
failing as an unplugged device does (``USBError`` errno 19). Everything above it — the
backend, our transport wrapper, status parsing, reopening — is the real code.
"""

from __future__ import annotations

import array
from collections.abc import Iterator

import pytest
import usb.core

from agent.drivers.escpos_printer import open_printer
from agent.drivers.profiles import PrinterProfile, load_profile
from agent.errors import PrinterError

DLE_EOT = b"\x10\x04"


class Libusb0Backend:
    """pyusb's backend object; python-escpos detaches kernel drivers only under libusb1."""


class UsbPrinterDevice:
    """What pyusb's ``usb.core.find`` returns for the printer, as python-escpos uses it."""

    def __init__(self, answers: dict[int, int]) -> None:
        self.answers = answers
        self.backend = Libusb0Backend()
        self.written = bytearray()
        self.replies: list[int] = []
        self.plugged = True
        self.reads = 0
        self.disposed = 0
        self._ctx = self  # usb.util.dispose_resources(device) calls device._ctx.dispose(device)

    def dispose(self, device: UsbPrinterDevice) -> None:
        """Release the handle (python-escpos's close)."""
        self.disposed += 1

    def set_configuration(self) -> None:
        """Accept the default configuration."""

    def reset(self) -> None:
        """Accept a reset."""

    def write(self, endpoint: int, data: bytes, timeout: int) -> int:
        if not self.plugged:
            raise usb.core.USBError("No such device (it may have been disconnected)", errno=19)
        data = bytes(data)
        if data.startswith(DLE_EOT) and len(data) == 3 and data[2] in self.answers:
            self.replies.append(self.answers[data[2]])
        else:
            self.written += data
        return len(data)

    def read(self, endpoint: int, size: int) -> array.array[int]:
        self.reads += 1
        if not self.plugged or not self.replies:
            raise usb.core.USBError("Operation timed out", errno=110)
        return array.array("B", [self.replies.pop(0)])


class UsbBus:
    """The bus pyusb searches: the printer is on it or not."""

    def __init__(self, device: UsbPrinterDevice) -> None:
        self.device: UsbPrinterDevice | None = device
        self.searches: list[dict[str, int]] = []

    def find(self, **query: int) -> UsbPrinterDevice | None:
        self.searches.append(query)
        return self.device


@pytest.fixture
def profile() -> PrinterProfile:
    found = load_profile("xprinter-xp80c")
    assert isinstance(found, PrinterProfile)
    return found


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[UsbBus]:
    bus = UsbBus(UsbPrinterDevice({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}))
    monkeypatch.setattr(usb.core, "find", bus.find)
    yield bus


def test_the_printer_is_found_by_the_profile_ids_and_reports_paper_out(
    bus: UsbBus, profile: PrinterProfile
) -> None:
    """GIVEN an Xprinter on USB WHEN the terminal opens it THEN pyusb is searched with the
    profile's VID:PID; DLE EOT 1..4 over the bulk endpoints reads ready, then paper out."""
    printer = open_printer(profile, "usb", "", timeout=0.5)
    assert printer.status().ready
    assert bus.searches[0] == {"idVendor": 0x0483, "idProduct": 0x5743}
    assert bus.device is not None
    bus.device.answers = {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72}
    status = printer.status()
    assert status.paper_out and not status.ready and status.fa == "کاغذ چاپگر تمام شده است"
    printer.send(b"\x1b@receipt")
    assert bytes(bus.device.written) == b"\x1b@receipt"
    printer.close()


def test_a_silent_usb_printer_is_unknown_and_prints_anyway(
    bus: UsbBus, profile: PrinterProfile
) -> None:
    """GIVEN a USB printer that never answers DLE EOT THEN its status is unknown after one
    read timeout (not four), and the job still goes out."""
    assert bus.device is not None
    bus.device.answers = {}
    printer = open_printer(profile, "usb", "", timeout=0.5)
    status = printer.status()
    assert not status.known and status.ready
    assert bus.device.reads == 1
    printer.send(b"\x1b@")
    assert bytes(bus.device.written).endswith(b"\x1b@")


def test_unplugged_then_replugged_the_next_job_prints_on_the_new_device(
    bus: UsbBus, profile: PrinterProfile
) -> None:
    """GIVEN a USB printer that was unplugged WHEN a job is sent THEN PrinterError (the
    cashier is told) and, while it stays away, again; WHEN it is plugged back (a new
    device on the bus) THEN the next job opens it afresh and prints there."""
    printer = open_printer(profile, "usb", "", timeout=0.5)
    printer.send(b"first")
    old = bus.device
    assert old is not None
    old.plugged = False
    with pytest.raises(PrinterError, match="did not take"):
        printer.send(b"second")
    bus.device = None
    with pytest.raises(PrinterError):
        printer.send(b"second")
    bus.device = UsbPrinterDevice({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12})
    printer.send(b"second")
    assert bytes(bus.device.written) == b"second"
    assert bytes(old.written) == b"first" and old.disposed >= 1


def test_a_replug_seen_by_the_watcher_reopens_before_the_next_job(
    bus: UsbBus, profile: PrinterProfile
) -> None:
    """GIVEN a USB printer replugged between two jobs (the device watcher saw it come back)
    WHEN the next job is sent THEN it goes to the new device at once, not after a failure."""
    printer = open_printer(profile, "usb", "", timeout=0.5)
    printer.send(b"first")
    bus.device = UsbPrinterDevice({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12})
    printer.replugged()
    printer.send(b"second")
    assert bytes(bus.device.written) == b"second"

"""Printer status through DLE EOT, against real status bytes and a loopback network printer."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from agent.drivers.escpos_printer import (
    EscposTransportPrinter,
    PrinterDrawer,
    compose_receipt,
    open_printer,
)
from agent.drivers.printer_status import (
    PrinterNotReady,
    PrinterStatus,
    is_status_byte,
    parse_status,
    query_status,
    status_query,
)
from agent.drivers.profiles import PrinterProfile, load_profile
from agent.drivers.simulator import NetworkPrinterSimulator
from agent.errors import PrinterError

# Answers as Epson's TM manuals tabulate them (fixed bits 0x12 plus the flags).
IDLE = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}
PAPER_OUT = {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72}


def _profile(name: str = "xprinter-xp80c") -> PrinterProfile:
    profile = load_profile(name)
    assert isinstance(profile, PrinterProfile)
    return profile


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[NetworkPrinterSimulator]:
    simulator = NetworkPrinterSimulator(out_dir=tmp_path, status=dict(IDLE))
    yield simulator
    simulator.close()


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (IDLE, PrinterStatus(True, False, False, False, False, False, False)),
        (PAPER_OUT, PrinterStatus(False, False, False, True, False, False, False)),
        ({1: 0x16}, PrinterStatus(online=True, drawer_open=True)),
        (
            {1: 0x1A, 2: 0x16},
            PrinterStatus(
                online=False, drawer_open=False, cover_open=True, error=False, paper_out=False
            ),
        ),
        ({4: 0x1E}, PrinterStatus(paper_out=False, paper_near_end=True)),
        ({3: 0x16}, PrinterStatus(cutter_error=True, error=False)),
        ({3: 0x1A}, PrinterStatus(cutter_error=False, error=True)),
    ],
)
def test_status_bytes_are_parsed(answers: dict[int, int], expected: PrinterStatus) -> None:
    assert parse_status(answers) == expected


def test_bytes_without_the_fixed_bits_are_not_a_status() -> None:
    """GIVEN line noise instead of a status byte THEN nothing is concluded from it."""
    assert not is_status_byte(0x00) and not is_status_byte(0xFF) and not is_status_byte(0x13)
    assert parse_status({1: 0xFF, 4: 0x00}) == PrinterStatus()
    assert PrinterStatus().ready and not PrinterStatus().known


def test_problems_are_told_in_english_and_persian() -> None:
    status = parse_status(PAPER_OUT)
    assert status.problems == ("paper_out",)
    assert str(status) == "printer is out of paper"
    assert status.fa == "کاغذ چاپگر تمام شده است"
    offline = parse_status({1: 0x1A})
    assert offline.problems == ("offline",) and "آفلاین" in offline.fa
    error = PrinterNotReady(status)
    assert isinstance(error, PrinterError) and error.fa == status.fa and error.status is status


def test_status_query_bytes() -> None:
    assert [status_query(n) for n in (1, 4)] == [b"\x10\x04\x01", b"\x10\x04\x04"]
    with pytest.raises(ValueError):
        status_query(5)


def test_a_silent_printer_is_asked_once_not_four_times() -> None:
    asked: list[bytes] = []

    def silent(query: bytes) -> bytes:
        asked.append(query)
        return b""

    assert query_status(silent) == PrinterStatus()
    assert asked == [b"\x10\x04\x01"]


def test_network_printer_reports_paper_out(sim: NetworkPrinterSimulator) -> None:
    """GIVEN a network printer out of paper WHEN asked THEN the cashier is told, in Persian."""
    sim.status = dict(PAPER_OUT)
    printer = open_printer(_profile(), "network", sim.address, timeout=1.0)
    status = printer.status()
    printer.close()
    assert status.paper_out is True and status.online is False and not status.ready
    assert status.fa == "کاغذ چاپگر تمام شده است"


def test_silent_network_printer_times_out_and_still_prints(
    sim: NetworkPrinterSimulator, tmp_path: Path
) -> None:
    """GIVEN a printer that never answers DLE EOT WHEN a receipt is printed THEN the status is
    unknown after one explicit timeout and the receipt still reaches the printer."""
    sim.status = {}
    profile = _profile()
    printer = open_printer(profile, "network", sim.address, timeout=0.3)
    started = time.monotonic()
    status = printer.status()
    assert time.monotonic() - started < 2.0  # one 0.3 s timeout, not the 60 s default
    assert status == PrinterStatus() and status.ready
    receipt = Image.new("1", (profile.dots, 40), 1)
    printer.send(compose_receipt(receipt, profile, kick_drawer=True))
    printer.close()
    jobs = sim.wait_for_jobs(1)
    assert len(jobs) == 1
    assert sim.kicks == [(2, profile.drawer_on_ms, profile.drawer_off_ms)]
    assert sim.images == [tmp_path / "job-1.png"] and sim.images[0].exists()
    with Image.open(sim.images[0]) as png:
        assert png.size == (profile.dots, 40)


def test_unreachable_network_printer_status_is_unknown_not_a_crash() -> None:
    """GIVEN nothing listening on the printer's port WHEN asked THEN status unknown."""
    sim = NetworkPrinterSimulator()
    address = sim.address
    sim.close()
    printer = open_printer(_profile(), "network", address, timeout=0.3)
    assert printer.status() == PrinterStatus()
    with pytest.raises(PrinterError):
        printer.send(b"\x1b@")


def test_a_profile_without_status_support_is_never_asked(sim: NetworkPrinterSimulator) -> None:
    """GIVEN a model that has no status support WHEN asked THEN no DLE EOT goes out."""
    profile = dataclasses.replace(_profile(), supports_status=False)
    printer = open_printer(profile, "network", sim.address, timeout=0.5)
    assert printer.status() == PrinterStatus()
    printer.send(b"\x1b@")
    printer.close()
    assert sim.wait_for_jobs(1) == [b"\x1b@"]


@pytest.mark.parametrize(
    ("byte", "inverted", "is_open"),
    [(0x16, False, True), (0x12, False, False), (0x16, True, False), (0x12, True, True)],
)
def test_drawer_sensor_through_the_printer(byte: int, inverted: bool, is_open: bool) -> None:
    """GIVEN DLE EOT 1 bit 2 WHEN the drawer is asked THEN open/closed, polarity by profile."""
    assert parse_status({1: byte}, drawer_inverted=inverted).drawer_open is is_open


def test_printer_drawer_reads_its_sensor_over_the_network(sim: NetworkPrinterSimulator) -> None:
    sim.status = {1: 0x16}
    profile = _profile()
    printer = open_printer(profile, "network", sim.address, timeout=0.5)
    drawer = PrinterDrawer(printer, profile)
    assert drawer.is_open() is True
    sim.status = {1: 0x12}
    assert drawer.is_open() is False
    printer.close()


def test_serial_printer_on_a_pty_answers_status_and_a_silent_one_times_out() -> None:
    """GIVEN an RS-232 printer (a pty) that answers DLE EOT 4 with paper end THEN paper out is
    read through python-escpos's Serial backend; GIVEN it goes silent THEN unknown within
    the explicit timeout."""
    import os
    import threading

    from agent.drivers.simulator import PtyScannerSimulator

    line = PtyScannerSimulator()  # a raw pty pair: we play the printer on the master side
    answers = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x72}
    silent = threading.Event()
    done = threading.Event()

    def printer_side() -> None:
        while not done.is_set():
            try:
                query = os.read(line.master_fd, 3)
            except OSError:
                return
            if query[:2] == b"\x10\x04" and len(query) == 3 and not silent.is_set():
                os.write(line.master_fd, bytes([answers[query[2]]]))

    thread = threading.Thread(target=printer_side, daemon=True)
    thread.start()
    printer = open_printer(_profile(), "serial", line.port_path, timeout=0.3)
    try:
        status = printer.status()
        assert status.paper_out is True and status.paper_near_end is False
        silent.set()
        started = time.monotonic()
        assert printer.status() == PrinterStatus()
        assert time.monotonic() - started < 2.0
    finally:
        done.set()
        printer.close()
        line.close()
        thread.join(timeout=2)


def test_a_silent_printer_is_not_asked_again_for_a_while(sim: NetworkPrinterSimulator) -> None:
    """GIVEN a printer that never answers WHEN several receipts print THEN only the first pays
    the status timeout; after the back-off it is asked again (it may have been fixed)."""
    sim.status = {}
    now = [0.0]
    printer = open_printer(_profile(), "network", sim.address, timeout=0.3)
    assert isinstance(printer, EscposTransportPrinter)
    printer.clock = lambda: now[0]
    assert printer.status() == PrinterStatus()
    for _ in range(5):
        assert printer.status() == PrinterStatus()
    assert sim.status_queries == 1
    sim.status = dict(PAPER_OUT)
    now[0] = EscposTransportPrinter.SILENT_BACKOFF_S + 1
    assert printer.status().paper_out is True
    assert sim.status_queries == 5  # asked again: DLE EOT 1..4
    printer.close()


def test_a_serial_printer_that_stops_taking_bytes_fails_within_the_timeout() -> None:
    """GIVEN a serial printer holding flow control (nobody reads the line: a flow-control
    mismatch or paper out) WHEN a big raster job is sent THEN a PrinterError after the write
    timeout, not a cashier screen frozen for ever; closing the port does not hang either."""
    from agent.drivers.simulator import PtyScannerSimulator

    line = PtyScannerSimulator()
    printer = open_printer(_profile(), "serial", line.port_path, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(PrinterError, match="did not take"):
        printer.send(b"\x00" * 2_000_000)
    printer.close()
    assert time.monotonic() - started < 3.0
    line.close()


def _drain(fd: int) -> bytes:
    data = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def test_a_device_node_printer_that_stops_taking_bytes_fails_and_then_recovers(
    tmp_path: Path,
) -> None:
    """GIVEN a file-transport printer (a device node like /dev/usb/lp0; here a FIFO whose
    reader stops reading, as a stuck printer does) WHEN a job bigger than the node's buffer
    is sent THEN a PrinterError after the timeout instead of a blocked cashier; once the
    printer takes bytes again the next job goes through whole, on a freshly opened node."""
    node = tmp_path / "lp0"
    os.mkfifo(node)
    reader = os.open(node, os.O_RDONLY | os.O_NONBLOCK)  # the printer end, not reading yet
    try:
        printer = open_printer(_profile(), "file", str(node), timeout=0.3)
        started = time.monotonic()
        with pytest.raises(PrinterError, match=r"took .* of 2000000 bytes"):
            printer.send(b"\x00" * 2_000_000)
        assert time.monotonic() - started < 3.0
        stuck = _drain(reader)
        assert 0 < len(stuck) < 2_000_000  # what the node's buffer held before it filled
        printer.send(b"\x1b@receipt\x1dV\x01")
        assert _drain(reader) == b"\x1b@receipt\x1dV\x01"
        printer.close()
    finally:
        os.close(reader)


def test_a_device_node_printer_unplugged_fails_and_works_again_when_it_returns(
    tmp_path: Path,
) -> None:
    """GIVEN a file-transport printer whose node is gone (unplugged; no reader on the FIFO
    opens as ENXIO like a missing device) WHEN a job is sent THEN a PrinterError; when the
    node returns the next job opens it again and is delivered."""
    node = tmp_path / "lp0"
    printer = open_printer(_profile(), "file", str(node.with_name("missing")), timeout=0.3)
    with pytest.raises(PrinterError):
        printer.send(b"\x1b@")
    os.mkfifo(node)
    printer = open_printer(_profile(), "file", str(node), timeout=0.3)
    with pytest.raises(PrinterError):
        printer.send(b"\x1b@")  # nobody holds the other end: the printer is not there
    reader = os.open(node, os.O_RDONLY | os.O_NONBLOCK)  # plugged back in
    try:
        printer.send(b"\x1b@again")
        assert _drain(reader) == b"\x1b@again"
        printer.close()
    finally:
        os.close(reader)

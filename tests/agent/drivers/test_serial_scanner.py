"""Serial scanners over real ptys and ``loop://``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.drivers.profiles import ScannerProfile, load_profile
from agent.drivers.serial_scanner import SerialScanner
from agent.drivers.simulator import PtyScannerSimulator
from agent.errors import ScannerError


@pytest.fixture
def profile() -> ScannerProfile:
    loaded = load_profile("generic-serial-scanner")
    assert isinstance(loaded, ScannerProfile)
    return loaded


@pytest.fixture
def pty_scanner(profile: ScannerProfile) -> Iterator[tuple[PtyScannerSimulator, SerialScanner]]:
    sim = PtyScannerSimulator(suffix=profile.suffix)
    scanner = SerialScanner(sim.port_path, profile)
    yield sim, scanner
    scanner.close()
    sim.close()


def test_codes_arrive_framed_by_the_suffix(pty_scanner) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a scanner on a pty WHEN two cards are scanned THEN two codes are read, in order."""
    sim, scanner = pty_scanner
    sim.scan("2900012345675")
    sim.scan("09123456789")
    assert scanner.read(timeout=2) == "2900012345675"
    assert scanner.read(timeout=2) == "09123456789"
    assert scanner.read(timeout=0.2) is None


def test_partial_frame_waits_for_its_end(pty_scanner) -> None:  # type: ignore[no-untyped-def]
    sim, scanner = pty_scanner
    sim.write_raw(b"29000")
    assert scanner.read(timeout=0.3) is None
    sim.write_raw(b"12345675\r")
    assert scanner.read(timeout=2) == "2900012345675"


def test_garbage_frames_are_dropped_not_passed_on(pty_scanner) -> None:  # type: ignore[no-untyped-def]
    sim, scanner = pty_scanner
    sim.write_raw(b"\xff\xfe\x80garbage\r\n")  # not UTF-8
    sim.write_raw(b"ab\x07cd\r\n")  # a control character inside
    sim.write_raw(b"x" * 2000)  # line noise with no terminator: dropped once past the limit
    assert scanner.read(timeout=0.5) is None
    assert len(scanner.buffer) < 600
    sim.scan("2900012345675")
    assert scanner.read(timeout=2) == "2900012345675"


def test_loop_url_and_prefix_stripping(profile: ScannerProfile) -> None:
    prefixed = ScannerProfile(
        name="t", vendor="t", model="t", type="serial", prefix="]C0", suffix="\r"
    )
    scanner = SerialScanner("loop://", prefixed)
    scanner.port.write(b"]C02900012345675\r")
    assert scanner.read(timeout=1) == "2900012345675"
    scanner.close()


def test_a_port_that_does_not_exist_is_a_scanner_error(profile: ScannerProfile) -> None:
    with pytest.raises(ScannerError, match="cannot open"):
        SerialScanner("/dev/does-not-exist-vafa", profile)


def test_unplug_during_read_is_a_scanner_error(profile: ScannerProfile) -> None:
    """GIVEN a scanner being read WHEN its device goes away THEN a ScannerError, not a hang."""
    sim = PtyScannerSimulator()
    scanner = SerialScanner(sim.port_path, profile)
    sim.close()  # the other end of the line is gone, as when a USB-serial cable is pulled
    with pytest.raises(ScannerError, match="read failed"):
        scanner.read(timeout=1)
    scanner.close()

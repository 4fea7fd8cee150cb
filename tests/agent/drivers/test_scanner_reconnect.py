"""Serial scanners unplugged and plugged back in, and flow-control mismatches, over real ptys.

The stable path a scanner has in the field (``/dev/serial/by-id/...``) is a symlink here too:
unplugging closes the pty and removes the link; plugging back in makes a new pty and links it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.drivers.base import Scanner
from agent.drivers.profiles import ScannerProfile, SerialSettings, load_profile
from agent.drivers.reconnect import ReconnectingScanner
from agent.drivers.serial_scanner import SerialScanner
from agent.drivers.simulator import PtyScannerSimulator
from agent.errors import ScannerError


class FakeTime:
    """A clock that only moves when slept on, so sleeps are counted, never waited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a zero sleep would be a busy loop"
        self.sleeps.append(seconds)
        self.now += seconds


class Cable:
    """A scanner at a stable by-id path that can be unplugged and plugged back in."""

    def __init__(self, by_id: Path) -> None:
        self.by_id = by_id
        self.sim: PtyScannerSimulator | None = None
        self.plug()

    def plug(self) -> PtyScannerSimulator:
        self.sim = PtyScannerSimulator()
        self.by_id.symlink_to(self.sim.port_path)
        return self.sim

    def unplug(self) -> None:
        assert self.sim is not None
        self.sim.close()
        self.by_id.unlink()
        self.sim = None


@pytest.fixture
def profile() -> ScannerProfile:
    loaded = load_profile("generic-serial-scanner")
    assert isinstance(loaded, ScannerProfile)
    return loaded


@pytest.fixture
def cable(tmp_path: Path) -> Iterator[Cable]:
    by_id = tmp_path / "usb-Newland_HR22-if00-port0"
    plugged = Cable(by_id)
    yield plugged
    if plugged.sim is not None:
        plugged.unplug()


def test_unplug_then_replug_reconnects_with_backoff_not_a_busy_loop(
    cable: Cable, profile: ScannerProfile, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a scanner read through its by-id path WHEN it is unplugged for a long while
    THEN reads return None, attempts back off (0.1, 0.2, 0.4 ... capped at 5 s) and only
    the change of state is logged; WHEN it is plugged back THEN the next scan is read."""
    fake = FakeTime()
    opened: list[Scanner] = []

    def opener() -> Scanner:
        scanner = SerialScanner(str(cable.by_id), profile)
        opened.append(scanner)
        return scanner

    reader = ReconnectingScanner(opener, "HR22", sleep=fake.sleep, clock=fake.clock)
    assert cable.sim is not None
    cable.sim.scan("2900012345675")
    assert reader.read(timeout=2) == "2900012345675"

    cable.unplug()
    with caplog.at_level(logging.WARNING):
        assert reader.read(timeout=60) is None
        assert not reader.connected
        # 60 s of unplug costs a dozen attempts, not thousands.
        assert fake.sleeps[:6] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
        assert max(fake.sleeps) == 5.0
        assert 10 <= len(fake.sleeps) <= 20
        assert sum(fake.sleeps) == pytest.approx(60.0)
        assert reader.read(timeout=30) is None
        assert all(s == 5.0 for s in fake.sleeps[-5:])
    unplug_logs = [r for r in caplog.records if "unplugged" in r.getMessage()]
    assert len(unplug_logs) == 1  # logged on the change, not on every attempt

    sim = cable.plug()
    before = len(fake.sleeps)
    assert reader.read(timeout=0.3) is None  # reopens (pyserial flushes input on open)
    assert reader.connected and len(opened) == 2
    sim.scan("09123456789")
    assert reader.read(timeout=10) == "09123456789"
    assert len(fake.sleeps) == before + 1  # one wait, then the reopen succeeded
    assert reader.delay == 0.1  # backoff starts again from the bottom
    reader.close()


def test_a_scanner_missing_at_start_is_waited_for(tmp_path: Path, profile: ScannerProfile) -> None:
    """GIVEN no scanner at start-up WHEN it is plugged in later THEN it is read."""
    fake = FakeTime()
    by_id = tmp_path / "usb-scanner"
    reader = ReconnectingScanner(
        lambda: SerialScanner(str(by_id), profile), sleep=fake.sleep, clock=fake.clock
    )
    assert reader.read(timeout=1) is None and len(fake.sleeps) == 4  # 0.1+0.2+0.4+0.3
    cable = Cable(by_id)
    assert cable.sim is not None
    assert reader.read(timeout=0.3) is None and reader.connected
    cable.sim.scan("2900012345675")
    assert reader.read(timeout=5) == "2900012345675"
    reader.close()
    cable.unplug()


def test_garbage_and_partial_frames_across_a_replug(
    cable: Cable, profile: ScannerProfile, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a partial frame when the cable is pulled THEN it never joins the next scan; garbage
    after the replug is dropped with a logged reason and the good code still comes through."""
    fake = FakeTime()
    reader = ReconnectingScanner(
        lambda: SerialScanner(str(cable.by_id), profile), sleep=fake.sleep, clock=fake.clock
    )
    assert cable.sim is not None
    cable.sim.write_raw(b"29000")
    assert reader.read(timeout=0.3) is None
    cable.unplug()
    assert reader.read(timeout=1) is None
    sim = cable.plug()
    assert reader.read(timeout=0.3) is None and reader.connected
    with caplog.at_level(logging.WARNING):
        sim.write_raw(b"\xff\xfe\r\n")
        sim.scan("12345675")
        assert reader.read(timeout=5) == "12345675"
    assert any("not UTF-8" in r.getMessage() for r in caplog.records)
    reader.close()


def test_xonxoff_from_a_scanner_the_profile_thinks_has_none(
    profile: ScannerProfile, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a scanner set to XON/XOFF while its profile has no flow control WHEN it sends
    DC1/DC3 around and inside frames THEN the codes still read and the mismatch is logged."""
    sim = PtyScannerSimulator()
    scanner = SerialScanner(sim.port_path, profile)
    with caplog.at_level(logging.WARNING):
        sim.write_raw(b"\x1329000\x111234\x135675\x11\r\n")
        assert scanner.read(timeout=2) == "2900012345675"
    assert any("flow-control mismatch" in r.getMessage() for r in caplog.records)
    scanner.close()
    sim.close()


def test_hardware_flow_control_on_a_line_without_it_still_reads(profile: ScannerProfile) -> None:
    """GIVEN a profile asking for RTS/CTS on a line that has no modem lines (a pty, a cheap
    USB-serial cable) WHEN a code is scanned THEN it is read: input never waits on CTS."""
    settings = dataclasses.replace(profile.serial or SerialSettings(), rtscts=True)
    strict = dataclasses.replace(profile, serial=settings)
    sim = PtyScannerSimulator()
    scanner = SerialScanner(sim.port_path, strict)
    sim.scan("2900012345675")
    assert scanner.read(timeout=2) == "2900012345675"
    scanner.close()
    sim.close()


def test_open_failure_other_than_scanner_error_is_not_swallowed() -> None:
    """GIVEN an opener with a bug WHEN the wrapper starts THEN the bug surfaces at once."""

    def broken() -> Scanner:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        ReconnectingScanner(broken)
    with pytest.raises(ScannerError):
        SerialScanner("/dev/nothing-here-vafa", load_profile("generic-serial-scanner"))  # type: ignore[arg-type]

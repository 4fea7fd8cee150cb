"""The scanner thread of ``vafa-agent run`` feeds scans to the cashier screen."""

from __future__ import annotations

import dataclasses
import threading
import time

from agent.drivers.simulator import PtyScannerSimulator
from agent.service import start_scanner
from agent.web.cashier import ScanFeed


def wait_for(feed: ScanFeed, count: int, timeout: float = 5.0) -> list[str]:
    """Return the feed's codes once there are ``count`` of them (or what came in time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = feed.since(0)[1]
        if len(codes) >= count:
            return codes
        time.sleep(0.02)
    return feed.since(0)[1]


def test_scans_on_a_serial_scanner_reach_the_feed(terminal) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a serial scanner on a pty WHEN two cards are scanned THEN the feed holds both."""
    scanner = PtyScannerSimulator()
    terminal.config = dataclasses.replace(terminal.config, scanner_url=scanner.port_path)
    feed, stop = ScanFeed(), threading.Event()
    try:
        assert start_scanner(terminal, feed, stop)
        # Opening a port flushes its input, so scan a first code until the thread reads it.
        for _ in range(50):
            scanner.scan("warm-up")
            time.sleep(0.1)
            if feed.since(0)[1]:
                break
        warm, codes = feed.since(0)
        assert codes and set(codes) == {"warm-up"}
        scanner.scan("2900001234565")
        scanner.scan("09125554433")
        assert wait_for(feed, warm + 2)[-2:] == ["2900001234565", "09125554433"]
        seq, fresh = feed.since(warm + 1)
        assert (seq, fresh) == (warm + 2, ["09125554433"])
    finally:
        stop.set()
        time.sleep(0.6)  # the thread closes its port within one read timeout
        scanner.close()


def test_no_scanner_configured_starts_no_thread(terminal) -> None:  # type: ignore[no-untyped-def]
    """Without a scanner_url nothing is started."""
    before = {t.name for t in threading.enumerate()}
    assert not start_scanner(terminal, ScanFeed(), threading.Event())
    assert "vafa-scanner" not in {t.name for t in threading.enumerate()} - before


def test_feed_keeps_only_the_latest_scans() -> None:
    """The feed is bounded: old scans fall off, numbering goes on."""
    feed = ScanFeed(keep=3)
    for n in range(5):
        feed.push(str(n))
    assert feed.since(0) == (5, ["2", "3", "4"])
    assert feed.since(5) == (5, [])

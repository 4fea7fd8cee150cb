"""``vafa-agent run`` reads a keyboard-wedge scanner too, grabbing it only when confirmed."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

from agent.drivers import hid_scanner
from agent.drivers.profiles import ScannerProfile, load_profile
from agent.errors import ProfileError
from agent.service import should_grab, start_scanner
from agent.web.cashier import ScanFeed
from tests.agent.drivers.test_discovery import input_node, usb_device
from tests.agent.drivers.test_hid_scanner import PipeNode, typed

BY_ID = "usb-Zebra_Symbol_Bar_Code_Scanner_1234-event-kbd"


def _profile(name: str) -> ScannerProfile:
    loaded = load_profile(name)
    assert isinstance(loaded, ScannerProfile)
    return loaded


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A terminal with a Zebra DS2208 (05e0:1200) and a plain keyboard (046d:c31c)."""
    zebra = usb_device(tmp_path, "1-2", "05E0", "1200")
    input_node(tmp_path, BY_ID, "event7", zebra)
    keyboard = usb_device(tmp_path, "1-3", "046d", "c31c")
    input_node(tmp_path, "usb-Logitech_USB_Keyboard-event-kbd", "event3", keyboard)
    return tmp_path


def test_auto_grabs_only_a_device_whose_ids_match_the_profile(root: Path) -> None:
    """GIVEN a Zebra scanner and a keyboard THEN auto grabs the Zebra node under the Zebra
    profile, never the keyboard even if configured as the scanner, and nothing under the
    generic profile (no ids to confirm by); yes and no are obeyed; anything else refused."""
    zebra, generic = _profile("zebra-ds2208"), _profile("generic-hid-scanner")
    scanner_node = str(root / "dev/input/by-id" / BY_ID)
    keyboard_node = str(root / "dev/input/by-id/usb-Logitech_USB_Keyboard-event-kbd")
    assert zebra.usb_vid == "05e0" and zebra.usb_pid in (None, "1200")
    assert should_grab("auto", zebra, scanner_node, root)
    assert not should_grab("auto", zebra, keyboard_node, root)
    assert not should_grab("auto", zebra, f"{scanner_node},{keyboard_node}", root)
    assert not should_grab("auto", generic, scanner_node, root)
    assert should_grab("yes", generic, scanner_node, root)
    assert not should_grab("no", zebra, scanner_node, root)
    with pytest.raises(ProfileError, match="scanner_grab"):
        should_grab("always", zebra, scanner_node, root)


def test_scans_from_a_keyboard_wedge_scanner_reach_the_feed(
    terminal, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a hid scanner profile and two event nodes in scanner_url WHEN codes are scanned
    on each THEN both reach the cashier screen's feed, read by evdev's real event parsing
    from kernel-format bytes; with scanner_grab = yes both nodes are grabbed."""
    nodes = {"/dev/input/event7": PipeNode(), "/dev/input/event8": PipeNode()}
    monkeypatch.setattr(hid_scanner, "open_evdev_node", nodes.__getitem__)
    terminal.config = dataclasses.replace(
        terminal.config,
        scanner_profile="zebra-ds2208",
        scanner_url="/dev/input/event7, /dev/input/event8",
        scanner_grab="yes",
    )
    feed, stop = ScanFeed(), threading.Event()
    try:
        assert start_scanner(terminal, feed, stop)
        node7, node8 = nodes.values()
        node7.send(typed("2900012345675"))
        node8.send(typed("CP-ABC123", start=101.0))
        deadline = time.monotonic() + 5
        while len(feed.since(0)[1]) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(feed.since(0)[1]) == ["2900012345675", "CP-ABC123"]
        assert node7.grabbed and node8.grabbed
    finally:
        stop.set()

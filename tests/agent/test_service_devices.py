"""The device thread of ``vafa-agent run``: plugs and unplugs reach the terminal."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.drivers.escpos_printer import MemoryPrinter
from agent.service import start_device_watcher
from tests.agent.drivers.test_discovery import usb_device, usb_printer


class WatchedPrinter(MemoryPrinter):
    """A printer that counts how often it was told its device came back."""

    def __init__(self) -> None:
        super().__init__()
        self.replugs = 0

    def replugged(self) -> None:
        self.replugs += 1


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_a_usb_printer_plugged_in_and_out_reaches_the_terminal(
    terminal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN the agent running with its device thread WHEN an Xprinter is plugged in THEN it
    is logged with its profile, listed in the device status, and the printer is reopened
    for the next job; WHEN it is unplugged THEN, after the debounce, it is logged and gone."""
    caplog.set_level(logging.INFO, logger="agent")
    root = tmp_path / "root"
    (root / "sys").mkdir(parents=True)
    printer = WatchedPrinter()
    terminal.printer = printer
    stop = threading.Event()
    thread = start_device_watcher(terminal, stop, root=root, interval_s=0.05)
    try:
        # Laid out aside and moved in at once, as the kernel shows a device whole.
        usb_printer(tmp_path / "staging", "lp0", usb_device(root, "1-3", "0483", "5743"))
        (root / "sys/class/usbmisc").mkdir(parents=True)
        (tmp_path / "staging/sys/class/usbmisc/lp0").rename(root / "sys/class/usbmisc/lp0")
        assert eventually(lambda: printer.replugs == 1)
        assert [d["node"] for d in terminal.device_status()["devices"]] == [
            str(root / "dev/usb/lp0")
        ]
        assert "xprinter-xp80c" in terminal.device_status()["devices"][0]["profiles"]
        assert "device plugged in: usb-port:1-3" in caplog.text

        shutil.rmtree(root / "sys/class/usbmisc/lp0")  # the cable pulled
        assert eventually(lambda: not terminal.devices)
        assert "device unplugged: usb-port:1-3" in caplog.text
        assert printer.replugs == 1
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()

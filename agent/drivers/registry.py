"""The explicit table from a profile's ``type`` to the class that drives it."""

from __future__ import annotations

from collections.abc import Callable

from agent.drivers.base import Scanner
from agent.drivers.hid_scanner import HidScanner
from agent.drivers.profiles import ScannerProfile
from agent.drivers.serial_scanner import SerialScanner
from agent.errors import ProfileError


def _hid(url: str, profile: ScannerProfile, grab: bool) -> Scanner:
    # Every event node of one keyboard-wedge scanner, read in one loop.
    return HidScanner([path.strip() for path in url.split(",") if path.strip()], profile, grab)


def _serial(url: str, profile: ScannerProfile, grab: bool) -> Scanner:
    return SerialScanner(url, profile)  # a serial port is never shared with a keyboard


SCANNERS: dict[str, Callable[[str, ScannerProfile, bool], Scanner]] = {
    "serial": _serial,
    "hid": _hid,  # keyboard-wedge scanners through evdev
}


def open_scanner(profile: ScannerProfile, url: str, grab: bool = False) -> Scanner:
    """Open the scanner a profile describes at ``url``; ``grab`` takes a keyboard-wedge
    scanner's keys away from every other reader (only for a device confirmed a scanner)."""
    try:
        opener = SCANNERS[profile.type]
    except KeyError as exc:
        raise ProfileError(f"{profile.name}: no scanner driver for type {profile.type!r}") from exc
    return opener(url, profile, grab)

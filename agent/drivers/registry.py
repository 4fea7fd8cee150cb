"""The explicit table from a profile's ``type`` to the class that drives it."""

from __future__ import annotations

from collections.abc import Callable

from agent.drivers.base import Scanner
from agent.drivers.hid_scanner import HidScanner
from agent.drivers.profiles import ScannerProfile
from agent.drivers.serial_scanner import SerialScanner
from agent.errors import ProfileError

SCANNERS: dict[str, Callable[[str, ScannerProfile], Scanner]] = {
    "serial": SerialScanner,
    "hid": HidScanner,  # keyboard-wedge scanners through evdev; never grabs from here
}


def open_scanner(profile: ScannerProfile, url: str) -> Scanner:
    """Open the scanner a profile describes at ``url``."""
    try:
        cls = SCANNERS[profile.type]
    except KeyError as exc:
        raise ProfileError(f"{profile.name}: no scanner driver for type {profile.type!r}") from exc
    return cls(url, profile)

"""The explicit table from a profile's ``type`` to the class that drives it."""

from __future__ import annotations

from agent.drivers.base import Scanner
from agent.drivers.profiles import ScannerProfile
from agent.drivers.serial_scanner import SerialScanner
from agent.errors import ProfileError

SCANNERS: dict[str, type[SerialScanner]] = {
    "serial": SerialScanner,
    # "hid": keyboard-wedge scanners through evdev (issue #4)
}


def open_scanner(profile: ScannerProfile, url: str) -> Scanner:
    """Open the scanner a profile describes at ``url``."""
    try:
        cls = SCANNERS[profile.type]
    except KeyError as exc:
        raise ProfileError(f"{profile.name}: no scanner driver for type {profile.type!r}") from exc
    return cls(url, profile)

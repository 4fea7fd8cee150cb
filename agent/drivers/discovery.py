"""Find the scanners and printers plugged into this terminal, through sysfs.

Serial ports are listed from ``/dev/serial/by-id``, keyboard-wedge scanners from
``/dev/input/by-id`` (their ``-event-kbd`` links) and USB printers from
``/sys/class/usbmisc/lp*``. Each device's USB vendor and product ids (and serial number) are
read from the USB device directory above it in sysfs and matched to firmware profiles.
Devices are keyed by a stable id, never by VID:PID plus a counter: the by-id link's name,
or ``usb:VID:PID:SERIAL`` for a printer that reports a serial, else ``usb-port:<bus path>``.

``root`` is a parameter (``/`` on a terminal): tests build a sysfs tree under a temp dir.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.drivers.profiles import Profile


@dataclass(frozen=True)
class FoundDevice:
    """One device as discovery sees it."""

    key: str  # stable identity
    role: str  # "serial" | "input" | "printer"
    node: str  # what a driver opens: the by-id path, or /dev/usb/lpN
    usb_vid: str | None
    usb_pid: str | None
    usb_serial: str | None
    profiles: tuple[str, ...]  # profiles whose VID:PID match, by name

    def to_dict(self) -> dict[str, Any]:
        """Return the device as plain JSON-able data."""
        return {**asdict(self), "profiles": list(self.profiles)}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip() or None
    except OSError:
        return None


def _usb_device_dir(root: Path, device: Path) -> Path | None:
    """Walk up from a sysfs device directory to the USB device (the one with idVendor)."""
    sys_dir = (root / "sys").resolve()
    try:
        here = device.resolve(strict=True)
    except OSError:
        return None
    while here != sys_dir and sys_dir in here.parents:
        if (here / "idVendor").is_file():
            return here
        here = here.parent
    return None


def _usb_ids(root: Path, sysfs_device: Path) -> tuple[str | None, str | None, str | None, str]:
    usb = _usb_device_dir(root, sysfs_device)
    if usb is None:
        return None, None, None, ""
    vid, pid = _read(usb / "idVendor"), _read(usb / "idProduct")
    return (
        vid.lower() if vid else None,
        pid.lower() if pid else None,
        _read(usb / "serial"),
        usb.name,
    )


def _matches(
    profiles: Mapping[str, Profile], kind: str, vid: str | None, pid: str | None
) -> tuple[str, ...]:
    if vid is None:
        return ()
    return tuple(
        name
        for name, p in sorted(profiles.items())
        if p.kind == kind and p.usb_vid == vid and p.usb_pid in (None, pid)
    )


def _by_id(root: Path, folder: str, suffix: str = "") -> Iterable[tuple[Path, str]]:
    """Yield (link, kernel name) for each by-id link, e.g. (…/usb-X-if00-port0, ttyUSB0)."""
    base = root / folder
    if not base.is_dir():
        return
    for link in sorted(base.iterdir()):
        if link.is_symlink() and link.name.endswith(suffix):
            yield link, Path(link.readlink()).name


def _serial_ports(root: Path, profiles: Mapping[str, Profile]) -> list[FoundDevice]:
    found = []
    for link, tty in _by_id(root, "dev/serial/by-id"):
        vid, pid, serial, _ = _usb_ids(root, root / "sys/class/tty" / tty / "device")
        # A serial port may be a scanner or a printer; offer every profile that matches.
        names = _matches(profiles, "scanner", vid, pid) + _matches(profiles, "printer", vid, pid)
        found.append(
            FoundDevice(f"serial:{link.name}", "serial", str(link), vid, pid, serial, names)
        )
    return found


def _input_devices(root: Path, profiles: Mapping[str, Profile]) -> list[FoundDevice]:
    found = []
    for link, event in _by_id(root, "dev/input/by-id", "-event-kbd"):
        vid, pid, serial, _ = _usb_ids(root, root / "sys/class/input" / event / "device")
        names = _matches(profiles, "scanner", vid, pid)
        found.append(FoundDevice(f"input:{link.name}", "input", str(link), vid, pid, serial, names))
    return found


def _printers(root: Path, profiles: Mapping[str, Profile]) -> list[FoundDevice]:
    base = root / "sys/class/usbmisc"
    found = []
    for entry in sorted(base.glob("lp*")) if base.is_dir() else []:
        vid, pid, serial, port = _usb_ids(root, entry / "device")
        if not port:  # no USB device behind it: appearing or vanishing half-way; next scan
            continue
        key = f"usb:{vid}:{pid}:{serial}" if serial else f"usb-port:{port}"
        names = _matches(profiles, "printer", vid, pid)
        node = str(root / "dev/usb" / entry.name)
        found.append(FoundDevice(key, "printer", node, vid, pid, serial, names))
    return found


def discover(root: Path, profiles: Mapping[str, Profile]) -> list[FoundDevice]:
    """List every serial port, keyboard-wedge input and USB printer under ``root``."""
    devices = (
        _serial_ports(root, profiles) + _input_devices(root, profiles) + _printers(root, profiles)
    )
    return _unique_keys(devices)


def _unique_keys(devices: list[FoundDevice]) -> list[FoundDevice]:
    """Two printers sharing VID:PID:serial (a cloned serial) fall back to their USB port."""
    counts: dict[str, int] = {}
    for d in devices:
        counts[d.key] = counts.get(d.key, 0) + 1
    out = []
    for d in devices:
        if counts[d.key] > 1 and d.role == "printer":
            port = Path(d.node).name
            d = FoundDevice(
                f"{d.key}@{port}", d.role, d.node, d.usb_vid, d.usb_pid, d.usb_serial, d.profiles
            )
        out.append(d)
    return out


class DeviceWatcher:
    """Turn repeated discovery into plug and unplug events, with unplugs debounced.

    A device that disappears is reported gone only after it has been missing for
    ``debounce_s``: a USB cable that jiggles, or a device re-enumerating after a reset,
    does not make the cashier screen flicker.
    """

    def __init__(
        self,
        scan: Callable[[], list[FoundDevice]],
        debounce_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scan = scan
        self.debounce_s = debounce_s
        self.clock = clock
        self.present: dict[str, FoundDevice] = {}
        self.missing_since: dict[str, float] = {}

    def poll(self) -> tuple[list[FoundDevice], list[FoundDevice]]:
        """Scan once; return (plugged in, unplugged) since the last poll."""
        now = self.clock()
        seen = {d.key: d for d in self.scan()}
        added = [d for k, d in seen.items() if k not in self.present]
        for key in seen:
            self.missing_since.pop(key, None)
        self.present.update(seen)
        removed = []
        for key in [k for k in self.present if k not in seen]:
            since = self.missing_since.setdefault(key, now)
            if now - since >= self.debounce_s:
                removed.append(self.present.pop(key))
                del self.missing_since[key]
        return added, removed

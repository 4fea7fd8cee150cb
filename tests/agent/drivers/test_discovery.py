"""Discovery over a sysfs tree built under tmp_path (the root is a parameter, a real seam)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.drivers.discovery import DeviceWatcher, FoundDevice, discover
from agent.drivers.profiles import load_profiles

PROFILES = load_profiles()
BUS = "sys/devices/pci0000:00/0000:00:14.0/usb1"


def usb_device(root: Path, port: str, vid: str, pid: str, serial: str | None = None) -> Path:
    """Make a USB device directory as the kernel lays it out (ids upper-case as some are)."""
    dev = root / BUS / port
    dev.mkdir(parents=True)
    (dev / "idVendor").write_text(vid + "\n")
    (dev / "idProduct").write_text(pid + "\n")
    if serial is not None:
        (dev / "serial").write_text(serial + "\n")
    return dev


def link(path: Path, target: Path | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def serial_port(root: Path, by_id: str, tty: str, usb: Path) -> None:
    iface = usb / f"{usb.name}:1.0" / tty
    iface.mkdir(parents=True)
    link(root / "sys/class/tty" / tty / "device", iface)
    (root / "dev" / tty).parent.mkdir(parents=True, exist_ok=True)
    (root / "dev" / tty).touch()
    link(root / "dev/serial/by-id" / by_id, f"../../{tty}")


def input_node(root: Path, by_id: str, event: str, usb: Path) -> None:
    node = usb / f"{usb.name}:1.0" / "0003:0C2E:0B61.0001" / "input" / f"input{event[-1]}"
    node.mkdir(parents=True)
    link(root / "sys/class/input" / event / "device", node)
    link(root / "dev/input/by-id" / by_id, f"../{event}")


def usb_printer(root: Path, lp: str, usb: Path) -> None:
    iface = usb / f"{usb.name}:1.0"
    iface.mkdir(parents=True)
    link(root / "sys/class/usbmisc" / lp / "device", iface)


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    """A counter with a Newland serial scanner, two identical Honeywell HID scanners, a
    Rongta printer with a serial number and an Xprinter without one."""
    root = tmp_path
    serial_port(
        root,
        "usb-Newland_HR22_NLS123-if00-port0",
        "ttyACM0",
        usb_device(root, "1-1", "1EAB", "8003", "NLS123"),
    )
    for n, port in enumerate(("1-2", "1-4")):
        input_node(
            root,
            f"usb-Honeywell_Imaging_Voyager_1250g_SN{n}-event-kbd",
            f"event{n + 3}",
            usb_device(root, port, "0c2e", "0b61", f"SN{n}"),
        )
    link(
        root / "dev/input/by-id/usb-Honeywell_Imaging_Voyager_1250g_SN0-if01-event-mouse",
        "../event9",
    )
    usb_printer(root, "lp0", usb_device(root, "1-3", "0fe6", "811e", "RP80X77"))
    usb_printer(root, "lp1", usb_device(root, "1-5.2", "0483", "5743"))
    return root


def test_every_device_is_found_and_matched_to_profiles(counter: Path) -> None:
    """GIVEN a counter's sysfs WHEN discovered THEN each device has a stable key and the
    profiles whose VID:PID it reports (ids read case-insensitively)."""
    found = {d.key: d for d in discover(counter, PROFILES)}
    assert sorted(found) == [
        "input:usb-Honeywell_Imaging_Voyager_1250g_SN0-event-kbd",
        "input:usb-Honeywell_Imaging_Voyager_1250g_SN1-event-kbd",
        "serial:usb-Newland_HR22_NLS123-if00-port0",
        "usb-port:1-5.2",
        "usb:0fe6:811e:RP80X77",
    ]
    newland = found["serial:usb-Newland_HR22_NLS123-if00-port0"]
    assert (newland.usb_vid, newland.usb_pid, newland.usb_serial) == ("1eab", "8003", "NLS123")
    assert newland.profiles == ("newland-hr22",)
    assert newland.node == str(counter / "dev/serial/by-id/usb-Newland_HR22_NLS123-if00-port0")
    assert found["usb:0fe6:811e:RP80X77"].profiles == ("rongta-rp80",)
    # Shared ids: both Xprinter models match, discovery says so instead of guessing.
    assert found["usb-port:1-5.2"].profiles == ("xprinter-xp58", "xprinter-xp80c")
    assert found["usb-port:1-5.2"].node == str(counter / "dev/usb/lp1")


def test_two_identical_scanners_get_two_keys(counter: Path) -> None:
    """GIVEN two scanners of the same model (same VID:PID) THEN two devices, keyed by their
    by-id links, each matched to the same profile; the mouse node is not a scanner."""
    inputs = [d for d in discover(counter, PROFILES) if d.role == "input"]
    assert len(inputs) == 2 and len({d.key for d in inputs}) == 2
    assert {d.profiles for d in inputs} == {("honeywell-voyager-1250g",)}
    assert {d.usb_serial for d in inputs} == {"SN0", "SN1"}


def test_an_empty_or_missing_tree_finds_nothing(tmp_path: Path) -> None:
    assert discover(tmp_path / "nothing", PROFILES) == []


def test_a_dangling_sysfs_link_gives_a_device_without_ids(tmp_path: Path) -> None:
    """GIVEN a by-id link whose sysfs entry is gone (mid-unplug) THEN no crash, no ids."""
    link(tmp_path / "dev/serial/by-id/usb-Gone-if00-port0", "../../ttyUSB9")
    (found,) = discover(tmp_path, PROFILES)
    assert (found.usb_vid, found.profiles) == (None, ())


def test_printers_with_a_cloned_serial_are_told_apart_by_port(tmp_path: Path) -> None:
    """GIVEN two printers that report the same serial number THEN two keys, not one."""
    usb_printer(tmp_path, "lp0", usb_device(tmp_path, "1-1", "0fe6", "811e", "000000"))
    usb_printer(tmp_path, "lp1", usb_device(tmp_path, "1-2", "0fe6", "811e", "000000"))
    keys = [d.key for d in discover(tmp_path, PROFILES)]
    assert keys == ["usb:0fe6:811e:000000@lp0", "usb:0fe6:811e:000000@lp1"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _device(key: str) -> FoundDevice:
    return FoundDevice(key, "serial", f"/dev/serial/by-id/{key}", None, None, None, ())


def test_unplug_is_debounced_and_a_quick_replug_is_no_event() -> None:
    """GIVEN a scanner WHEN its cable jiggles (gone for 1 s) THEN no event; WHEN it stays gone
    for the debounce time THEN one unplug event; WHEN it returns THEN one plug event."""
    clock, present = Clock(), [_device("a"), _device("b")]
    watcher = DeviceWatcher(lambda: list(present), debounce_s=2.0, clock=clock)
    added, removed = watcher.poll()
    assert [d.key for d in added] == ["a", "b"] and removed == []
    present.pop()  # b jiggles
    clock.now = 1.0
    assert watcher.poll() == ([], [])
    present.append(_device("b"))
    clock.now = 1.5
    assert watcher.poll() == ([], [])
    present.pop()  # b really unplugged
    clock.now = 2.0
    assert watcher.poll() == ([], [])
    clock.now = 3.9
    assert watcher.poll() == ([], [])
    clock.now = 4.0
    added, removed = watcher.poll()
    assert added == [] and [d.key for d in removed] == ["b"]
    present.append(_device("b"))
    clock.now = 5.0
    added, removed = watcher.poll()
    assert [d.key for d in added] == ["b"] and removed == []


def test_devices_cli_lists_what_it_found_as_json(
    counter: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a counter WHEN `vafa-agent devices --json --root` runs THEN it prints the devices."""
    assert main(["devices", "--json", "--root", str(counter)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["key"] for d in listed] == [
        "serial:usb-Newland_HR22_NLS123-if00-port0",
        "input:usb-Honeywell_Imaging_Voyager_1250g_SN0-event-kbd",
        "input:usb-Honeywell_Imaging_Voyager_1250g_SN1-event-kbd",
        "usb:0fe6:811e:RP80X77",
        "usb-port:1-5.2",
    ]
    assert listed[0]["profiles"] == ["newland-hr22"] and listed[0]["role"] == "serial"


def test_devices_cli_plain_text(counter: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--root", str(counter)]) == 0
    out = capsys.readouterr().out
    assert "usb:0fe6:811e:RP80X77" in out and "rongta-rp80" in out


def test_a_printer_entry_without_its_usb_device_is_not_reported(tmp_path: Path) -> None:
    """GIVEN a usbmisc entry whose device link is missing (a printer appearing or vanishing
    half-way) THEN discovery leaves it out rather than report a nameless printer that would
    look like a plug and an unplug of its own."""
    (tmp_path / "sys/class/usbmisc/lp0").mkdir(parents=True)
    assert discover(tmp_path, load_profiles()) == []

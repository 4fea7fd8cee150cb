"""Firmware profiles: every shipped file loads, and every kind of bad file is refused clearly."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from agent.drivers.profiles import (
    KNOWN_QUIRKS,
    PrinterProfile,
    ScannerProfile,
    SerialSettings,
    load_profile,
    load_profile_file,
    load_profiles,
)
from agent.errors import ProfileError
from firmware_profiles import PROFILE_DIR

BRIEF_PRINTERS = {
    "xprinter-xp80c",
    "xprinter-xp58",
    "rongta-rp80",
    "epson-tm-t20iii",
    "epson-tm-t88v",
    "sewoo-lk-t21",
    "bixolon-srp-350",
    "generic-escpos-80",
    "generic-escpos-58",
}
BRIEF_SCANNERS = {
    "honeywell-voyager-1250g",
    "zebra-ds2208",
    "datalogic-qd2430",
    "newland-hr22",
    "generic-serial-scanner",
    "generic-hid-scanner",
}

PRINTER: dict[str, Any] = {
    "name": "test-printer",
    "kind": "printer",
    "vendor": "Test",
    "model": "TP-80",
    "type": "escpos",
    "usb_vid": "04B8",
    "usb_pid": "0202",
    "paper_width_mm": 80,
    "dots": 576,
    "raster_slice_height": 256,
    "drawer_pin": 0,
    "drawer_on_ms": 100,
    "drawer_off_ms": 100,
    "supports_status": True,
    "cut": "partial",
    "quirks": ["codepage_lost_after_init"],
    "serial": {"baudrate": 38400, "parity": "N", "dsrdtr": True, "timeout_s": 1},
}
HID_SCANNER: dict[str, Any] = {
    "name": "test-scanner",
    "kind": "scanner",
    "vendor": "Test",
    "model": "TS-1",
    "type": "hid",
    "prefix": "",
    "suffix": "\r",
    "keymap": "us",
    "terminators": ["KEY_ENTER", "KEY_TAB"],
    "max_interkey_ms": 25,
}
SERIAL_SCANNER: dict[str, Any] = {
    "name": "test-scanner",
    "kind": "scanner",
    "vendor": "Test",
    "model": "TS-2",
    "type": "serial",
    "prefix": "]",
    "suffix": "\r\n",
    "serial": {"baudrate": 115200},
}


def toml_value(value: Any) -> str:
    """Write one TOML value (strings, integers, floats, booleans, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + escaped.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def to_toml(doc: dict[str, Any]) -> str:
    """Write a profile document: top-level keys first, then its tables."""
    lines = [f"{k} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines += [f"[{key}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def write(directory: Path, doc: dict[str, Any], stem: str | None = None) -> Path:
    """Write a profile file named after its profile (or ``stem``) and return its path."""
    path = directory / f"{stem or doc['name']}.toml"
    path.write_text(to_toml(doc), encoding="utf-8")
    return path


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Copy a profile document with fields changed; a value of ... removes the field."""
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in changes.items():
        table, _, field = key.rpartition("__")
        target = doc.setdefault(table, {}) if table else doc
        if value is ...:
            target.pop(field, None)
        else:
            target[field] = value
    return doc


# --- the shipped profiles ---------------------------------------------------------------


def test_every_shipped_profile_loads_under_its_own_name() -> None:
    profiles = load_profiles()
    stems = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
    assert sorted(profiles) == stems
    assert all(profile.name == name for name, profile in profiles.items())


def test_shipped_profile_names_are_unique_ignoring_case_and_punctuation() -> None:
    squashed = [name.replace("-", "").lower() for name in load_profiles()]
    assert len(squashed) == len(set(squashed))


def test_every_model_named_in_the_brief_has_a_profile_of_the_right_kind() -> None:
    profiles = load_profiles()
    assert {n for n in BRIEF_PRINTERS if isinstance(profiles.get(n), PrinterProfile)} == (
        BRIEF_PRINTERS
    )
    assert {n for n in BRIEF_SCANNERS if isinstance(profiles.get(n), ScannerProfile)} == (
        BRIEF_SCANNERS
    )


@pytest.mark.parametrize("name", sorted(BRIEF_PRINTERS))
def test_printer_profiles_agree_with_the_paper(name: str) -> None:
    profile = load_profile(name)
    assert isinstance(profile, PrinterProfile)
    assert profile.kind == "printer"
    assert (profile.paper_width_mm, profile.dots) in {(58, 384), (80, 576), (80, 512)}
    assert profile.raster_slice_height <= 256
    assert profile.drawer_on_ms % 2 == 0 and profile.drawer_off_ms % 2 == 0


@pytest.mark.parametrize("name", sorted(BRIEF_SCANNERS))
def test_scanner_profiles_end_a_scan(name: str) -> None:
    profile = load_profile(name)
    assert isinstance(profile, ScannerProfile)
    assert profile.kind == "scanner"
    assert profile.suffix in {"\r", "\r\n", "\n", "\t"}
    if profile.type == "hid":
        assert profile.terminators and profile.serial is None
    else:
        assert profile.serial is not None


def test_known_facts_are_in_the_profiles() -> None:
    tm_t88v = load_profile("epson-tm-t88v")
    assert isinstance(tm_t88v, PrinterProfile)
    assert (tm_t88v.usb_vid, tm_t88v.dots) == ("04b8", 512)  # 180 dpi: 512 dots on 80 mm
    assert tm_t88v.serial == SerialSettings(baudrate=38400, dsrdtr=True, timeout_s=0.5)
    xp58 = load_profile("xprinter-xp58")
    assert isinstance(xp58, PrinterProfile)
    assert (xp58.dots, xp58.cut) == (384, "none")
    assert xp58.has_quirk("small_raster_buffer")
    assert load_profile("zebra-ds2208").usb_vid == "05e0"
    assert load_profile("honeywell-voyager-1250g").usb_vid == "0c2e"


def test_profiles_are_immutable() -> None:
    profile = load_profile("generic-escpos-80")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.name = "other"  # type: ignore[misc]


def test_schema_doc_names_every_field_and_quirk() -> None:
    schema = (PROFILE_DIR / "SCHEMA.md").read_text(encoding="utf-8")
    classes = (PrinterProfile, ScannerProfile, SerialSettings)
    names = {f.name for cls in classes for f in dataclasses.fields(cls)} | {"kind"}
    names |= set(KNOWN_QUIRKS)
    missing = {name for name in names if f"`{name}`" not in schema and f"`[{name}]`" not in schema}
    assert not missing


# --- loading valid files from elsewhere -------------------------------------------------


def test_a_valid_printer_file_loads_with_normalised_values(tmp_path: Path) -> None:
    write(tmp_path, PRINTER)
    profile = load_profile("test-printer", tmp_path)
    assert profile == PrinterProfile(
        name="test-printer",
        vendor="Test",
        model="TP-80",
        type="escpos",
        paper_width_mm=80,
        dots=576,
        raster_slice_height=256,
        drawer_pin=0,
        drawer_on_ms=100,
        drawer_off_ms=100,
        supports_status=True,
        cut="partial",
        usb_vid="04b8",
        usb_pid="0202",
        serial=SerialSettings(baudrate=38400, dsrdtr=True, timeout_s=1.0),
        quirks=("codepage_lost_after_init",),
    )


def test_scanner_files_take_defaults_for_what_they_leave_out(tmp_path: Path) -> None:
    hid = load_profile_file(write(tmp_path, changed(HID_SCANNER, keymap=..., max_interkey_ms=...)))
    assert isinstance(hid, ScannerProfile)
    assert (hid.keymap, hid.max_interkey_ms, hid.terminators) == (
        "us",
        30,
        ("KEY_ENTER", "KEY_TAB"),
    )
    serial = load_profile_file(write(tmp_path, SERIAL_SCANNER))
    assert isinstance(serial, ScannerProfile)
    assert serial.serial == SerialSettings(baudrate=115200)
    assert serial.prefix == "]" and serial.suffix == "\r\n"


def test_load_profiles_reads_a_directory_once_per_call(tmp_path: Path) -> None:
    write(tmp_path, PRINTER)
    write(tmp_path, HID_SCANNER)
    assert sorted(load_profiles(tmp_path)) == ["test-printer", "test-scanner"]


def test_an_unknown_profile_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"^no-such-printer\.toml: no such profile"):
        load_profile("no-such-printer", tmp_path)


def test_one_bad_file_stops_load_profiles_and_is_named(tmp_path: Path) -> None:
    write(tmp_path, PRINTER)
    write(tmp_path, changed(HID_SCANNER, terminators=["KEY_SPACE"]))
    with pytest.raises(ProfileError, match=r"^test-scanner\.toml: terminators: "):
        load_profiles(tmp_path)


# --- refusals: one bad file per rule ----------------------------------------------------

BAD_FILES: list[tuple[str, dict[str, Any], str]] = [
    # required fields
    ("missing dots", changed(PRINTER, dots=...), "dots: required field is missing"),
    ("missing vendor", changed(PRINTER, vendor=...), "vendor: required field is missing"),
    ("missing kind", changed(PRINTER, kind=...), "kind: required field is missing"),
    ("missing suffix", changed(HID_SCANNER, suffix=...), "suffix: required field is missing"),
    # types
    ("dots as text", changed(PRINTER, dots="576"), "dots: must be one of"),
    ("dots as bool", changed(PRINTER, dots=True), "dots: must be one of"),
    ("width as float", changed(PRINTER, paper_width_mm=80.0), "paper_width_mm: must be one of"),
    ("vendor as int", changed(PRINTER, vendor=5), "vendor: must be a string, got 5"),
    ("status as int", changed(PRINTER, supports_status=1), "supports_status: must be true or"),
    ("quirks as text", changed(PRINTER, quirks="no_dle_eot"), "quirks: must be a list"),
    ("serial as text", changed(PRINTER, serial=...) | {"serial": "9600"}, "serial: must be a"),
    ("baud as text", changed(PRINTER, serial__baudrate="9600"), "serial.baudrate: must be an"),
    ("timeout as text", changed(PRINTER, serial__timeout_s="1"), "serial.timeout_s: must be a"),
    ("rtscts as text", changed(PRINTER, serial__rtscts="yes"), "serial.rtscts: must be true"),
    # enumerations and ranges
    ("bad kind", changed(PRINTER, kind="fridge"), 'kind: must be one of "printer", "scanner"'),
    ("bad printer type", changed(PRINTER, type="zpl"), 'type: must be one of "escpos"'),
    ("bad scanner type", changed(HID_SCANNER, type="escpos"), "type: must be one of"),
    ("bad cut", changed(PRINTER, cut="half"), "cut: must be one of"),
    ("bad drawer pin", changed(PRINTER, drawer_pin=2), "drawer_pin: must be one of 0, 1"),
    ("bad paper", changed(PRINTER, paper_width_mm=76), "paper_width_mm: must be one of 58, 80"),
    ("dots 500", changed(PRINTER, dots=500), "dots: must be one of 384, 512, 576, got 500"),
    ("slice not x8", changed(PRINTER, raster_slice_height=100), "raster_slice_height: must be a"),
    ("slice zero", changed(PRINTER, raster_slice_height=0), "raster_slice_height: must be betw"),
    ("pulse odd", changed(PRINTER, drawer_on_ms=25), "drawer_on_ms: must be even"),
    ("pulse long", changed(PRINTER, drawer_off_ms=600), "drawer_off_ms: must be between 0 and"),
    ("pulse zero", changed(PRINTER, drawer_on_ms=0), "drawer_on_ms: must be between 2 and"),
    ("bad parity", changed(PRINTER, serial__parity="X"), "serial.parity: must be one of"),
    ("bad bytesize", changed(PRINTER, serial__bytesize=9), "serial.bytesize: must be one of"),
    ("bad stopbits", changed(PRINTER, serial__stopbits=3), "serial.stopbits: must be one of"),
    ("zero timeout", changed(PRINTER, serial__timeout_s=0), "serial.timeout_s: must be more"),
    ("slow baud", changed(PRINTER, serial__baudrate=50), "serial.baudrate: must be between"),
    ("bad keymap", changed(HID_SCANNER, keymap="de"), 'keymap: must be one of "us"'),
    ("bad terminator", changed(HID_SCANNER, terminators=["KEY_SPACE"]), "terminators: unknown"),
    ("no terminator", changed(HID_SCANNER, terminators=[]), "terminators: must name at least"),
    ("interkey zero", changed(HID_SCANNER, max_interkey_ms=0), "max_interkey_ms: must be betwe"),
    # consistency
    ("dots vs paper", changed(PRINTER, paper_width_mm=58), "dots: 576 does not fit 58 mm paper"),
    ("512 on 58", changed(PRINTER, paper_width_mm=58, dots=512), "dots: 512 does not fit 58"),
    (
        "silent status",
        changed(PRINTER, supports_status=False, quirks=["no_dle_eot"]),
        "quirks: no_dle_eot needs supports_status = true",
    ),
    ("hid field on serial", changed(SERIAL_SCANNER, keymap="us"), 'keymap: does not apply to a "s'),
    (
        "serial on hid",
        changed(HID_SCANNER, serial__baudrate=9600),
        'serial: does not apply to a "h',
    ),
    # unknown fields: typos must not pass silently
    ("typo", changed(PRINTER, drawer_on_msec=100), "drawer_on_msec: unknown field (allowed: "),
    ("serial typo", changed(PRINTER, serial__baud=9600), "serial.baud: unknown field"),
    ("scanner field", changed(PRINTER, suffix="\r"), "suffix: unknown field"),
    # quirks
    ("unknown quirk", changed(PRINTER, quirks=["codepage_lost"]), "quirks: unknown value 'codep"),
    ("scanner quirk", changed(PRINTER, quirks=["multiple_event_nodes"]), "quirks: unknown value"),
    ("quirk not text", changed(PRINTER, quirks=[["no_dle_eot"]]), "quirks: unknown value"),
    # USB ids
    ("short vid", changed(PRINTER, usb_vid="4b8"), 'usb_vid: must be 4 hex digits like "04b8"'),
    ("non-hex pid", changed(PRINTER, usb_pid="zz01"), "usb_pid: must be 4 hex digits"),
    ("vid as int", changed(PRINTER, usb_vid=1208), "usb_vid: must be a string, got 1208"),
    ("pid alone", changed(PRINTER, usb_vid=...), "usb_vid: required when usb_pid is given"),
]


@pytest.mark.parametrize(
    ("doc", "reason"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_a_bad_file_is_refused_naming_file_field_and_reason(
    tmp_path: Path, doc: dict[str, Any], reason: str
) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(ProfileError) as refused:
        load_profile_file(path)
    assert str(refused.value).startswith(f"{path.name}: {reason}")


def test_the_exact_message_for_impossible_dots(tmp_path: Path) -> None:
    path = write(tmp_path, changed(PRINTER, name="xprinter-xp80c", dots=500))
    with pytest.raises(ProfileError) as refused:
        load_profile_file(path)
    assert str(refused.value) == "xprinter-xp80c.toml: dots: must be one of 384, 512, 576, got 500"
    assert refused.value.fa  # the cashier-facing Persian text is there too


def test_a_name_that_is_not_the_file_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, PRINTER, stem="xprinter-xp80")
    with pytest.raises(ProfileError, match=r"^xprinter-xp80\.toml: name: must equal the file name"):
        load_profile_file(path)


@pytest.mark.parametrize(
    "text",
    ['name = "test-printer"\nkind = \n', 'name = "a"\nname = "b"\n', "[serial\n", 'x = "\\q"\n'],
    ids=["no value", "duplicate key", "open table", "bad escape"],
)
def test_toml_syntax_errors_are_refused_with_the_file_name(tmp_path: Path, text: str) -> None:
    path = tmp_path / "test-printer.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=r"^test-printer\.toml: TOML syntax: "):
        load_profile_file(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "test-printer.toml"
    path.write_bytes(b'vendor = "\xff"\n')
    with pytest.raises(ProfileError, match=r"^test-printer\.toml: not UTF-8"):
        load_profile_file(path)

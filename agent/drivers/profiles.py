"""Load firmware profiles: one TOML file per device model, validated into frozen dataclasses.

A profile is data about a device model (USB ids, serial settings, paper width, drawer pulse,
scanner prefix/suffix, quirks). It is read once, checked strictly, and handed to drivers.
Every refusal is a :class:`~agent.errors.ProfileError` whose message names the file, the
field and the reason, e.g. ``xprinter-xp80c.toml: dots: must be one of 384, 512, 576, got 500``.
The fields are documented in ``firmware_profiles/SCHEMA.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from agent.errors import ProfileError
from firmware_profiles import PROFILE_DIR

__all__ = [
    "KNOWN_QUIRKS",
    "PrinterProfile",
    "Profile",
    "ScannerProfile",
    "SerialSettings",
    "load_profile",
    "load_profile_file",
    "load_profiles",
]

#: Printer quirks a profile may name, with what a driver must do about each.
PRINTER_QUIRKS: Mapping[str, str] = {
    "codepage_lost_after_init": "ESC @ resets the code page: re-send ESC t after every init",
    "no_dle_eot": "may not answer DLE EOT: treat silence as status unknown, never as offline",
    "small_raster_buffer": "small input buffer: send raster in small slices and pace them",
    "chinese_mode_default": "starts in Chinese double-byte mode: send FS . before text",
    "no_usb_serial": "reports no (or a shared) USB serial number: key it by port path",
    "drawer_sensor_inverted": "DLE EOT 1 bit 2 (drawer open) has the opposite polarity",
}
#: Scanner quirks a profile may name, with what a driver must do about each.
SCANNER_QUIRKS: Mapping[str, str] = {
    "multiple_event_nodes": "exposes several /dev/input event nodes: grab only the keyboard one",
    "caps_lock_follows_host": "inverts letter case when the host's Caps Lock is on",
    "no_usb_serial": "reports no (or a shared) USB serial number: key it by port path",
}
KNOWN_QUIRKS: Mapping[str, str] = {**PRINTER_QUIRKS, **SCANNER_QUIRKS}

PRINTER_TYPES = ("escpos",)
SCANNER_TYPES = ("serial", "hid")
PAPER_DOTS: Mapping[int, tuple[int, ...]] = {58: (384,), 80: (512, 576)}
CUT_MODES = ("full", "partial", "none")
KEYMAPS = ("us",)
TERMINATOR_KEYS = ("KEY_ENTER", "KEY_KPENTER", "KEY_TAB")
PARITIES = ("N", "E", "O")
MAX_PULSE_MS = 510  # ESC p counts in 2 ms units, one byte each: 255 * 2
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")

_COMMON_FIELDS = ("name", "kind", "vendor", "model", "type", "usb_vid", "usb_pid", "quirks")
_PRINTER_FIELDS = (
    *_COMMON_FIELDS,
    "paper_width_mm",
    "dots",
    "raster_slice_height",
    "drawer_pin",
    "drawer_on_ms",
    "drawer_off_ms",
    "supports_status",
    "cut",
    "serial",
)
_SCANNER_FIELDS = (
    *_COMMON_FIELDS,
    "prefix",
    "suffix",
    "keymap",
    "terminators",
    "max_interkey_ms",
    "serial",
)
_HID_ONLY = ("keymap", "terminators", "max_interkey_ms")
_SERIAL_ONLY = ("serial",)
_SERIAL_FIELDS = (
    "baudrate",
    "bytesize",
    "parity",
    "stopbits",
    "rtscts",
    "xonxoff",
    "dsrdtr",
    "timeout_s",
)

T = TypeVar("T")


@dataclass(frozen=True)
class SerialSettings:
    """Serial line settings, named as pyserial names them."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    rtscts: bool = False
    xonxoff: bool = False
    timeout_s: float = 0.2
    dsrdtr: bool = False


@dataclass(frozen=True)
class PrinterProfile:
    """An ESC/POS receipt printer model."""

    name: str
    vendor: str
    model: str
    type: str
    paper_width_mm: int
    dots: int
    raster_slice_height: int
    drawer_pin: int
    drawer_on_ms: int
    drawer_off_ms: int
    supports_status: bool
    cut: str
    usb_vid: str | None = None
    usb_pid: str | None = None
    serial: SerialSettings | None = None
    quirks: tuple[str, ...] = ()
    kind: ClassVar[str] = "printer"

    def has_quirk(self, quirk: str) -> bool:
        """Tell whether this model has the named quirk."""
        return quirk in self.quirks


@dataclass(frozen=True)
class ScannerProfile:
    """A barcode scanner model, serial or USB keyboard-wedge (HID)."""

    name: str
    vendor: str
    model: str
    type: str
    prefix: str
    suffix: str
    keymap: str = "us"
    terminators: tuple[str, ...] = ("KEY_ENTER", "KEY_KPENTER")
    max_interkey_ms: int = 30
    usb_vid: str | None = None
    usb_pid: str | None = None
    serial: SerialSettings | None = None
    quirks: tuple[str, ...] = ()
    kind: ClassVar[str] = "scanner"

    def has_quirk(self, quirk: str) -> bool:
        """Tell whether this model has the named quirk."""
        return quirk in self.quirks


Profile = PrinterProfile | ScannerProfile

_MISSING: Any = object()


class _Fields:
    """Typed, reported access to one TOML table of one profile file."""

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str = "") -> None:
        self.path = path
        self.table = table
        self.prefix = prefix

    def error(self, field: str, reason: str) -> ProfileError:
        """Build the error for a bad field: file, field, reason."""
        return ProfileError(f"{self.path.name}: {self.prefix}{field}: {reason}")

    def refuse_unknown(self, allowed: tuple[str, ...]) -> None:
        """Refuse any field this table does not define, so typos cannot pass silently."""
        for key in self.table:
            if key not in allowed:
                raise self.error(key, f"unknown field (allowed: {', '.join(allowed)})")

    def get(self, field: str, kind: type[T], label: str, default: Any = _MISSING) -> T:
        """Return a field checked against one Python type; a bool is never an int."""
        if field not in self.table:
            if default is _MISSING:
                raise self.error(field, "required field is missing")
            return default  # type: ignore[no-any-return]
        value = self.table[field]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(field, f"must be {label}, got {value!r}")
        return value

    def optional(self, field: str, kind: type[T], label: str) -> T | None:
        """Return a field checked against one Python type, or None when it is absent."""
        return self.get(field, kind, label) if field in self.table else None

    def string(self, field: str, default: Any = _MISSING) -> str:
        """Return a string field."""
        return self.get(field, str, "a string", default)

    def integer(self, field: str, default: Any = _MISSING) -> int:
        """Return an integer field."""
        return self.get(field, int, "an integer", default)

    def boolean(self, field: str, default: Any = _MISSING) -> bool:
        """Return a true/false field."""
        return self.get(field, bool, "true or false", default)

    def number(self, field: str, default: float) -> float:
        """Return a number field (integer or float)."""
        value = self.table.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field, f"must be a number, got {value!r}")
        return float(value)

    def choice(self, field: str, allowed: tuple[T, ...], default: Any = _MISSING) -> T:
        """Return a field that must be one of a fixed set of values."""
        value = self.table.get(field, default)
        if value is _MISSING:
            raise self.error(field, "required field is missing")
        if not any(type(value) is type(a) and value == a for a in allowed):
            shown = ", ".join(str(a) if isinstance(a, int) else f'"{a}"' for a in allowed)
            raise self.error(field, f"must be one of {shown}, got {value!r}")
        return value  # type: ignore[no-any-return]

    def in_range(self, field: str, low: int, high: int, default: Any = _MISSING) -> int:
        """Return an integer field within [low, high]."""
        value = self.integer(field, default)
        if not low <= value <= high:
            raise self.error(field, f"must be between {low} and {high}, got {value}")
        return value

    def string_list(self, field: str, allowed: Collection[str], default: Any) -> tuple[str, ...]:
        """Return a list of strings, each one of ``allowed``."""
        value = self.get(field, list, "a list of strings", default)
        for item in value:
            if not isinstance(item, str) or item not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.error(field, f"unknown value {item!r} (known: {known})")
        return tuple(value)

    def hex_id(self, field: str) -> str | None:
        """Return an optional 4-hex-digit USB id, lower-cased."""
        value = self.optional(field, str, "a string")
        if value is not None and not _HEX4.fullmatch(value):
            raise self.error(field, f'must be 4 hex digits like "04b8", got {value!r}')
        return None if value is None else value.lower()


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, converting every read or syntax failure into a ProfileError."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path.name}: not UTF-8 text: {exc.reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: TOML syntax: {exc}") from exc


def _common(fields: _Fields, types: tuple[str, ...], quirks: Mapping[str, str]) -> dict[str, Any]:
    """Check the fields every profile has and return them as constructor arguments."""
    name = fields.string("name")
    if name != fields.path.stem:
        raise fields.error("name", f'must equal the file name "{fields.path.stem}", got {name!r}')
    vid, pid = fields.hex_id("usb_vid"), fields.hex_id("usb_pid")
    if pid is not None and vid is None:
        raise fields.error("usb_vid", "required when usb_pid is given")
    return {
        "name": name,
        "vendor": fields.string("vendor"),
        "model": fields.string("model"),
        "type": fields.choice("type", types),
        "usb_vid": vid,
        "usb_pid": pid,
        "quirks": fields.string_list("quirks", quirks, []),
    }


def _serial(fields: _Fields) -> SerialSettings | None:
    """Check the optional [serial] table."""
    table = fields.optional("serial", dict, "a table")
    if table is None:
        return None
    sub = _Fields(fields.path, table, prefix="serial.")
    sub.refuse_unknown(_SERIAL_FIELDS)
    defaults = SerialSettings()
    timeout = sub.number("timeout_s", defaults.timeout_s)
    if timeout <= 0:
        raise sub.error("timeout_s", f"must be more than 0, got {timeout}")
    return SerialSettings(
        baudrate=sub.in_range("baudrate", 300, 921600, defaults.baudrate),
        bytesize=sub.choice("bytesize", (5, 6, 7, 8), defaults.bytesize),
        parity=sub.choice("parity", PARITIES, defaults.parity),
        stopbits=sub.choice("stopbits", (1, 2), defaults.stopbits),
        rtscts=sub.boolean("rtscts", defaults.rtscts),
        xonxoff=sub.boolean("xonxoff", defaults.xonxoff),
        dsrdtr=sub.boolean("dsrdtr", defaults.dsrdtr),
        timeout_s=timeout,
    )


def _pulse_ms(fields: _Fields, field: str, low: int) -> int:
    """Check a drawer pulse time: ESC p sends it as a count of 2 ms units in one byte."""
    value = fields.in_range(field, low, MAX_PULSE_MS)
    if value % 2:
        raise fields.error(field, f"must be even (ESC p counts 2 ms units), got {value}")
    return value


def _paper(fields: _Fields) -> tuple[int, int]:
    """Check paper width and dot count, and that they agree."""
    width = fields.choice("paper_width_mm", tuple(PAPER_DOTS))
    all_dots = tuple(sorted({d for ds in PAPER_DOTS.values() for d in ds}))
    dots = fields.choice("dots", all_dots)
    if dots not in PAPER_DOTS[width]:
        expected = " or ".join(str(d) for d in PAPER_DOTS[width])
        raise fields.error("dots", f"{dots} does not fit {width} mm paper (expected {expected})")
    return width, dots


def _slice_height(fields: _Fields) -> int:
    """Check the raster slice height: a multiple of 8 dots, at most 2048."""
    value = fields.in_range("raster_slice_height", 8, 2048)
    if value % 8:
        raise fields.error("raster_slice_height", f"must be a multiple of 8, got {value}")
    return value


def _printer(fields: _Fields) -> PrinterProfile:
    """Check a printer profile's fields and build it."""
    fields.refuse_unknown(_PRINTER_FIELDS)
    width, dots = _paper(fields)
    profile = PrinterProfile(
        **_common(fields, PRINTER_TYPES, PRINTER_QUIRKS),
        paper_width_mm=width,
        dots=dots,
        raster_slice_height=_slice_height(fields),
        drawer_pin=fields.choice("drawer_pin", (0, 1)),
        drawer_on_ms=_pulse_ms(fields, "drawer_on_ms", 2),
        drawer_off_ms=_pulse_ms(fields, "drawer_off_ms", 0),
        supports_status=fields.boolean("supports_status"),
        cut=fields.choice("cut", CUT_MODES),
        serial=_serial(fields),
    )
    if profile.has_quirk("no_dle_eot") and not profile.supports_status:
        raise fields.error(
            "quirks", "no_dle_eot needs supports_status = true (else it says nothing)"
        )
    return profile


def _refuse_other_transport(fields: _Fields) -> None:
    """Refuse fields that belong to the other scanner transport: they would be ignored."""
    foreign = _HID_ONLY if fields.table.get("type") == "serial" else _SERIAL_ONLY
    for field in foreign:
        if field in fields.table:
            raise fields.error(field, f'does not apply to a "{fields.table.get("type")}" scanner')


def _scanner(fields: _Fields) -> ScannerProfile:
    """Check a scanner profile's fields and build it."""
    fields.refuse_unknown(_SCANNER_FIELDS)
    _refuse_other_transport(fields)
    terminators = fields.string_list("terminators", TERMINATOR_KEYS, ["KEY_ENTER", "KEY_KPENTER"])
    if not terminators:
        raise fields.error("terminators", "must name at least one key")
    return ScannerProfile(
        **_common(fields, SCANNER_TYPES, SCANNER_QUIRKS),
        prefix=fields.string("prefix"),
        suffix=fields.string("suffix"),
        keymap=fields.choice("keymap", KEYMAPS, "us"),
        terminators=terminators,
        max_interkey_ms=fields.in_range("max_interkey_ms", 1, 1000, 30),
        serial=_serial(fields),
    )


def load_profile_file(path: Path) -> Profile:
    """Parse and validate one profile file."""
    fields = _Fields(path, _read_toml(path))
    kind = fields.choice("kind", ("printer", "scanner"))
    return _printer(fields) if kind == "printer" else _scanner(fields)


def load_profile(name: str, directory: Path | None = None) -> Profile:
    """Load the profile called ``name`` from ``directory`` (default: firmware_profiles/)."""
    path = (directory or PROFILE_DIR) / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"{path.name}: no such profile in {path.parent}")
    return load_profile_file(path)


def load_profiles(directory: Path | None = None) -> dict[str, Profile]:
    """Load every ``*.toml`` profile in ``directory``, keyed by name, sorted by name."""
    paths = sorted((directory or PROFILE_DIR).glob("*.toml"))
    return {path.stem: load_profile_file(path) for path in paths}

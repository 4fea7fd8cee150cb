"""The store owner's settings: printer model, drawer pulse, Toman or Rial.

They live in the ledger's ``settings`` table (keys ``store.*``) so the owner's page can
change them without write access to ``/etc/vafa/agent.toml``; what is not set there
comes from the configuration file and the printer profile. ``apply`` hands them to a
running terminal, so the next receipt, drawer kick and screen use them at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from dataclasses import dataclass

from agent.drivers.escpos_printer import PrinterDrawer, open_printer
from agent.drivers.profiles import MAX_PULSE_MS, PrinterProfile, load_profile, load_profiles
from agent.errors import InputError, PrinterError, ProfileError
from agent.ledger.db import write_transaction
from agent.terminal import Terminal
from common.persian import MoneyUnit, is_plain_number, to_ascii_digits, to_persian_digits

PREFIX = "store."
MIN_PULSE_MS = 10  # shorter never moves a solenoid; profiles say 25 at least
UNITS: dict[str, str] = {"toman": "تومان", "rial": "ریال"}


@dataclass(frozen=True)
class StoreSettings:
    """What the owner may change on the terminal's own page."""

    money_unit: MoneyUnit
    printer_profile: str
    drawer_on_ms: int
    drawer_off_ms: int


def printer_profiles() -> dict[str, PrinterProfile]:
    """Return the printer models the owner may choose, by profile name."""
    return {n: p for n, p in load_profiles().items() if isinstance(p, PrinterProfile)}


def _stored(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT key, value FROM settings WHERE key LIKE ?", (PREFIX + "%",)
    ).fetchall()
    return {str(key)[len(PREFIX) :]: str(value) for key, value in rows}


def _profile(name: str) -> PrinterProfile:
    try:
        profile = load_profile(name)
    except ProfileError as exc:
        raise InputError(str(exc), fa="این مدل چاپگر شناخته نیست") from exc
    if not isinstance(profile, PrinterProfile):
        raise InputError(f"{name} is not a printer profile", fa="این مدل چاپگر شناخته نیست")
    return profile


def load(conn: sqlite3.Connection, default_unit: str, default_profile: str) -> StoreSettings:
    """Return the settings: the owner's where set, else the configuration's and profile's."""
    stored = _stored(conn)
    name = stored.get("printer_profile", default_profile)
    try:
        profile = _profile(name)
    except InputError:  # a model removed from firmware_profiles/ since: the file's choice
        name, profile = default_profile, _profile(default_profile)
    unit = stored.get("money_unit", default_unit)
    return StoreSettings(
        money_unit="rial" if unit == "rial" else "toman",
        printer_profile=name,
        drawer_on_ms=_stored_pulse(stored.get("drawer_on_ms"), profile.drawer_on_ms),
        drawer_off_ms=_stored_pulse(stored.get("drawer_off_ms"), profile.drawer_off_ms),
    )


def _stored_pulse(text: str | None, default: int) -> int:
    """Return a stored pulse time, or the profile's when unset or unreadable."""
    try:
        return _pulse(text, "stored pulse") if text else default
    except InputError:
        return default


def _pulse(raw: str, what: str) -> int:
    text = to_ascii_digits(raw).strip()
    if not is_plain_number(text) or not MIN_PULSE_MS <= int(text) <= MAX_PULSE_MS:
        raise InputError(
            f"{what} must be {MIN_PULSE_MS}-{MAX_PULSE_MS} ms, got {raw[:10]!r}",
            fa=to_persian_digits(
                f"زمان پالس کشو باید عددی بین {MIN_PULSE_MS} و {MAX_PULSE_MS} میلی‌ثانیه باشد"
            ),
        )
    return int(text) // 2 * 2  # ESC p counts 2 ms units


def parse(form: dict[str, str]) -> StoreSettings:
    """Check the owner's form; raise InputError (with Persian) on the first bad field."""
    unit = form.get("money_unit", "")
    if unit not in UNITS:
        raise InputError(f"unknown money unit {unit[:10]!r}", fa="واحد پول را انتخاب کنید")
    name = form.get("printer_profile", "")
    if name not in printer_profiles():
        raise InputError(f"unknown printer profile {name[:40]!r}", fa="این مدل چاپگر شناخته نیست")
    return StoreSettings(
        money_unit="rial" if unit == "rial" else "toman",
        printer_profile=name,
        drawer_on_ms=_pulse(form.get("drawer_on_ms", ""), "drawer on time"),
        drawer_off_ms=_pulse(form.get("drawer_off_ms", ""), "drawer off time"),
    )


def save(conn: sqlite3.Connection, settings: StoreSettings) -> None:
    """Store every setting in one transaction."""
    with write_transaction(conn):
        for key, value in dataclasses.asdict(settings).items():
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PREFIX + key, str(value)),
            )


def current(terminal: Terminal) -> StoreSettings:
    """Return the settings a terminal runs with now."""
    return StoreSettings(
        money_unit="rial" if terminal.config.money_unit == "rial" else "toman",
        printer_profile=terminal.printer_profile.name,
        drawer_on_ms=terminal.printer_profile.drawer_on_ms,
        drawer_off_ms=terminal.printer_profile.drawer_off_ms,
    )


def apply(terminal: Terminal, settings: StoreSettings) -> None:
    """Make a running terminal use these settings (receipt, screens, printer, drawer).

    A new printer model reopens the printer on the same transport; if that fails the old
    one stays and PrinterError says why. The drawer follows only when it hangs on the
    printer's kick port (a drawer on its own port has no ESC p pulse).
    """
    profile = dataclasses.replace(
        _profile(settings.printer_profile),
        drawer_on_ms=settings.drawer_on_ms,
        drawer_off_ms=settings.drawer_off_ms,
    )
    config = terminal.config
    if profile.name != terminal.printer_profile.name:
        printer = open_printer(
            profile, config.printer_transport, config.printer_target, config.printer_timeout_s
        )
        old, terminal.printer = terminal.printer, printer
        with contextlib.suppress(PrinterError):  # the old printer is gone either way
            old.close()
    terminal.printer_profile = profile
    if isinstance(terminal.drawer, PrinterDrawer):
        terminal.drawer = PrinterDrawer(terminal.printer, profile)
    terminal.config = dataclasses.replace(
        config, money_unit=settings.money_unit, printer_profile=profile.name
    )


def apply_stored(terminal: Terminal) -> StoreSettings:
    """Apply what the owner stored (at start-up); return it."""
    settings = load(terminal.conn, terminal.config.money_unit, terminal.config.printer_profile)
    apply(terminal, settings)
    return settings

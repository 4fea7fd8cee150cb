"""The owner's management of cashier PINs: add, rename, disable and enable a cashier.

PINs stay where ``vafa-agent cashier add`` puts them (``agent.web.cashier``: one settings
row ``cashier_pin:<name>`` holding an scrypt hash). A disabled cashier keeps the row with
``!`` before the hash, as ``/etc/shadow`` locks an account: ``verify_password`` knows no
``!scrypt`` scheme, so the PIN matches nothing until the owner enables it again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from agent.errors import InputError
from agent.ledger.db import write_transaction
from agent.terminal import Terminal
from agent.web.cashier import PIN_PREFIX, cashier_for_pin, set_cashier_pin
from common.persian import normalize_text

LOCK = "!"
MAX_NAME = 40


@dataclass(frozen=True)
class Cashier:
    """A cashier as the owner's list shows them."""

    name: str
    active: bool


def cashiers(conn: sqlite3.Connection) -> list[Cashier]:
    """List every cashier with a PIN, active or not, by name."""
    rows = conn.execute(
        "SELECT key, value FROM settings WHERE key LIKE ? ORDER BY key", (PIN_PREFIX + "%",)
    ).fetchall()
    return [Cashier(str(k)[len(PIN_PREFIX) :], not str(v).startswith(LOCK)) for k, v in rows]


def clean_name(raw: str) -> str:
    """Normalise a cashier's name (Persian letters, single spaces), or raise InputError."""
    name = normalize_text(raw)
    if not name or len(name) > MAX_NAME:
        raise InputError(
            f"a cashier name is 1 to {MAX_NAME} characters", fa="نام صندوق‌دار را وارد کنید"
        )
    return name


def _exists(conn: sqlite3.Connection, name: str) -> bool:
    return bool(
        conn.execute("SELECT 1 FROM settings WHERE key = ?", (PIN_PREFIX + name,)).fetchone()
    )


def _check_pin(terminal: Terminal, pin: str, other_than: str = "") -> None:
    holder = cashier_for_pin(terminal, pin, disabled_too=True)
    if holder is not None and holder != other_than:
        # Two cashiers with one PIN could not be told apart at the till.
        raise InputError("that PIN belongs to another cashier", fa="این رمز مال صندوق‌دار دیگری است")


def add(terminal: Terminal, name: str, pin: str) -> str:
    """Add a cashier with a PIN (4 to 8 digits, any script); return the stored name."""
    name = clean_name(name)
    if _exists(terminal.conn, name):
        raise InputError("a cashier of that name exists", fa="صندوق‌داری با این نام هست")
    _check_pin(terminal, pin)
    _set_pin(terminal, name, pin)
    return name


def new_pin(terminal: Terminal, name: str, pin: str) -> None:
    """Give an existing cashier a new PIN (and enable them)."""
    if not _exists(terminal.conn, name):
        raise InputError("no such cashier", fa="این صندوق‌دار پیدا نشد")
    _check_pin(terminal, pin, other_than=name)
    _set_pin(terminal, name, pin)


def _set_pin(terminal: Terminal, name: str, pin: str) -> None:
    try:
        with write_transaction(terminal.conn):
            set_cashier_pin(terminal, name, pin)
    except ValueError as exc:
        raise InputError(str(exc), fa="رمز صندوق‌دار باید ۴ تا ۸ رقم باشد") from exc


def rename(conn: sqlite3.Connection, old: str, new: str) -> str:
    """Rename a cashier, keeping their PIN and state; return the stored new name."""
    new = clean_name(new)
    with write_transaction(conn):
        if not _exists(conn, old):
            raise InputError("no such cashier", fa="این صندوق‌دار پیدا نشد")
        if new != old and _exists(conn, new):
            raise InputError("a cashier of that name exists", fa="صندوق‌داری با این نام هست")
        conn.execute(
            "UPDATE settings SET key = ? WHERE key = ?", (PIN_PREFIX + new, PIN_PREFIX + old)
        )
    return new


def set_active(conn: sqlite3.Connection, name: str, active: bool) -> None:
    """Enable or disable a cashier's PIN without forgetting it."""
    with write_transaction(conn):
        row = conn.execute(
            "SELECT value FROM settings WHERE key = ?", (PIN_PREFIX + name,)
        ).fetchone()
        if row is None:
            raise InputError("no such cashier", fa="این صندوق‌دار پیدا نشد")
        stored = str(row[0]).lstrip(LOCK)
        conn.execute(
            "UPDATE settings SET value = ? WHERE key = ?",
            (stored if active else LOCK + stored, PIN_PREFIX + name),
        )

"""Surprise gifts from the cloud's scenarios, handed over by the cashier at the next visit.

A gift is a grant marked ``gift``: its points were booked when the terminal pulled it
(``agent/grants.py``), so the member may spend them anywhere at once and the chain's points
liability is right the day HQ gave them. What waits for the visit is the telling: the
member card shows the note until the cashier hands the gift over. The hand-over is one
transaction — the grant row is marked (only if it was not already) and a
``gift.handed_over`` event joins the outbox — so a double press, a rerun after a crash or a
pull that sends the grant again records it once. The slip is printed after the commit,
once: its bytes are kept on the grant row and ``slip_printed_at`` set after the printer
took them; a slip lost to a crash or an offline printer is printed from the card later.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from agent.drivers.escpos_printer import compose_receipt
from agent.drivers.printer_status import PrinterNotReady
from agent.errors import InputError
from agent.ledger.db import write_transaction
from agent.members import Member
from agent.offline_queue import outbox
from agent.receipt import GiftSlip, render_gift_slip
from agent.terminal import Terminal
from common.mobile import mask_mobile
from common.persian import now_tehran
from common.pii import PiiVault

_COLUMNS = (
    "grant_id, member_id, kind, amount, note, applied_at, handed_over_at, handed_over_by,"
    " slip_printed_at"
)


@dataclass(frozen=True)
class Gift:
    """One surprise gift as this terminal holds it."""

    grant_id: str
    member_id: str
    kind: str  # points | credit
    amount: int
    note: str
    applied_at: str
    handed_over_at: str | None
    handed_over_by: str | None
    slip_printed_at: str | None

    @property
    def points(self) -> int:
        """Return the points the gift gave (0 for credit)."""
        return self.amount if self.kind == "points" else 0


def _gift(row: sqlite3.Row) -> Gift:
    return Gift(**{key: row[key] for key in row.keys()})  # noqa: SIM118 (sqlite3.Row)


def for_member(conn: sqlite3.Connection, member_id: str) -> list[Gift]:
    """Return the member's gifts the card still shows: not handed over, or no slip printed."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM grants WHERE member_id = ? AND gift = 1"
        " AND (handed_over_at IS NULL OR slip_printed_at IS NULL) ORDER BY applied_at, grant_id",
        (member_id,),
    )
    return [_gift(row) for row in rows]


def get(conn: sqlite3.Connection, grant_id: str, member_id: str) -> Gift:
    """Return one of the member's gifts; raise InputError (Persian) if there is none."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM grants WHERE grant_id = ? AND member_id = ? AND gift = 1",
        (grant_id, member_id),
    ).fetchone()
    if row is None:
        raise InputError(
            f"no gift {grant_id[:40]!r} for member {member_id[:40]!r}", "هدیه پیدا نشد"
        )
    return _gift(row)


def hand_over(
    conn: sqlite3.Connection,
    vault: PiiVault,
    grant_id: str,
    member_id: str,
    cashier: str,
    moment: dt.datetime | None = None,
) -> tuple[Gift, bool]:
    """Record that the cashier handed a gift over; return it and whether this call did it.

    One transaction: the row is marked only while unmarked, and the event is queued only by
    the call that marked it, so a second press or a rerun records nothing more.
    """
    now = (moment or now_tehran()).isoformat()
    with write_transaction(conn):
        gift = get(conn, grant_id, member_id)
        if gift.handed_over_at is not None:
            return gift, False
        payload = {"grant_id": grant_id, "member_id": member_id}
        event = outbox.enqueue(conn, vault, "gift.handed_over", payload, now)
        conn.execute(
            "UPDATE grants SET handed_over_at = ?, handed_over_by = ?, handover_event_id = ?"
            " WHERE grant_id = ? AND handed_over_at IS NULL",
            (now, cashier[:40], event.id, grant_id),
        )
        return get(conn, grant_id, member_id), True


def print_slip(terminal: Terminal, gift: Gift, member: Member) -> bool:
    """Print a handed-over gift's slip unless it was printed; return whether it printed now.

    Raises PrinterError (PrinterNotReady among them) when the printer cannot take it; the
    bytes stay stored and the card offers the slip again.
    """
    conn = terminal.conn
    row = conn.execute(
        "SELECT handed_over_at, slip_escpos, slip_printed_at FROM grants WHERE grant_id = ?",
        (gift.grant_id,),
    ).fetchone()
    if row is None or row["handed_over_at"] is None:
        raise InputError(f"gift {gift.grant_id} not handed over", "هدیه هنوز تحویل نشده است")
    if row["slip_printed_at"]:
        return False
    data = row["slip_escpos"]
    if data is None:
        slip = GiftSlip(
            store_name=terminal.store_name,
            moment=dt.datetime.fromisoformat(row["handed_over_at"]),
            member_name=member.name,
            masked_mobile=mask_mobile(member.mobile),
            note=gift.note,
            points=gift.points,
        )
        image = render_gift_slip(slip, terminal.printer_profile.dots)
        data = compose_receipt(image, terminal.printer_profile, kick_drawer=False)
        with write_transaction(conn):
            conn.execute(
                "UPDATE grants SET slip_escpos = ? WHERE grant_id = ?", (data, gift.grant_id)
            )
    status = terminal.printer.status()
    if not status.ready:
        raise PrinterNotReady(status)
    terminal.printer.send(bytes(data))
    with write_transaction(conn):
        conn.execute(
            "UPDATE grants SET slip_printed_at = ? WHERE grant_id = ?",
            (now_tehran().isoformat(), gift.grant_id),
        )
    return True

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

The member may come back to any till of the home store. Each pull carries the store's
gifts still waiting (``store_gifts``, replaced whole like the owner notes), so a till that
did not book a gift shows it too and records its hand-over once in its ``store_gifts`` row,
booking nothing: the points are the booking till's. The cloud keeps the first hand-over
from any till of the store; a gift this till booked that is missing from the store's list
was handed over at another till, and leaves the card.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.drivers.escpos_printer import compose_receipt
from agent.drivers.printer_status import PrinterNotReady
from agent.errors import InputError
from agent.ledger.db import write_transaction
from agent.members import Member
from agent.offline_queue import outbox
from agent.receipt import GiftSlip, render_gift_slip
from common.mobile import mask_mobile
from common.persian import now_tehran
from common.pii import PiiVault

if TYPE_CHECKING:  # the terminal pulls through this module's replace_store_list
    from agent.terminal import Terminal

log = logging.getLogger(__name__)
_COLUMNS = (
    "grant_id, member_id, kind, amount, note, applied_at, handed_over_at, handed_over_by,"
    " slip_printed_at"
)
# The gifts a card may show: booked here (not handed over at another till), or booked by
# another till of the store and listed by the last pull (or handed over here since).
_HELD = (
    f"SELECT {_COLUMNS}, 1 AS booked_here FROM grants"
    " WHERE gift = 1 AND handed_over_elsewhere_at IS NULL"
    f" UNION ALL SELECT {_COLUMNS}, 0 AS booked_here FROM store_gifts"
)
_LIMITS = {"grant_id": 32, "member_id": 32, "note": 200}


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
    booked_here: bool  # False: booked by another till of the store, listed by the pull

    @property
    def points(self) -> int:
        """Return the points the gift gave (0 for credit)."""
        return self.amount if self.kind == "points" else 0


def _gift(row: sqlite3.Row) -> Gift:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
    return Gift(**{**values, "booked_here": bool(values["booked_here"])})


def _table(gift: Gift) -> str:
    return "grants" if gift.booked_here else "store_gifts"


def for_member(conn: sqlite3.Connection, member_id: str) -> list[Gift]:
    """Return the member's gifts the card still shows: not handed over, or no slip printed."""
    rows = conn.execute(
        f"SELECT * FROM ({_HELD}) WHERE member_id = ?"
        " AND (handed_over_at IS NULL OR slip_printed_at IS NULL) ORDER BY applied_at, grant_id",
        (member_id,),
    )
    return [_gift(row) for row in rows]


def get(conn: sqlite3.Connection, grant_id: str, member_id: str) -> Gift:
    """Return one of the member's gifts; raise InputError (Persian) if there is none."""
    row = conn.execute(
        f"SELECT * FROM ({_HELD}) WHERE grant_id = ? AND member_id = ? ORDER BY booked_here DESC",
        (grant_id, member_id),
    ).fetchone()
    if row is None:
        elsewhere = conn.execute(
            "SELECT 1 FROM grants WHERE grant_id = ? AND member_id = ? AND gift = 1",
            (grant_id, member_id),
        ).fetchone()
        raise InputError(
            f"no gift {grant_id[:40]!r} for member {member_id[:40]!r} held here",
            "این هدیه در صندوق دیگری تحویل شده است" if elsewhere else "هدیه پیدا نشد",
        )
    return _gift(row)


def replace_store_list(conn: sqlite3.Connection, listed: list[Any], moment: str) -> int:
    """Take the store's waiting gifts from a pull (caller's transaction, after its grants
    were booked); return how many were kept.

    Gifts booked by other tills replace the ones held that this till has not handed over
    (a hand-over made here stays, recorded once). A gift booked here and missing from a
    whole, well-formed list was handed over at another till: it is marked and leaves the
    card. A malformed entry is left out and logged, and then nothing is marked.
    """
    kept = [gift for gift in listed if _well_formed(gift)]
    if len(kept) != len(listed):
        log.warning("%d store gifts from the cloud were malformed", len(listed) - len(kept))
    else:
        conn.execute(
            "UPDATE grants SET handed_over_elsewhere_at = ? WHERE gift = 1"
            " AND handed_over_at IS NULL AND handed_over_elsewhere_at IS NULL"
            " AND grant_id NOT IN (SELECT value FROM json_each(?))",
            (moment, json.dumps([gift["grant_id"] for gift in kept])),
        )
    conn.execute("DELETE FROM store_gifts WHERE handed_over_at IS NULL")
    conn.executemany(
        "INSERT OR IGNORE INTO store_gifts (grant_id, member_id, kind, amount, note, applied_at)"
        " SELECT :grant_id, :member_id, :kind, :amount, :note, :applied_at"
        " WHERE NOT EXISTS (SELECT 1 FROM grants WHERE grant_id = :grant_id)",
        [
            {**{key: gift[key] for key in ("kind", "amount", *_LIMITS)}, "applied_at": moment}
            for gift in kept
        ],
    )
    return len(kept)


def _well_formed(gift: Any) -> bool:
    if not isinstance(gift, dict) or gift.get("kind") not in ("points", "credit"):
        return False
    amount = gift.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        return False
    if len(str(gift.get("grant_id"))) != 32:
        return False
    return all(isinstance(gift.get(k), str) and len(gift[k]) <= n for k, n in _LIMITS.items())


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
            f"UPDATE {_table(gift)} SET handed_over_at = ?, handed_over_by = ?,"
            " handover_event_id = ? WHERE grant_id = ? AND handed_over_at IS NULL",
            (now, cashier[:40], event.id, grant_id),
        )
        return get(conn, grant_id, member_id), True


def print_slip(terminal: Terminal, gift: Gift, member: Member) -> bool:
    """Print a handed-over gift's slip unless it was printed; return whether it printed now.

    Raises PrinterError (PrinterNotReady among them) when the printer cannot take it; the
    bytes stay stored and the card offers the slip again.
    """
    conn, table = terminal.conn, _table(gift)
    row = conn.execute(
        f"SELECT handed_over_at, slip_escpos, slip_printed_at FROM {table} WHERE grant_id = ?",
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
                f"UPDATE {table} SET slip_escpos = ? WHERE grant_id = ?", (data, gift.grant_id)
            )
    status = terminal.printer.status()
    if not status.ready:
        raise PrinterNotReady(status)
    terminal.printer.send(bytes(data))
    with write_transaction(conn):
        conn.execute(
            f"UPDATE {table} SET slip_printed_at = ? WHERE grant_id = ?",
            (now_tehran().isoformat(), gift.grant_id),
        )
    return True

"""The cashier's path: identify a member, then one durable transaction per sale.

A sale writes its row, its ledger entries and its outbox event in one ``BEGIN IMMEDIATE``
transaction; when ``sale`` returns, the sale survives a crash or a power cut, and the
event will reach the cloud. Printing comes after the commit and can never undo it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from agent import members
from agent.errors import InputError, InsufficientBalance
from agent.ledger import accounts, book
from agent.ledger.db import write_transaction
from agent.members import Member
from agent.offline_queue import outbox
from agent.rules import EarningRules, check_amount, points_for_sale
from common.persian import now_tehran
from common.pii import PiiVault
from common.protocol import Posting, new_id


@dataclass(frozen=True)
class SaleResult:
    """What the cashier sees after a sale committed."""

    sale_id: str
    receipt_no: int
    member: Member
    amount_rial: int
    points_earned: int
    points_redeemed: int
    balance: int
    entry_ids: tuple[str, ...]
    event_id: str
    moment: dt.datetime


class CashierFlow:
    """Identify, enrol and sell against the terminal's ledger."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        vault: PiiVault,
        rules: EarningRules,
        clock: Callable[[], dt.datetime] = now_tehran,
    ) -> None:
        self.conn = conn
        self.vault = vault
        self.rules = rules
        self.clock = clock
        with write_transaction(conn):
            book.ensure_system_accounts(conn)

    def identify(self, raw: str) -> Member:
        """Find the member behind a scan or a typed mobile."""
        return members.identify(self.conn, self.vault, raw)

    def enrol(self, mobile: str, name: str, consent: bool) -> Member:
        """Enrol a new member and queue the enrolment for the cloud."""
        now = self.clock().isoformat()
        with write_transaction(self.conn):
            member = members.enrol(self.conn, self.vault, mobile, name, consent, now)
            payload = {
                "member_id": member.id,
                "card_code": member.card_code,
                "mobile": member.mobile,
                "name": member.name,
                "marketing_consent": member.marketing_consent,
            }
            outbox.enqueue(self.conn, self.vault, "member.enrolled", payload, now)
        return member

    def balance(self, member_id: str) -> int:
        """Return a member's points balance as this terminal knows it."""
        return book.balance(self.conn, accounts.member_points(member_id))

    def sale(self, member_id: str, amount_rial: int, redeem_points: int = 0) -> SaleResult:
        """Record a purchase: award points, redeem if asked, queue the event, all or nothing."""
        check_amount(amount_rial)
        if (
            isinstance(redeem_points, bool)
            or not isinstance(redeem_points, int)
            or redeem_points < 0
        ):
            raise InputError("redeem points must be a non-negative integer")
        moment = self.clock()
        now = moment.isoformat()
        with write_transaction(self.conn):
            member = members.get(self.conn, self.vault, member_id)
            first = not self.conn.execute(
                "SELECT 1 FROM sales WHERE member_id = ? LIMIT 1", (member_id,)
            ).fetchone()
            earned = points_for_sale(self.rules, amount_rial, member.tier, first)
            sale_id = new_id()
            entries = self._post_points(member_id, sale_id, earned, redeem_points, now)
            (receipt_no,) = self.conn.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'receipt_no' RETURNING value"
            ).fetchone()
            self.conn.execute(
                "INSERT INTO sales (id, receipt_no, member_id, amount_rial, points_earned,"
                " points_redeemed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sale_id, receipt_no, member_id, amount_rial, earned, redeem_points, now),
            )
            payload = {
                "sale_id": sale_id,
                "receipt_no": receipt_no,
                "member_id": member_id,
                "amount_rial": amount_rial,
                "points_earned": earned,
                "points_redeemed": redeem_points,
                "channel": "in_store",
                "entries": [entry.to_wire() for entry in entries],
            }
            event = outbox.enqueue(self.conn, self.vault, "sale.completed", payload, now)
            new_balance = self.balance(member_id)
        return SaleResult(
            sale_id=sale_id,
            receipt_no=receipt_no,
            member=member,
            amount_rial=amount_rial,
            points_earned=earned,
            points_redeemed=redeem_points,
            balance=new_balance,
            entry_ids=tuple(entry.id for entry in entries),
            event_id=event.id,
            moment=moment,
        )

    def _post_points(
        self, member_id: str, sale_id: str, earned: int, redeem: int, now: str
    ) -> list[book.Entry]:
        account = accounts.member_points(member_id)
        entries = []
        if redeem:
            available = book.balance(self.conn, account)
            if redeem > available:
                raise InsufficientBalance(f"redeem {redeem} > balance {available}")
            legs = [Posting(account, -redeem), Posting(accounts.POINTS_REDEEMED, redeem)]
            entries.append(book.post(self.conn, "redeem", legs, now, sale_id=sale_id))
        if earned:
            legs = [Posting(account, earned), Posting(accounts.POINTS_ISSUED, -earned)]
            entries.append(book.post(self.conn, "earn", legs, now, sale_id=sale_id))
        return entries

"""The cashier's path: identify a member, then one durable transaction per sale.

A sale writes its row, its ledger entries and its outbox event in one ``BEGIN IMMEDIATE``
transaction; when ``sale`` returns, the sale survives a crash or a power cut, and the
event will reach the cloud. Printing comes after the commit and can never undo it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent import members
from agent.errors import InputError, InsufficientBalance
from agent.ledger import accounts, book, lots
from agent.ledger.db import write_transaction
from agent.members import Member
from agent.offline_queue import outbox
from agent.rules import (
    EarningRules,
    SaleContext,
    check_amount,
    parse_lines,
    points_for_sale,
    tier_for,
)
from common.demographics import Demographics, InvalidDemographic, split_birth_date
from common.persian import TEHRAN, in_birthday_week, now_tehran, to_ascii_digits
from common.pii import PiiVault
from common.protocol import Posting, new_id
from common.referral import normalise_code


def _tehran_midnight(moment: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(moment.astimezone(TEHRAN).date(), dt.time(), TEHRAN)


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
    credit_redeemed_rial: int = 0
    credit_rial: int = 0  # the member's credit left after this sale
    coupon_rial: int = 0  # the discount of the coupon this sale used


@dataclass(frozen=True)
class Coupon:
    """A member's coupon as the cashier sees it."""

    code: str
    value_rial: int
    min_purchase_rial: int
    expires_at: str


@dataclass(frozen=True)
class RefundResult:
    """What a refund reversed."""

    sale_id: str
    entry_ids: tuple[str, ...]
    balance: int
    event_id: str


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

    def enrol(
        self,
        mobile: str,
        name: str,
        consent: bool,
        birthday: str | None = None,
        referred_by: str | None = None,
        gender: str | None = None,
        province: str | None = None,
        city: str | None = None,
        mobile_check: str | None = None,
    ) -> Member:
        """Enrol a new member (with a friend's referral code, if any) and queue it for the cloud.

        ``birthday`` is Jalali "MM-DD" or the full "YYYY-MM-DD" (the year is kept in clear
        for age groups, month and day encrypted); gender is "f" or "m"; province and city
        come from ``common/iran_places.toml``. Each is optional; a bad one refuses all.
        ``mobile_check`` is the cloud's id of a one-time code the member read out
        (``agent/mobile_codes.py``); without it the mobile goes as unverified.
        """
        code = None
        if referred_by:
            code = normalise_code(referred_by)
            if code is None:
                raise InputError(
                    f"not a referral code: {referred_by[:20]!r}", fa="کد معرف درست نیست"
                )
        birth_year, month_day = None, None
        if birthday:
            try:
                birth_year, month_day = split_birth_date(birthday)
            except InvalidDemographic as exc:
                raise InputError(str(exc), fa=exc.fa) from exc
        about = members.checked_demographics(Demographics(gender, province, city, birth_year))
        now = self.clock().isoformat()
        with write_transaction(self.conn):
            member = members.enrol(
                self.conn,
                self.vault,
                mobile,
                name,
                consent,
                now,
                birthday=month_day,
                demographics=about,
            )
            payload = {
                "member_id": member.id,
                "card_code": member.card_code,
                "mobile": member.mobile,
                "name": member.name,
                "marketing_consent": member.marketing_consent,
                "birthday": member.birthday_text(),
                "referred_by": code,
                "mobile_verified": mobile_check is not None,
                "mobile_check": mobile_check,
                **member.demographics.as_payload(),
            }
            outbox.enqueue(self.conn, self.vault, "member.enrolled", payload, now)
        return member

    def balance(self, member_id: str) -> int:
        """Return a member's chain-wide points as this terminal knows them.

        That is this terminal's own ledger (points here, less points of other stores drawn
        here, synced or not) plus what the cloud last reported held at other stores.
        """
        here = book.balance(self.conn, accounts.member_points(member_id))
        drawn = book.balance(self.conn, accounts.member_drawn(member_id))
        return here + drawn + members.points_elsewhere(self.conn, member_id)

    def sale(
        self,
        member_id: str,
        amount_rial: int,
        redeem_points: int = 0,
        items: list[dict[str, Any]] | None = None,
        redeem_credit_rial: int = 0,
        coupon: str | None = None,
    ) -> SaleResult:
        """Record a purchase: award points, redeem if asked, queue the event, all or nothing."""
        check_amount(amount_rial)
        lines = parse_lines(items, amount_rial)
        for value, what in ((redeem_points, "redeem points"), (redeem_credit_rial, "credit")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(
                    f"{what} must be a non-negative integer", fa="مقدار خرج را درست وارد کنید"
                )
        if redeem_credit_rial > amount_rial:
            raise InputError(
                f"credit {redeem_credit_rial} exceeds the purchase {amount_rial}",
                fa="اعتبار خرج‌شده از مبلغ خرید بیشتر است",
            )
        # A redemption at a purchase takes off at most the purchase; one without a purchase
        # (amount 0) is for a gift from the catalogue, and only the balance limits it.
        points_rial = redeem_points * self.rules.point_value_rial
        if amount_rial and points_rial + redeem_credit_rial > amount_rial:
            raise InputError(
                f"points worth {points_rial} and credit {redeem_credit_rial} exceed the"
                f" purchase {amount_rial}",
                fa="تخفیف امتیاز و اعتبار از مبلغ خرید بیشتر است",
            )
        moment = self.clock()
        now = moment.isoformat()
        with write_transaction(self.conn):
            member = members.get(self.conn, self.vault, member_id)
            first = not self.conn.execute(
                "SELECT 1 FROM sales WHERE member_id = ? LIMIT 1", (member_id,)
            ).fetchone()
            context = SaleContext(
                amount_rial=amount_rial,
                tier=member.tier,
                first_purchase=first,
                moment=moment,
                lines=lines,
                birthday_week=bool(member.birthday and in_birthday_week(*member.birthday, moment)),
                earned_today=self._earned_since(member_id, _tehran_midnight(moment)),
            )
            earned = points_for_sale(self.rules, context)
            self._check_offline_cap(member_id, redeem_points)
            sale_id = new_id()
            entries = self._post_points(member_id, sale_id, earned, redeem_points, moment)
            if redeem_credit_rial:
                entries.append(self._post_credit(member_id, sale_id, redeem_credit_rial, now))
            used = self._take_coupon(coupon, member_id, amount_rial, moment) if coupon else None
            (receipt_no,) = self.conn.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'receipt_no' RETURNING value"
            ).fetchone()
            payload = {
                "sale_id": sale_id,
                "receipt_no": receipt_no,
                "member_id": member_id,
                "amount_rial": amount_rial,
                "points_earned": earned,
                "points_redeemed": redeem_points,
                "credit_redeemed_rial": redeem_credit_rial,
                "coupon": {"code": used.code, "value_rial": used.value_rial} if used else None,
                "channel": "in_store",
                "items": [dataclasses.asdict(line) for line in lines],
                "entries": [entry.to_wire() for entry in entries],
            }
            event = outbox.enqueue(self.conn, self.vault, "sale.completed", payload, now)
            self.conn.execute(
                "INSERT INTO sales (id, receipt_no, member_id, amount_rial, points_earned,"
                " points_redeemed, credit_redeemed_rial, coupon_code, coupon_rial, created_at,"
                " event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sale_id,
                    receipt_no,
                    member_id,
                    amount_rial,
                    earned,
                    redeem_points,
                    redeem_credit_rial,
                    used.code if used else None,
                    used.value_rial if used else 0,
                    now,
                    event.id,
                ),
            )
            if used:
                self.conn.execute(
                    "UPDATE coupons SET used_sale_id = ? WHERE code = ?", (sale_id, used.code)
                )
            self._review_tier(member_id, member.tier, moment)
            new_balance = self.balance(member_id)
            credit_left = self.credit(member_id)
            member = members.get(self.conn, self.vault, member_id)
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
            credit_redeemed_rial=redeem_credit_rial,
            credit_rial=credit_left,
            coupon_rial=used.value_rial if used else 0,
        )

    def coupons(self, member_id: str) -> list[Coupon]:
        """Return the member's coupons that can still be used, soonest expiry first."""
        now = self.clock()
        rows = self.conn.execute(
            "SELECT code, value_rial, min_purchase_rial, expires_at FROM coupons"
            " WHERE member_id = ? AND used_sale_id IS NULL",
            (member_id,),
        )
        found = [Coupon(*row) for row in rows]  # times carry offsets: compare them as times
        found = [c for c in found if dt.datetime.fromisoformat(c.expires_at) > now]
        return sorted(found, key=lambda c: (dt.datetime.fromisoformat(c.expires_at), c.code))

    def _take_coupon(
        self, code: str, member_id: str, amount_rial: int, moment: dt.datetime
    ) -> Coupon:
        row = self.conn.execute(
            "SELECT code, value_rial, min_purchase_rial, expires_at, used_sale_id, member_id"
            " FROM coupons WHERE code = ?",
            (to_ascii_digits(code).strip().upper(),),  # typed from an SMS: any digits
        ).fetchone()
        if row is None or row["member_id"] != member_id:
            raise InputError(
                f"no coupon {code!r} for this member", fa="این کد تخفیف برای این عضو نیست"
            )
        if row["used_sale_id"] is not None:
            raise InputError(f"coupon {code} already used", fa="این کد تخفیف قبلاً استفاده شده است")
        if dt.datetime.fromisoformat(row["expires_at"]) <= moment:
            raise InputError(f"coupon {code} expired", fa="مهلت این کد تخفیف تمام شده است")
        if amount_rial < max(row["min_purchase_rial"], row["value_rial"]):
            raise InputError(
                f"purchase {amount_rial} below the coupon's minimum",
                fa="مبلغ خرید برای این کد تخفیف کافی نیست",
            )
        return Coupon(row["code"], row["value_rial"], row["min_purchase_rial"], row["expires_at"])

    def credit(self, member_id: str) -> int:
        """Return the member's credit (اعتبار) in Rials held at this terminal."""
        return book.balance(self.conn, accounts.member_credit(member_id))

    def _post_credit(self, member_id: str, sale_id: str, rial: int, now: str) -> book.Entry:
        available = self.credit(member_id)
        if rial > available:
            raise InsufficientBalance(
                f"credit {rial} > balance {available}", fa="اعتبار عضو کافی نیست"
            )
        legs = [
            Posting(accounts.member_credit(member_id), -rial),
            Posting(accounts.CREDIT_REDEEMED, rial),
        ]
        return book.post(self.conn, "credit_use", legs, now, sale_id=sale_id)

    def unconfirmed_redeemed(self, member_id: str) -> int:
        """Return the points a member redeemed here that the cloud has not confirmed yet."""
        (unconfirmed,) = self.conn.execute(
            "SELECT COALESCE(SUM(s.points_redeemed), 0) FROM sales s"
            " JOIN outbox o ON o.event_id = s.event_id AND o.acked_at IS NULL"
            " WHERE s.member_id = ? AND s.refunded_at IS NULL",
            (member_id,),
        ).fetchone()
        return int(unconfirmed)

    def redeem_room(self, member_id: str) -> int:
        """Return the most points this member may redeem here now (balance and offline cap)."""
        room = self.rules.offline_redeem_cap - self.unconfirmed_redeemed(member_id)
        return max(0, min(self.balance(member_id), room))

    def _check_offline_cap(self, member_id: str, redeem: int) -> None:
        if not redeem:
            return
        unconfirmed = self.unconfirmed_redeemed(member_id)
        if unconfirmed + redeem > self.rules.offline_redeem_cap:
            raise InsufficientBalance(
                f"offline redemption cap {self.rules.offline_redeem_cap} reached"
                f" ({unconfirmed} unconfirmed + {redeem})",
                fa="سقف خرج امتیاز بدون اتصال به سرور پر شده است",
            )

    def _post_points(
        self, member_id: str, sale_id: str, earned: int, redeem: int, moment: dt.datetime
    ) -> list[book.Entry]:
        now = moment.isoformat()
        account = accounts.member_points(member_id)
        entries = []
        if redeem:
            available = self.balance(member_id)
            if redeem > available:
                raise InsufficientBalance(f"redeem {redeem} > balance {available}")
            # Points earned here go first (their lots); the rest is drawn on points the
            # member holds at other stores, which the cloud settles chain-wide.
            here = min(redeem, book.balance(self.conn, account))
            drawn = accounts.member_drawn(member_id)
            if here < redeem:
                self.conn.execute(
                    "INSERT OR IGNORE INTO accounts (id, kind, member_id)"
                    " VALUES (?, 'member_drawn', ?)",
                    (drawn, member_id),
                )
            legs = [
                Posting(account, -here),
                Posting(drawn, here - redeem),
                Posting(accounts.POINTS_REDEEMED, redeem),
            ]
            entry = book.post(self.conn, "redeem", legs, now, sale_id=sale_id)
            lots.take(self.conn, entry.id, member_id, here)
            entries.append(entry)
        if earned:
            legs = [Posting(account, earned), Posting(accounts.POINTS_ISSUED, -earned)]
            entry = book.post(self.conn, "earn", legs, now, sale_id=sale_id)
            expires = moment + dt.timedelta(days=self.rules.points_validity_days)
            lots.open_lot(self.conn, entry.id, member_id, earned, now, expires.isoformat())
            entries.append(entry)
        return entries

    def refund(self, sale_id: str) -> RefundResult:
        """Undo a sale with reversing entries: give back redeemed points, take back earned ones.

        Points earned by the sale that the member has already spent are booked to the
        overdraft receivable: the balance never goes negative and nothing is dropped.
        """
        moment = self.clock()
        now = moment.isoformat()
        with write_transaction(self.conn):
            sale = self.conn.execute("SELECT * FROM sales WHERE id = ?", (sale_id,)).fetchone()
            if sale is None:
                raise InputError(f"no sale {sale_id}", fa="این خرید پیدا نشد")
            if sale["refunded_at"]:
                raise InputError(
                    f"sale {sale_id} already refunded", fa="این خرید قبلاً برگشت خورده است"
                )
            member_id = sale["member_id"]
            reversals = [
                self._reverse(member_id, entry, now)
                for entry in self.conn.execute(
                    "SELECT id, kind FROM entries WHERE sale_id = ? AND reverses IS NULL"
                    " ORDER BY kind DESC",  # put redeemed points back before taking earned ones
                    (sale_id,),
                ).fetchall()
            ]
            payload = {
                "sale_id": sale_id,
                "member_id": member_id,
                "entries": [entry.to_wire() for entry in reversals],
            }
            event = outbox.enqueue(self.conn, self.vault, "sale.refunded", payload, now)
            self.conn.execute(
                "UPDATE sales SET refunded_at = ?, refund_event_id = ? WHERE id = ?",
                (now, event.id, sale_id),
            )
            tier = members.get(self.conn, self.vault, member_id).tier
            self._review_tier(member_id, tier, moment)
            balance = self.balance(member_id)
        return RefundResult(sale_id, tuple(e.id for e in reversals), balance, event.id)

    def _reverse(self, member_id: str, original: sqlite3.Row, now: str) -> book.Entry:
        account = accounts.member_points(member_id)
        if original["kind"] in ("redeem", "credit_use"):
            legs = [
                Posting(row["account_id"], -row["amount"])
                for row in self.conn.execute(
                    "SELECT account_id, amount FROM postings WHERE entry_id = ?", (original["id"],)
                )
            ]
            kind = f"{original['kind']}_reversal"
            entry = book.post(self.conn, kind, legs, now, reverses=original["id"])
            lots.put_back(self.conn, entry.id, original["id"])
            return entry
        amount = -self.conn.execute(
            "SELECT amount FROM postings WHERE entry_id = ? AND account_id = ?",
            (original["id"], account),
        ).fetchone()[0]
        earned = -amount
        covered = min(earned, book.balance(self.conn, account))
        legs = [
            Posting(account, -covered),
            Posting(accounts.POINTS_ISSUED, earned),
            Posting(accounts.OVERDRAFT, covered - earned),
        ]
        entry = book.post(self.conn, "earn_reversal", legs, now, reverses=original["id"])
        from_lot = lots.take_from(self.conn, entry.id, original["id"], covered)
        lots.take(self.conn, entry.id, member_id, covered - from_lot)
        return entry

    def expire_due(self) -> int:
        """Expire every lot past its date, oldest first; return the points expired."""
        moment = self.clock()
        now = moment.isoformat()
        total = 0
        with write_transaction(self.conn):
            for lot_id, member_id, remaining in lots.due(self.conn, now):
                legs = [
                    Posting(accounts.member_points(member_id), -remaining),
                    Posting(accounts.POINTS_EXPIRED, remaining),
                ]
                entry = book.post(self.conn, "expire", legs, now, memo=f"lot {lot_id}")
                lots.take_from(self.conn, entry.id, lot_id, remaining)
                payload = {"member_id": member_id, "entries": [entry.to_wire()]}
                outbox.enqueue(self.conn, self.vault, "points.expired", payload, now)
                tier = members.get(self.conn, self.vault, member_id).tier
                self._review_tier(member_id, tier, moment)
                total += remaining
        return total

    def earned_in_window(self, member_id: str, moment: dt.datetime) -> int:
        """Return the points a member earned (net of refunds) in the tier window."""
        return self._earned_since(
            member_id, moment - dt.timedelta(days=self.rules.tier_window_days)
        )

    def _earned_since(self, member_id: str, since: dt.datetime) -> int:
        start = since.isoformat()
        (earned,) = self.conn.execute(
            "SELECT COALESCE(SUM(p.amount), 0) FROM postings p JOIN entries e ON e.id = p.entry_id"
            " WHERE p.account_id = ? AND e.kind IN ('earn', 'earn_reversal') AND e.created_at >= ?",
            (accounts.member_points(member_id), start),
        ).fetchone()
        return int(earned)

    def _review_tier(self, member_id: str, current: str, moment: dt.datetime) -> str:
        earned = self.earned_in_window(member_id, moment)
        tier = tier_for(self.rules, earned)
        if tier != current:
            self.conn.execute("UPDATE members SET tier = ? WHERE id = ?", (tier, member_id))
            payload = {"member_id": member_id, "tier": tier, "previous": current, "earned": earned}
            outbox.enqueue(
                self.conn, self.vault, "member.tier_changed", payload, moment.isoformat()
            )
        return tier

    def review_tiers(self) -> int:
        """Re-evaluate every member's tier (downgrades as the window slides); return changes."""
        moment = self.clock()
        changed = 0
        with write_transaction(self.conn):
            for member_id, tier in self.conn.execute("SELECT id, tier FROM members").fetchall():
                changed += self._review_tier(member_id, tier, moment) != tier
        return changed

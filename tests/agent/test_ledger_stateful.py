"""A hypothesis state machine over the cashier's ledger: every invariant after every step.

Steps: enrol, sale (with or without redemption), refund, time passing with expiry, tier
review, sync acknowledgement, and a restart (the database reopened from its file).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agent.config import AgentConfig
from agent.errors import InputError, InsufficientBalance
from agent.flow import CashierFlow
from agent.ledger import book
from agent.ledger.db import write_transaction
from agent.offline_queue import outbox
from agent.rules import EarningRules
from agent.terminal import Terminal
from common.persian import TEHRAN

RULES = EarningRules(points_validity_days=60, offline_redeem_cap=3_000, tier_window_days=120)


class LedgerMachine(RuleBasedStateMachine):
    """The terminal against a model of each member's balance."""

    @initialize()
    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vafa-stateful-"))
        self.config = AgentConfig(data_dir=self.folder)
        self.now = dt.datetime(2026, 1, 1, 9, 0, tzinfo=TEHRAN)
        self.members: list[str] = []
        self.balances: dict[str, int] = {}
        self.sales: list[tuple[str, str, int, int]] = []  # sale id, member, earned, redeemed
        self._open()

    def _open(self) -> None:
        self.terminal = Terminal(self.config)
        self.flow = CashierFlow(
            self.terminal.conn, self.terminal.vault, RULES, clock=lambda: self.now
        )

    def teardown(self) -> None:
        self.terminal.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    @rule()
    def enrol(self) -> None:
        mobile = f"0912{len(self.members):07d}"
        member = self.flow.enrol(mobile, f"عضو {len(self.members)}", consent=True)
        self.members.append(member.id)
        self.balances[member.id] = 0

    @precondition(lambda self: self.members)
    @rule(
        data=st.data(),
        amount=st.integers(0, 50_000_000),
        redeem=st.integers(0, 4_000) | st.just(-1),  # -1: everything the member has
    )
    def sale(self, data: st.DataObject, amount: int, redeem: int) -> None:
        member = data.draw(st.sampled_from(self.members))
        if redeem == -1:
            redeem = min(self.balances[member], RULES.offline_redeem_cap)
        try:
            result = self.flow.sale(member, amount, redeem)
        except InsufficientBalance:
            return
        except InputError:  # points worth more than the purchase: refused, nothing written
            assert 0 < amount < redeem * RULES.point_value_rial
            return
        assert result.balance == self.balances[member] - redeem + result.points_earned
        self.balances[member] = result.balance
        self.sales.append((result.sale_id, member, result.points_earned, redeem))

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        sale_id, member, earned, redeemed = data.draw(st.sampled_from(self.sales))
        self.sales.remove((sale_id, member, earned, redeemed))
        result = self.flow.refund(sale_id)
        assert result.balance == max(0, self.balances[member] + redeemed - earned)
        self.balances[member] = result.balance

    @rule(days=st.integers(1, 90))
    def time_passes(self, days: int) -> None:
        self.now += dt.timedelta(days=days)
        before = sum(self.balances.values())
        expired = self.flow.expire_due()
        self.balances = {m: self.flow.balance(m) for m in self.members}
        assert sum(self.balances.values()) == before - expired

    @rule()
    def review_tiers(self) -> None:
        self.flow.review_tiers()

    @rule()
    def cloud_acknowledges(self) -> None:
        ids = [e.id for e in outbox.pending(self.terminal.conn, self.terminal.vault, 100_000)]
        with write_transaction(self.terminal.conn):
            outbox.mark_acked(self.terminal.conn, ids, self.now.isoformat())
        assert outbox.depth(self.terminal.conn) == 0

    @rule()
    def restart(self) -> None:
        self.terminal.close()
        self._open()

    @invariant()
    def books_verify(self) -> None:
        if hasattr(self, "terminal"):
            assert book.verify(self.terminal.conn) == []

    @invariant()
    def balances_match_the_model(self) -> None:
        if hasattr(self, "terminal"):
            for member, expected in self.balances.items():
                assert self.flow.balance(member) == expected >= 0

    @invariant()
    def outbox_sequence_is_gap_free(self) -> None:
        if hasattr(self, "terminal"):
            seqs = [r[0] for r in self.terminal.conn.execute("SELECT seq FROM outbox ORDER BY seq")]
            assert seqs == list(range(1, len(seqs) + 1))


LedgerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase

"""The cashier flow: a sale is one transaction of sale row, entries and outbox event."""

from __future__ import annotations

import pytest

from agent.errors import InputError, InsufficientBalance, UnknownMember
from agent.ledger import book
from agent.offline_queue import outbox
from agent.terminal import Terminal
from common.errors import InvalidMobile


def _counts(terminal: Terminal) -> tuple[int, int, int, int]:
    conn = terminal.conn
    return tuple(  # type: ignore[return-value]
        conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("sales", "entries", "outbox", "members")
    )


def test_sale_awards_points_and_queues_one_event(terminal: Terminal) -> None:
    member = terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    result = terminal.flow.sale(member.id, 1_250_000)
    assert result.points_earned == 125  # one point per 10,000 Rial, rounded down
    assert result.balance == 125 == terminal.flow.balance(member.id)
    assert result.receipt_no == 1
    events = outbox.pending(terminal.conn, terminal.vault, 10)
    assert [e.kind for e in events] == ["member.enrolled", "sale.completed"]
    assert [e.seq for e in events] == [1, 2]
    assert events[1].payload["entries"][0]["id"] == result.entry_ids[0]
    assert book.verify(terminal.conn) == []


def test_identify_by_card_or_any_mobile_form(terminal: Terminal) -> None:
    member = terminal.flow.enrol("0912 345 6789", "علی رضایی", consent=False)
    for typed in ("09123456789", "+989123456789", "۰۹۱۲۳۴۵۶۷۸۹", "912-345-6789", member.card_code):
        assert terminal.flow.identify(typed).id == member.id
    with pytest.raises(UnknownMember):
        terminal.flow.identify("09350000000")


def test_redeem_beyond_balance_is_refused_and_nothing_is_written(terminal: Terminal) -> None:
    member = terminal.flow.enrol("09123456789", "مریم کریمی", consent=True)
    terminal.flow.sale(member.id, 500_000)
    before = _counts(terminal)
    with pytest.raises(InsufficientBalance):
        terminal.flow.sale(member.id, 100_000, redeem_points=51)
    assert _counts(terminal) == before
    assert terminal.flow.balance(member.id) == 50


def test_redeem_and_earn_in_one_sale(terminal: Terminal) -> None:
    member = terminal.flow.enrol("09123456789", "حسین احمدی", consent=True)
    terminal.flow.sale(member.id, 2_000_000)
    result = terminal.flow.sale(member.id, 300_000, redeem_points=150)
    assert (result.points_redeemed, result.points_earned, result.balance) == (150, 30, 80)
    assert book.verify(terminal.conn) == []


@pytest.mark.parametrize("amount", [-1, 10**12, 1.5, True, "100"])
def test_absurd_amounts_are_refused_and_nothing_is_written(
    terminal: Terminal, amount: object
) -> None:
    member = terminal.flow.enrol("09123456789", "سارا حسینی", consent=True)
    before = _counts(terminal)
    with pytest.raises(InputError) as caught:
        terminal.flow.sale(member.id, amount)  # type: ignore[arg-type]
    assert caught.value.fa  # a Persian message for the cashier
    assert _counts(terminal) == before


def test_bad_mobile_or_duplicate_enrolment_writes_nothing(terminal: Terminal) -> None:
    terminal.flow.enrol("09123456789", "زهرا", consent=True)
    before = _counts(terminal)
    with pytest.raises(InvalidMobile):
        terminal.flow.enrol("02188776655", "تلفن ثابت", consent=True)
    with pytest.raises(InputError, match="already enrolled"):
        terminal.flow.enrol("+98 912 345 6789", "تکراری", consent=True)
    assert _counts(terminal) == before


def test_arabic_letters_in_names_are_stored_as_persian(terminal: Terminal) -> None:
    member = terminal.flow.enrol("09123456789", "مريم  كريمي", consent=True)
    assert member.name == "مریم کریمی"
    assert terminal.flow.identify(member.card_code).name == "مریم کریمی"


def test_sequence_stays_gap_free_after_a_refused_sale(terminal: Terminal) -> None:
    member = terminal.flow.enrol("09123456789", "زهرا", consent=True)
    terminal.flow.sale(member.id, 100_000)
    with pytest.raises(InsufficientBalance):
        terminal.flow.sale(member.id, 10_000_000, redeem_points=999)
    terminal.flow.sale(member.id, 100_000)
    seqs = [e.seq for e in outbox.pending(terminal.conn, terminal.vault, 10)]
    assert seqs == [1, 2, 3]


def test_receipt_prints_once_per_job(terminal: Terminal) -> None:
    member = terminal.flow.enrol("09123456789", "زهرا", consent=True)
    sale = terminal.flow.sale(member.id, 1_000_000)
    first = terminal.print_receipt(sale)
    again = terminal.print_receipt(sale)  # a retry after a replug
    assert first.printed and not again.printed
    assert first.escpos == again.escpos
    assert len(terminal.printer.jobs) == 1  # type: ignore[attr-defined]

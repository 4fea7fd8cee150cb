"""Referrals end to end: a friend's code at enrolment, both rewarded on the first purchase."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agent.errors import InputError
from agent.offline_queue.pull import pull
from cloud import referrals
from cloud.tables import grants, members, referral_rewards
from common.referral import normalise_code, referral_code


def test_codes_are_stable_and_typed_in_any_form() -> None:
    code = referral_code("a" * 32)
    assert code == referral_code("a" * 32) != referral_code("b" * 32)
    assert len(code) == 10 and code.startswith("R-")
    typed = " " + code.lower().replace("-", " ") + " "
    assert normalise_code(typed) == code
    assert normalise_code("R-OOOOOOOO") is None  # O is not in the alphabet
    assert normalise_code("hello") is None


def _grants(app) -> list[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    with app.extensions["vafa"].engine.connect() as conn:
        return sorted(
            (row.member_id, row.amount, row.reason) for row in conn.execute(sa.select(grants))
        )


def test_both_members_are_rewarded_once_on_the_first_purchase(enrolled) -> None:  # type: ignore[no-untyped-def]
    """GIVEN Maryam enrolled WHEN Ali enrols with her code and buys twice
    THEN both get 300 points once, booked by the store's terminal at its next pull."""
    terminal, client, app = enrolled
    maryam = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    client.drain(terminal.conn, terminal.vault)
    ali = terminal.flow.enrol(
        "09351234567", "علی رضایی", consent=True, referred_by=referral_code(maryam.id).lower()
    )
    client.drain(terminal.conn, terminal.vault)
    assert _grants(app) == []  # not before Ali's first purchase
    terminal.flow.sale(ali.id, 200_000)
    terminal.flow.sale(ali.id, 300_000)
    client.drain(terminal.conn, terminal.vault)
    assert _grants(app) == sorted([(maryam.id, 300, "referral"), (ali.id, 300, "referral")])
    maryam_before = terminal.flow.balance(maryam.id)
    assert pull(client, terminal.conn, terminal.vault).grants == 2
    assert terminal.flow.balance(maryam.id) == maryam_before + 300


def test_an_unknown_code_refers_nobody_and_a_malformed_one_is_refused(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = enrolled
    with pytest.raises(InputError) as bad:
        terminal.flow.enrol("09351234567", "علی", consent=True, referred_by="not-a-code")
    assert bad.value.fa == "کد معرف درست نیست"
    ali = terminal.flow.enrol("09351234567", "علی", consent=True, referred_by="R-ABCDEFGH")
    terminal.flow.sale(ali.id, 200_000)
    client.drain(terminal.conn, terminal.vault)
    with app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(members.c.referred_by)).scalars().all() == [None]
    assert _grants(app) == []


def test_a_referrer_is_rewarded_at_most_the_monthly_cap(enrolled, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = enrolled
    monkeypatch.setattr(referrals, "MONTHLY_CAP", 2)
    maryam = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    client.drain(terminal.conn, terminal.vault)
    code = referral_code(maryam.id)
    for n in range(3):
        friend = terminal.flow.enrol(f"0935123450{n}", f"دوست {n}", consent=True, referred_by=code)
        terminal.flow.sale(friend.id, 100_000)
        client.drain(terminal.conn, terminal.vault)
    with app.extensions["vafa"].engine.connect() as conn:
        outcomes = conn.execute(sa.select(referral_rewards.c.outcome)).scalars().all()
    assert sorted(outcomes) == ["capped", "rewarded", "rewarded"]
    mine = [g for g in _grants(app) if g[0] == maryam.id]
    assert len(mine) == 2

"""The till's member card announces a surprise gift; one press hands it over, once."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from agent.grants import apply_grant
from agent.ledger.db import write_transaction
from agent.rules import EarningRules
from common.persian import now_tehran
from tests.web.test_cashier_web import client, unlock  # noqa: F401 (the fixture)

NOTE = "یک شاخه گل به پاس همراهی شما"


def give_gift(terminal: Any, member_id: str, gift: bool = True) -> str:
    """Book a grant from the cloud as a pull would; return its id."""
    grant = {
        "grant_id": ("a" if gift else "b") * 32,
        "member_id": member_id,
        "kind": "points",
        "amount": 300,
        "reason": "scenario:surprise",
        "note": NOTE,
        "gift": gift,
    }
    with write_transaction(terminal.conn):
        apply_grant(terminal.conn, terminal.vault, grant, EarningRules(), now_tehran())
    return str(grant["grant_id"])


def test_the_card_shows_the_gift_and_one_press_hands_it_over_once(
    client: FlaskClient,  # noqa: F811
    terminal: Any,
) -> None:
    """GIVEN a member with a surprise gift WHEN the cashier opens the card THEN the note and
    its 300 points show; WHEN the button is pressed twice THEN one hand-over, one slip,
    and the card no longer shows the gift."""
    token = unlock(client)
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    grant_id = give_gift(terminal, member.id)
    page = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert NOTE in page and "هدیهٔ شگفتانه" in page and "۳۰۰ امتیاز هدیه" in page
    form = {"csrf": token, "member_id": member.id, "grant_id": grant_id}
    assert client.post("/cashier/gift", data={**form, "csrf": "forged"}).status_code == 400
    first = client.post("/cashier/gift", data=form)
    assert first.status_code == 200 and "هدیه تحویل شد" in first.get_data(as_text=True)
    assert NOTE not in first.get_data(as_text=True)
    second = client.post("/cashier/gift", data=form)
    assert second.status_code == 200
    count = terminal.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'gift.handed_over'"
    ).fetchone()[0]
    assert count == 1 and len(terminal.printer.jobs) == 1


def test_a_grant_that_is_no_gift_or_another_members_is_refused_in_persian(
    client: FlaskClient,  # noqa: F811
    terminal: Any,
) -> None:
    token = unlock(client)
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    other = terminal.flow.enrol("09351112233", "علی رضایی", consent=True)
    plain = give_gift(terminal, member.id, gift=False)
    gift = give_gift(terminal, member.id)
    for member_id, grant_id in ((member.id, plain), (other.id, gift)):
        reply = client.post(
            "/cashier/gift", data={"csrf": token, "member_id": member_id, "grant_id": grant_id}
        )
        assert reply.status_code == 400 and "هدیه پیدا نشد" in reply.get_data(as_text=True)
    assert (
        terminal.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'gift.handed_over'"
        ).fetchone()[0]
        == 0
    )


def test_a_gift_booked_by_another_till_of_the_store_is_handed_over_here(
    client: FlaskClient,  # noqa: F811
    terminal: Any,
) -> None:
    """GIVEN a gift booked by another till, listed by this till's pull WHEN the cashier
    opens the card and presses twice THEN it is handed over once, its slip printed once,
    and no points are booked here; WHEN the next pull no longer lists it THEN the record
    stays and the card stays clear."""
    from agent import gifts

    token = unlock(client)
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    listed = {"grant_id": "c" * 32, "member_id": member.id, "kind": "points", "amount": 300}
    with write_transaction(terminal.conn):
        gifts.replace_store_list(terminal.conn, [{**listed, "note": NOTE}], "2026-12-01T10:00")
    page = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert NOTE in page and "۳۰۰ امتیاز هدیه" in page
    form = {"csrf": token, "member_id": member.id, "grant_id": "c" * 32}
    first = client.post("/cashier/gift", data=form)
    assert first.status_code == 200 and "هدیه تحویل شد" in first.get_data(as_text=True)
    assert client.post("/cashier/gift", data=form).status_code == 200
    kinds = [row[0] for row in terminal.conn.execute("SELECT kind FROM outbox")]
    assert kinds.count("gift.handed_over") == 1 and "grant.applied" not in kinds
    assert len(terminal.printer.jobs) == 1 and terminal.flow.balance(member.id) == 0
    with write_transaction(terminal.conn):
        gifts.replace_store_list(terminal.conn, [], "2026-12-01T11:00")
    assert NOTE not in client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    held = terminal.conn.execute("SELECT handed_over_by FROM store_gifts").fetchall()
    assert len(held) == 1 and held[0][0]

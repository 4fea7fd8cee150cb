"""The cashier screen's guards in Flask's test client: PIN, CSRF, limits, nothing half-stored."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

PIN = "4821"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def client(terminal) -> FlaskClient:  # type: ignore[no-untyped-def]
    """Return a test client of the local app with one cashier PIN set."""
    from agent.web.app import create_app, set_owner_password
    from agent.web.cashier import set_cashier_pin

    set_cashier_pin(terminal, "مریم", PIN)
    set_owner_password(terminal, "مالک-امن-۱۴۰۵")
    return create_app(terminal, {"TESTING": True}).test_client()


def csrf(client: FlaskClient, path: str = "/cashier/pin") -> str:
    """Open a page and return the CSRF token it carries."""
    match = CSRF_FIELD.search(client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def unlock(client: FlaskClient) -> str:
    """Type the right PIN; return the session's CSRF token."""
    token = csrf(client)
    reply = client.post("/cashier/pin", data={"pin": PIN, "csrf": token})
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/cashier/")
    return token


def sales(terminal: Any) -> int:
    """Count the sales booked."""
    return int(terminal.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0])


@pytest.mark.parametrize("path", ["/cashier/", "/cashier/enrol", "/cashier/scans"])
def test_every_cashier_page_needs_the_pin(client: FlaskClient, path: str) -> None:
    """Without a PIN every cashier page sends the browser to the PIN screen."""
    reply = client.get(path)
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/cashier/pin")


def test_owner_login_is_not_a_cashier_pin_and_back(client: FlaskClient) -> None:
    """The owner's session opens no till, and a cashier's PIN opens no owner page."""
    token = csrf(client, "/login")
    owner = {"password": "مالک-امن-۱۴۰۵", "csrf": token}
    assert client.post("/login", data=owner).status_code == 302
    assert client.get("/cashier/").status_code == 302
    client.post("/logout", data={"csrf": token})
    unlock(client)
    assert client.get("/cashier/").status_code == 200
    assert client.get("/").headers["Location"].endswith("/login")


def test_pin_is_stored_hashed(terminal) -> None:  # type: ignore[no-untyped-def]
    """The PIN never sits in the database as typed."""
    from agent.web.cashier import cashier_for_pin, set_cashier_pin

    set_cashier_pin(terminal, "رضا", "۹۳۱۷۲")
    stored = terminal.conn.execute("SELECT value FROM settings WHERE key LIKE 'cashier_pin:%'")
    values = [row[0] for row in stored]
    assert values and all(v.startswith("scrypt$") and "93172" not in v for v in values)
    assert cashier_for_pin(terminal, "93172") == "رضا"
    assert cashier_for_pin(terminal, "93173") is None
    with pytest.raises(ValueError):
        set_cashier_pin(terminal, "رضا", "12a4")


def test_a_pin_storm_is_stopped(client: FlaskClient) -> None:
    """Five wrong PINs lock out the client; even the right PIN waits then."""
    token = csrf(client)
    for _ in range(5):
        assert client.post("/cashier/pin", data={"pin": "0000", "csrf": token}).status_code == 401
    assert client.post("/cashier/pin", data={"pin": PIN, "csrf": token}).status_code == 429
    assert client.get("/cashier/").status_code == 302


def test_sale_without_csrf_is_refused_and_stores_nothing(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """A forged sale (no CSRF token) is a 400 and books nothing."""
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    unlock(client)
    form = {"member_id": member.id, "amount": "100000", "redeem": "0"}
    assert client.post("/cashier/sale", data=form).status_code == 400
    assert client.post("/cashier/sale", data={**form, "csrf": "forged"}).status_code == 400
    assert sales(terminal) == 0 and not terminal.printer.jobs


@pytest.mark.parametrize("amount", ["-5", "abc", "", "1" * 14, "۱۲.۵"])
def test_bad_amount_shows_persian_and_stores_nothing(terminal, client, amount: str) -> None:  # type: ignore[no-untyped-def]
    """A wrong amount is refused in Persian on the member card; no sale, no print."""
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    token = unlock(client)
    form = {"member_id": member.id, "amount": amount, "redeem": "0", "csrf": token}
    reply = client.post("/cashier/sale", data=form)
    assert reply.status_code == 400
    assert "مبلغ خرید را با رقم وارد کنید" in reply.get_data(as_text=True)
    assert sales(terminal) == 0 and not terminal.printer.jobs


def test_toman_and_rial_screens_book_rials() -> None:
    """The same typed figure is Tomans on a Toman screen and Rials on a Rial one."""
    from agent.web.cashier import parse_amount

    assert parse_amount("۲۵۰٬۰۰۰", "toman") == 2_500_000
    assert parse_amount("250,000", "rial") == 250_000


def test_cli_adds_lists_and_removes_cashiers(agent_config, capsys) -> None:  # type: ignore[no-untyped-def]
    """vafa-agent cashier add|list|remove manage PINs in the data folder."""
    from agent.cli import main

    base = ["--data-dir", str(agent_config.data_dir), "cashier"]
    assert main([*base, "add", "--name", "سارا", "--pin", "5566"]) == 0
    assert main([*base, "add", "--name", "سارا", "--pin", "55"]) == 1
    assert main([*base, "list"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == {"cashiers": ["سارا"]}
    assert main([*base, "remove", "--name", "سارا"]) == 0
    assert main([*base, "remove", "--name", "سارا"]) == 1


def test_member_card_shows_what_the_offline_cap_leaves(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """Points redeemed but not yet confirmed by the cloud shrink the cap the card shows."""
    from dataclasses import replace

    from common.persian import group_thousands

    terminal.flow.rules = replace(terminal.flow.rules, offline_redeem_cap=300)
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    terminal.flow.sale(member.id, 10_000_000)  # earns 1,000 points
    token = unlock(client)
    page = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert f"سقف {group_thousands(300)}" in page
    form = {"member_id": member.id, "amount": "100000", "redeem": "120", "csrf": token}
    assert client.post("/cashier/sale", data=form).status_code == 200
    page = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert f"سقف {group_thousands(180)}" in page
    form["redeem"] = "181"
    refused = client.post("/cashier/sale", data=form)
    assert refused.status_code == 400
    assert "سقف خرج امتیاز بدون اتصال به سرور پر شده است" in refused.get_data(as_text=True)


def test_drawer_button_kicks_the_drawer(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """The drawer button sends ESC p to the printer's kick port, and only with CSRF."""
    token = unlock(client)
    assert client.post("/cashier/drawer").status_code == 400
    assert not terminal.printer.jobs
    assert client.post("/cashier/drawer", data={"csrf": token}).status_code == 302
    assert [job[:2] for job in terminal.printer.jobs] == [b"\x1bp"]


def test_void_needs_a_sale_made_on_this_screen(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """With no sale on this screen the void button refuses in Persian and touches nothing."""
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    terminal.flow.sale(member.id, 1_000_000)
    token = unlock(client)
    reply = client.post("/cashier/refund", data={"csrf": token})
    assert reply.status_code == 400
    assert "خریدی برای برگشت نیست." in reply.get_data(as_text=True)
    assert not terminal.conn.execute(
        "SELECT COUNT(*) FROM sales WHERE refunded_at IS NOT NULL"
    ).fetchone()[0]


def test_a_waiting_coupon_shows_and_can_be_used(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """A gift coupon from HQ shows on the card with its Jalali expiry and comes off the sale."""
    import datetime as dt

    from common.persian import jalali_date, now_tehran

    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    expires = now_tehran() + dt.timedelta(days=10)
    terminal.conn.execute(
        "INSERT INTO coupons (code, member_id, value_rial, min_purchase_rial, expires_at)"
        " VALUES ('GIFT-77', ?, 500000, 1000000, ?)",
        (member.id, expires.isoformat()),
    )
    token = unlock(client)
    card = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert "هدیه منتظر: کوپن ۵۰٬۰۰۰ تومان" in card
    assert f"تا {jalali_date(expires)}" in card
    form = {"member_id": member.id, "amount": "200000", "coupon": "GIFT-77", "csrf": token}
    done = client.post("/cashier/sale", data=form)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert 'تخفیف کوپن: <b id="coupon">۵۰٬۰۰۰ تومان' in done.get_data(as_text=True)
    used = terminal.conn.execute("SELECT used_sale_id FROM coupons").fetchone()[0]
    assert used
    assert "هدیه منتظر" not in client.get(f"/cashier/member/{member.id}").get_data(as_text=True)


def test_the_card_offers_what_hq_suggests(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """GIVEN HQ's analytics suggested two categories for a member THEN their card offers
    them; a member without suggestions shows no offer line."""
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    other = terminal.flow.enrol("09125554434", "نگار", True)
    terminal.conn.execute(
        "UPDATE members SET suggestions = ? WHERE id = ?", ('["لبنیات", "نان"]', member.id)
    )
    unlock(client)
    page = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert "پیشنهاد به مشتری: لبنیات، نان" in page
    assert 'id="offer"' not in client.get(f"/cashier/member/{other.id}").get_data(as_text=True)


def test_credit_is_spent_at_the_till_within_the_member_credit(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a member with 300,000 Rials of credit from HQ THEN the card offers it with its
    cap; spending 20,000 Toman of it books the sale with the credit used and shown; more
    than they have is refused in Persian and books nothing; letters are refused too."""
    from agent.grants import apply_grant
    from agent.ledger.db import write_transaction
    from common.persian import now_tehran

    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    grant = {"grant_id": "g" * 32, "member_id": member.id, "kind": "credit", "amount": 300_000}
    with write_transaction(terminal.conn):
        apply_grant(terminal.conn, terminal.vault, grant, terminal.flow.rules, now_tehran())
    token = unlock(client)
    card = client.get(f"/cashier/member/{member.id}").get_data(as_text=True)
    assert 'id="credit"' in card and "خرج اعتبار (سقف ۳۰٬۰۰۰ تومان)" in card
    form = {"csrf": token, "member_id": member.id, "amount": "100000", "redeem": "0"}
    too_much = client.post("/cashier/sale", data={**form, "credit": "۴۰۰۰۰"})
    assert too_much.status_code == 400 and sales(terminal) == 0
    letters = client.post("/cashier/sale", data={**form, "credit": "بیست"})
    assert "اعتبار را با رقم وارد کنید" in letters.get_data(as_text=True)
    assert sales(terminal) == 0
    done = client.post("/cashier/sale", data={**form, "credit": "۲۰۰۰۰"}).get_data(as_text=True)
    assert sales(terminal) == 1 and terminal.flow.credit(member.id) == 100_000
    assert 'از اعتبار: <b id="credit-used">۲۰٬۰۰۰ تومان</b>، مانده اعتبار ۱۰٬۰۰۰ تومان' in done


def test_only_the_pos_softwares_recent_sales_open_on_the_till(terminal, client) -> None:  # type: ignore[no-untyped-def]
    """A sale made earlier at the till is not opened (nor made voidable) by typing its id
    into the POS-sale address; a sale the POS API just booked is."""
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    old = terminal.flow.sale(member.id, 1_000_000)
    unlock(client)
    assert client.get(f"/cashier/pos-sale/{old.sale_id}").status_code == 404
    feed = client.application.extensions["vafa_pos_sales"]
    feed.push(old.sale_id)  # as the POS API does after booking
    shown = client.get(f"/cashier/pos-sale/{old.sale_id}")
    assert shown.status_code == 200 and "خرید ثبت شد" in shown.get_data(as_text=True)

"""A sale the store's POS software books through the local API shows on the till live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_owner_pages import LAYOUT_PROBLEMS
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PIN = "4821"
MOBILE = "09125554433"


@pytest.fixture
def till(terminal) -> Iterator[tuple[str, dict[str, str], Any]]:  # type: ignore[no-untyped-def]
    """Yield the local app's URL, the POS token header and the terminal."""
    from agent.web.app import create_app
    from agent.web.cashier import set_cashier_pin
    from agent.web.pos_api import TOKEN_FILE

    set_cashier_pin(terminal, "مریم", PIN)
    terminal.flow.enrol(MOBILE, "علی محمدی", True)
    app = create_app(terminal)
    token = (terminal.config.data_dir / TOKEN_FILE).read_text().strip()
    with live_server(app) as base_url:
        yield base_url, {"Authorization": f"Bearer {token}"}, terminal


def _pos_sale(base_url: str, auth: dict[str, str], amount: int) -> dict[str, Any]:
    reply = httpx.post(
        base_url + "/pos/v1/sales",
        json={"member": MOBILE, "amount_rial": amount},
        headers=auth,
    )
    assert reply.status_code == 201
    sold: dict[str, Any] = reply.json()
    return sold


def test_a_pos_sale_appears_on_the_till_and_can_be_voided_there(
    till: tuple[str, dict[str, str], Any], page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN the cashier on the identify screen WHEN the POS software books a sale THEN the
    till shows it (receipt number, member, points) without a touch, and the cashier can
    void it there; GIVEN the cashier mid-way on a member's card THEN a banner offers the
    next POS sale instead of jumping away."""
    base_url, auth, terminal = till
    page.goto(base_url + "/cashier/pin")
    page.locator("#pin").fill(PIN)
    page.locator("#pin").press("Enter")
    expect(page.locator("#identify")).to_be_visible()

    sold = _pos_sale(base_url, auth, 1_500_000)
    expect(page).to_have_url(f"{base_url}/cashier/pos-sale/{sold['sale_id']}", timeout=5000)
    expect(page.locator(".done h2")).to_have_text("خرید ثبت شد — رسید ۱")
    expect(page.locator("#earned")).to_have_text("۱۵۰")
    assert "علی محمدی" in page.inner_text(".done")
    page.wait_for_load_state("load")
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    shot("pos-sale-shown")
    page.click("button:has-text('برگشت این خرید')")
    expect(page.locator(".done h2")).to_have_text("خرید برگشت خورد")
    refunded = terminal.conn.execute(
        "SELECT refunded_at FROM sales WHERE id = ?", (sold["sale_id"],)
    ).fetchone()[0]
    assert refunded

    page.click("text=مشتری بعدی")
    page.locator("#identify input[name=code]").fill(MOBILE)
    page.locator("#identify input[name=code]").press("Enter")
    expect(page.locator(".member")).to_be_visible()
    page.locator("input[name=amount]").fill("12345")  # the cashier is typing
    second = _pos_sale(base_url, auth, 700_000)
    expect(page.locator("#pos-banner")).to_be_visible(timeout=5000)
    assert page.locator("input[name=amount]").input_value() == "12345"
    shot("pos-sale-banner")
    page.click("#pos-banner a")
    expect(page).to_have_url(f"{base_url}/cashier/pos-sale/{second['sale_id']}")

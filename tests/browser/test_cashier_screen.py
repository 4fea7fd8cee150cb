"""The cashier's touch screen in Debian's Chromium: PIN, scan, sale, redeem, refund, enrol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from common.persian import group_thousands
from tests.browser.navigation import click_and_load
from tests.browser.test_owner_pages import LAYOUT_PROBLEMS, SIZES
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PIN = "4821"
# Buttons and fields a thumb must hit: at least this many CSS pixels high.
SMALL_TARGETS = """(min) => [...document.querySelectorAll('main button, main .button, main input')]
  .filter(el => el.type !== 'hidden' && el.type !== 'checkbox' && el.offsetParent !== null)
  .filter(el => el.getBoundingClientRect().height < min)
  .map(el => `${el.tagName} ${el.textContent.trim() || el.name} ${el.offsetHeight}px`)"""


@dataclass
class Till:
    """The cashier screen on loopback, its terminal and its scanner feed."""

    base_url: str
    terminal: Any
    scans: Any


@pytest.fixture
def till(terminal) -> Iterator[Till]:  # type: ignore[no-untyped-def]
    """Yield the cashier screen with one cashier PIN set and one member enrolled."""
    from agent.web.app import create_app
    from agent.web.cashier import ScanFeed, set_cashier_pin

    set_cashier_pin(terminal, "مریم", PIN)
    terminal.flow.enrol("09125554433", "علی محمدی", True)
    scans = ScanFeed()
    with live_server(create_app(terminal, scans=scans)) as base_url:
        yield Till(base_url, terminal, scans)


def check_screen(page: Page, shot: Callable[[str], Path], name: str, size: str) -> None:
    """Assert nothing is clipped, targets are large, and screenshot the step."""
    page.wait_for_load_state("load")  # measure with the style sheets applied
    assert page.evaluate(LAYOUT_PROBLEMS) == [], f"{name} at {size}"
    assert page.evaluate(SMALL_TARGETS, 44) == [], f"{name} at {size}"
    assert shot(f"{size}-{name}").stat().st_size > 0


def queue_depth(terminal: Any) -> int:
    """Return the outbox depth the banner should show."""
    from agent.offline_queue import outbox

    return int(outbox.depth(terminal.conn))


@pytest.mark.parametrize("size", list(SIZES))
def test_whole_cashier_flow_by_keyboard_and_scanner(
    till: Till, page: Page, shot: Callable[[str], Path], size: str
) -> None:
    """GIVEN a cashier at the till WHEN they sell, redeem, refund and enrol THEN each step shows."""
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    terminal = till.terminal

    # PIN first: anything else sends the cashier to it; a wrong PIN is refused in Persian.
    page.goto(till.base_url + "/cashier/")
    assert page.url.endswith("/cashier/pin")
    assert page.get_attribute("html", "dir") == "rtl"
    expect(page.locator("#pin")).to_be_focused()
    page.keyboard.type("1111")
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_have_text("رمز صندوق‌دار درست نیست.")
    check_screen(page, shot, "pin-wrong", size)
    page.fill("#pin", "۴۸۲۱")  # Persian digits from a Persian keyboard work too
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_have_text("صندوق‌دار: مریم")

    # The offline banner shows the queue depth (the enrolment waits to be sent).
    expect(page.locator("#queue-depth")).to_have_text(group_thousands(queue_depth(terminal)))
    check_screen(page, shot, "identify", size)

    # Identify by a mobile typed in another form, with the keyboard alone.
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type("+98 912-555-4433")
    page.keyboard.press("Enter")
    expect(page.locator(".member .name")).to_contain_text("علی محمدی")
    expect(page.locator("#balance")).to_have_text("۰")
    check_screen(page, shot, "member", size)

    # Amount in Toman (the default), Enter: the sale is booked, printed, drawer kicked.
    expect(page.locator("#amount")).to_be_focused()
    page.keyboard.type("۲۵۰٬۰۰۰")
    page.keyboard.press("Enter")
    expect(page.locator(".done h2")).to_contain_text("خرید ثبت شد")
    sale = terminal.conn.execute("SELECT * FROM sales ORDER BY receipt_no DESC").fetchone()
    assert sale["amount_rial"] == 2_500_000
    assert sale["points_earned"] > 0
    expect(page.locator("#earned")).to_have_text(group_thousands(sale["points_earned"]))
    assert len(terminal.printer.jobs) == 1
    assert b"\x1bp" in terminal.printer.jobs[0]  # the drawer kick rides with the receipt
    expect(page.locator("#queue-depth")).to_have_text(group_thousands(queue_depth(terminal)))
    check_screen(page, shot, "sale-done", size)

    # The next customer is scanned: the scan reaches the page by itself.
    page.click("text=مشتری بعدی")
    card = terminal.flow.identify("09125554433").card_code
    till.scans.push(card)
    expect(page.locator(".member .name")).to_contain_text("علی محمدی", timeout=5000)
    earned = sale["points_earned"]
    expect(page.locator("#balance")).to_have_text(group_thousands(earned))
    expect(page.locator("label[for=redeem]")).to_contain_text(group_thousands(min(earned, 2000)))

    # Redeem more than the cap allows: refused in Persian, nothing stored.
    page.fill("#amount", "100000")
    page.fill("#redeem", str(earned + 1))
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_have_text("امتیاز کافی نیست")
    assert page.input_value("#amount") == "100000"  # what was typed stays for the fix
    check_screen(page, shot, "redeem-refused", size)
    assert terminal.conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] == 1

    # Redeem what is there.
    page.fill("#amount", "100000")
    page.fill("#redeem", "5")
    page.keyboard.press("Enter")
    expect(page.locator("#redeemed")).to_have_text("۵")
    check_screen(page, shot, "redeem-done", size)

    # Void that sale: the points come back.
    balance_before = terminal.flow.balance(terminal.flow.identify(card).id)
    page.click("button:has-text('برگشت این خرید')")
    expect(page.locator(".done h2")).to_have_text("خرید برگشت خورد")
    last = terminal.conn.execute("SELECT * FROM sales ORDER BY receipt_no DESC").fetchone()
    assert last["refunded_at"]
    balance_after = terminal.flow.balance(terminal.flow.identify(card).id)
    assert balance_after == balance_before - last["points_earned"] + 5
    expect(page.locator("#balance")).to_have_text(group_thousands(balance_after))
    check_screen(page, shot, "refund-done", size)

    # Enrol a newcomer whose mobile was typed first.
    page.click("text=مشتری بعدی")
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type("09351112233")
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_be_visible()
    click_and_load(page, "text=عضو جدید")
    assert page.input_value("#mobile") == "09351112233"
    page.fill("#name", "ندا حسينی")  # an Arabic yeh, as some keyboards type it
    page.fill("#birthday", "۰۷-۱۵")
    page.check("input[name=consent]")
    check_screen(page, shot, "enrol", size)
    page.click("button:has-text('عضویت')")
    expect(page.locator(".member .name")).to_contain_text("ندا حسینی")
    neda = terminal.flow.identify("09351112233")
    assert neda.birthday == (7, 15) and neda.marketing_consent
    check_screen(page, shot, "enrolled", size)


def test_bad_enrolment_stores_nothing(till: Till, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN a wrong mobile WHEN the cashier enrols THEN a Persian error shows, no member stored."""
    terminal = till.terminal
    page.goto(till.base_url + "/cashier/pin")
    page.fill("#pin", PIN)
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_be_visible()
    page.goto(till.base_url + "/cashier/enrol")
    before = terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    depth = queue_depth(terminal)
    page.fill("#mobile", "0912")
    page.fill("#name", "کسی")
    page.click("button:has-text('عضویت')")
    expect(page.locator(".error")).to_be_visible()
    assert page.input_value("#name") == "کسی"  # what was typed stays for the fix
    assert terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0] == before
    assert queue_depth(terminal) == depth
    check_screen(page, shot, "enrol-refused", "1024x600")

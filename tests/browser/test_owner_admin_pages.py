"""The store owner's new pages in Debian's Chromium over real HTTP: seven days, sales,
member search, end-of-day report, devices, sync, settings and cashier PINs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from agent import reports
from common.persian import TEHRAN, format_money, group_thousands, jalali_date
from tests.browser.navigation import click_and_load
from tests.browser.test_owner_pages import LAYOUT_PROBLEMS, PASSWORD, log_in
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

SIZES = {"1280x800": (1280, 800), "800x480": (800, 480)}
ASCII_DIGIT = re.compile(r"[0-9]")


@dataclass
class Shop:
    """The owner's pages on loopback over a week of trade."""

    base_url: str
    terminal: Any
    today: dt.date
    ali: Any
    refunded_receipt: int


@pytest.fixture
def shop(terminal) -> Iterator[Shop]:  # type: ignore[no-untyped-def]
    """Yield the owner's pages after three days of trade: 30 sales today, one refunded."""
    from agent.web.app import create_app, set_owner_password
    from agent.web.cashier import set_cashier_pin

    set_owner_password(terminal, PASSWORD)
    set_cashier_pin(terminal, "مریم", "4821")
    flow = terminal.flow
    today = reports.today()

    def at(days_ago: int, hour: int) -> Callable[[], dt.datetime]:
        day = today - dt.timedelta(days=days_ago)
        return lambda: dt.datetime.combine(day, dt.time(hour), TEHRAN)

    flow.clock = at(2, 11)
    ali = flow.enrol("0912 555 4433", "علی محمدی", True, gender="m", province="تهران")
    flow.sale(ali.id, 4_250_000)
    flow.clock = at(1, 18)
    neda = flow.enrol("09351112233", "ندا حسینی", True)
    flow.sale(neda.id, 18_900_000)
    flow.clock = at(0, 9)
    results = [flow.sale(ali.id, 1_000_000 + 10_000 * n) for n in range(30)]
    terminal.print_receipt(results[3], kick_drawer=False)
    flow.refund(results[3].sale_id)
    flow.sale(ali.id, 500_000, redeem_points=100)
    with live_server(create_app(terminal)) as base_url:
        yield Shop(base_url, terminal, today, ali, results[3].receipt_no)


def check(page: Page, shot: Callable[[str], Path], name: str, digits: bool = True) -> None:
    """At both sizes: nothing clipped or overlapping, RTL, Persian digits; screenshot."""
    assert page.get_attribute("html", "dir") == "rtl"
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_load_state("load")
        assert page.evaluate(LAYOUT_PROBLEMS) == [], f"{name} at {label}"
        if digits:
            assert not ASCII_DIGIT.search(page.locator("main").inner_text()), name
        assert shot(f"{name}-{label}").stat().st_size > 0


def test_seven_days_next_to_today(shop: Shop, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN three days of trade WHEN the owner opens هفت روز THEN today's cards and one row
    per Jalali day, newest first, show sales, joins and points in Persian."""
    log_in(page, shop.base_url)
    click_and_load(page, "nav.owner-nav >> text=هفت روز")
    assert page.url == shop.base_url + "/owner/week"
    week = reports.week(shop.terminal.conn, shop.today)
    assert page.locator("#today-sales").inner_text() == group_thousands(week[0].sales) == "۳۱"
    assert page.locator("#today-revenue").inner_text() == format_money(week[0].revenue_rial)
    rows = page.locator("#week tbody tr")
    assert rows.count() == 7
    for index, day in enumerate(week):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[0].endswith(jalali_date(day.day))
        assert cells[1:4] == [
            group_thousands(day.sales),
            format_money(day.revenue_rial),
            group_thousands(day.members_joined),
        ]
    assert rows.nth(2).locator("td").nth(3).inner_text() == "۱"  # علی joined two days ago
    total = page.locator("#week tfoot td").all_inner_texts()
    assert total[1] == group_thousands(sum(d.sales for d in week)) == "۳۳"
    check(page, shot, "week")


def test_sales_list_pages_filters_and_marks_refunds(
    shop: Shop, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN 33 sales WHEN the owner pages and filters by day THEN 25 a page, the refunded
    sale struck through and marked, and a day's filter shows only that day."""
    log_in(page, shop.base_url)
    page.goto(shop.base_url + "/owner/sales")
    assert page.locator("#sales tbody tr").count() == 25
    expect(page.locator("#pager")).to_contain_text("صفحهٔ ۱ از ۲ — ۳۳ فروش")
    check(page, shot, "sales")
    click_and_load(page, "#pager a[rel=next]")
    assert page.locator("#sales tbody tr").count() == 8
    refunded = page.locator("#sales tbody tr.refunded")
    assert refunded.count() == 1
    cells = refunded.locator("td").all_inner_texts()
    assert cells[0] == group_thousands(shop.refunded_receipt)
    assert cells[5].startswith("برگشت خورده")
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('tr.refunded td')).textDecorationLine"
        )
        == "line-through"
    )
    yesterday = jalali_date(shop.today - dt.timedelta(days=1))
    page.fill("#day", yesterday)
    click_and_load(page, ".filters button[type=submit]")
    assert page.locator("#sales tbody tr").count() == 1
    assert page.locator("#sales tbody td").nth(2).inner_text() == format_money(18_900_000)
    expect(page.locator("main h2")).to_have_text(f"فروش‌های {yesterday}")
    check(page, shot, "sales-one-day")
    page.fill("#day", "۱۴۰۵/۱۳/۴۰")
    page.click(".filters button[type=submit]")
    expect(page.locator(".error")).to_have_text("تاریخ را به شکل ۱۴۰۵/۰۹/۱۰ وارد کنید")


def test_member_search_by_persian_mobile_and_by_card(
    shop: Shop, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN a member WHEN the owner types the mobile in Persian digits with spaces, or the
    card code THEN the masked mobile, tier, balance and last visits show."""
    log_in(page, shop.base_url)
    page.goto(shop.base_url + "/owner/members")
    page.fill("#q", "+۹۸ ۹۱۲ ۵۵۵ ۴۴۳۳")
    page.keyboard.press("Enter")
    expect(page.locator("#m-name")).to_have_text("علی محمدی")
    assert page.locator("#m-mobile").inner_text() == "۰۹۱۲***۴۴۳۳"
    balance = shop.terminal.flow.balance(shop.ali.id)
    assert page.locator("#m-balance").inner_text() == group_thousands(balance)
    assert page.locator("#visits tbody tr").count() == 10
    assert "4433" not in page.content() and "5554433" not in page.content()
    check(page, shot, "member")
    page.fill("#q", shop.ali.card_code)
    page.keyboard.press("Enter")
    expect(page.locator("#m-name")).to_have_text("علی محمدی")
    page.fill("#q", "09190000000")
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_have_text("عضوی پیدا نشد.")
    check(page, shot, "member-not-found")


def test_end_of_day_report_prints_without_the_page_chrome(
    shop: Shop, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN today's trade WHEN the owner opens the report THEN totals match the ledger; in
    print media the header, menu and date picker are hidden; yesterday is one click away."""
    log_in(page, shop.base_url)
    page.goto(shop.base_url + "/owner/report")
    totals = reports.day_totals(shop.terminal.conn, shop.today)
    assert page.locator("#r-sales").inner_text() == "۳۱"
    assert page.locator("#r-net").inner_text() == format_money(totals.net_rial)
    assert page.locator("#r-refunds").inner_text() == "۱"
    assert page.locator("#r-refunded").inner_text() == format_money(totals.refunded_rial)
    assert page.locator("#report-sales tbody tr").count() == 31
    check(page, shot, "report")
    page.emulate_media(media="print")
    assert not page.locator("header").is_visible()
    assert not page.locator("nav.owner-nav").is_visible()
    assert not page.locator("form.filters").is_visible()
    assert page.locator("#report-title").is_visible()
    page.set_viewport_size({"width": 800, "height": 480})
    shot("report-print")
    page.emulate_media(media="screen")
    page.click("a[rel=prev]")
    yesterday = jalali_date(shop.today - dt.timedelta(days=1))
    expect(page.locator("#report-title")).to_contain_text(yesterday)
    assert page.locator("#r-sales").inner_text() == "۱"
    assert page.locator("#r-joined").inner_text() == "۱"


def test_devices_and_sync_pages(shop: Shop, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN a terminal never enrolled with HQ WHEN the owner opens دستگاه‌ها and همگام‌سازی
    THEN the printer's state and model, and the queue with «هرگز» for the last sync show."""
    log_in(page, shop.base_url)
    page.click("nav.owner-nav >> text=دستگاه‌ها")
    expect(page.locator("#printer-state")).to_be_visible()
    assert page.locator("#printer-model").inner_text().startswith("Xprinter")
    assert page.locator("#drawer-state").inner_text() in {
        "کشوی پول باز است",
        "کشوی پول بسته است",
        "وضعیت کشو نامعلوم است",
    }
    check(page, shot, "devices", digits=False)
    click_and_load(page, "nav.owner-nav >> text=همگام‌سازی")
    from agent.offline_queue import outbox

    depth = outbox.depth(shop.terminal.conn)
    assert page.locator("#depth").inner_text() == group_thousands(depth)
    assert page.locator("#last-push").inner_text() == "هرگز"
    expect(page.locator("#not-enrolled")).to_be_visible()
    check(page, shot, "sync")


def test_settings_switch_to_rial(shop: Shop, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN Toman WHEN the owner picks ریال and a longer drawer pulse THEN it is saved and
    the pages show Rial at once."""
    log_in(page, shop.base_url)
    page.goto(shop.base_url + "/owner/settings")
    assert page.input_value("#money_unit") == "toman"
    assert page.input_value("#drawer_on_ms") == group_thousands(
        shop.terminal.printer_profile.drawer_on_ms
    )
    check(page, shot, "settings", digits=False)
    page.select_option("#money_unit", "rial")
    page.fill("#drawer_on_ms", "۱۲۰")
    page.click("#settings button[type=submit]")
    expect(page.locator("#saved")).to_have_text("تنظیمات ذخیره شد.")
    assert shop.terminal.printer_profile.drawer_on_ms == 120
    page.fill("#drawer_off_ms", "۹۰۰۰")
    page.click("#settings button[type=submit]")
    expect(page.locator(".error")).to_contain_text("زمان پالس کشو")
    check(page, shot, "settings-refused", digits=False)
    page.goto(shop.base_url + "/")
    expect(page.locator("#revenue")).to_have_text(
        format_money(reports.day_totals(shop.terminal.conn, shop.today).revenue_rial, "rial")
    )
    assert page.locator("#revenue").inner_text().endswith("ریال")


def test_cashier_pins_page(shop: Shop, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN one cashier WHEN the owner adds سارا, renames her and disables مریم THEN the
    list shows it, and مریم's PIN no longer opens the till."""
    log_in(page, shop.base_url)
    page.goto(shop.base_url + "/owner/cashiers")
    check(page, shot, "cashiers")
    page.fill("#name", "سارا")
    page.fill("#pin", "۱۳۵۷")
    page.click("#add-cashier button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    row = page.locator("#cashiers tr[data-name='سارا']")
    row.locator("input[name=new_name]").fill("سارا کریمی")
    row.locator("form.rename button").click()
    expect(page.locator("#cashiers tr[data-name='سارا کریمی'] td.name")).to_be_visible()
    page.fill("#name", "علی")
    page.fill("#pin", "1357")  # سارا's PIN
    page.click("#add-cashier button[type=submit]")
    expect(page.locator(".error")).to_have_text("این رمز مال صندوق‌دار دیگری است")
    check(page, shot, "cashiers-after")
    browser = page.context.browser
    assert browser is not None
    counter = browser.new_context(locale="fa-IR", timezone_id="Asia/Tehran")
    till = counter.new_page()  # مریم is signed in at the till when she is disabled
    till.goto(shop.base_url + "/cashier/pin")
    till.fill("#pin", "4821")
    till.keyboard.press("Enter")
    expect(till.locator(".who")).to_contain_text("مریم")
    page.locator("#cashiers tr[data-name='مریم'] form.toggle button").click()
    expect(page.locator("#cashiers tr[data-name='مریم'] td").nth(1)).to_have_text("غیرفعال")
    till.goto(shop.base_url + "/cashier/")
    assert till.url.endswith("/cashier/pin")  # locked at her next step
    counter.close()
    page.goto(shop.base_url + "/cashier/pin")
    page.fill("#pin", "4821")
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_have_text("رمز صندوق‌دار درست نیست.")
    page.fill("#pin", "1357")
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_contain_text("سارا کریمی")

"""The store owner's page on the terminal, in Debian's Chromium over real HTTP."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from common.persian import (
    PERSIAN_THOUSANDS,
    format_money,
    group_thousands,
    jalali_date,
    now_tehran,
)
from tests.browser.navigation import click_and_load
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PASSWORD = "مالک-فروشگاه-۱۲"
SIZES = {"1024x600": (1024, 600), "800x480": (800, 480)}
ASCII_DIGIT = re.compile(r"[0-9]")
JALALI_DATETIME = re.compile(r"^[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2} [۰-۹]{2}:[۰-۹]{2}$")

# Everything a person would call "broken layout", measured in the page itself.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const text = (el) => el.textContent.trim();
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    problems.push(`page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth}`);
  const boxes = 'h1, h2, label, button, input, .card .label, .card .value, th, td, .error';
  for (const el of document.querySelectorAll(boxes)) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline')
      problems.push(`clipped: ${el.tagName}.${el.className} "${text(el)}"`);
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > root.clientWidth + 1)
      problems.push(`off screen: ${el.tagName} "${text(el)}"`);
  }
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
                          && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const groups = [[...document.querySelectorAll('.card')],
                  [...document.querySelectorAll('header > *')]];
  for (const group of groups)
    for (let i = 0; i < group.length; i++)
      for (let j = i + 1; j < group.length; j++)
        if (overlap(group[i].getBoundingClientRect(), group[j].getBoundingClientRect()))
          problems.push(`overlap: "${text(group[i])}" / "${text(group[j])}"`);
  return problems;
}"""


@dataclass(frozen=True)
class Store:
    """The owner page on loopback and what today's trade should show on it."""

    base_url: str
    joined: int
    amounts_rial: tuple[int, ...]  # newest first, as the recent table lists them
    receipt_nos: tuple[int, ...]
    issued: int
    redeemed: int
    queue: int


@pytest.fixture
def store(terminal) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    """Yield the owner page on loopback after two members joined and bought three times."""
    from agent.offline_queue import outbox
    from agent.web.app import create_app, set_owner_password

    set_owner_password(terminal, PASSWORD)
    flow = terminal.flow
    ali = flow.enrol("0912 555 4433", "علی محمدی", True)
    neda = flow.enrol("09351112233", "ندا حسینی", True)
    results = [
        flow.sale(ali.id, 4_250_000),
        flow.sale(neda.id, 18_900_000),
        flow.sale(ali.id, 1_234_560, redeem_points=200),
    ]
    with live_server(create_app(terminal)) as base_url:
        yield Store(
            base_url=base_url,
            joined=2,
            amounts_rial=tuple(r.amount_rial for r in reversed(results)),
            receipt_nos=tuple(r.receipt_no for r in reversed(results)),
            issued=sum(r.points_earned for r in results),
            redeemed=sum(r.points_redeemed for r in results),
            queue=outbox.depth(terminal.conn),
        )


def log_in(page: Page, base_url: str, password: str = PASSWORD) -> None:
    """Fill the owner's login form, submit it and wait for the next page to load."""
    page.goto(base_url + "/login")
    page.fill("input[name=password]", password)
    click_and_load(page, "form.login button[type=submit]")


def screens(page: Page, shot: Callable[[str], Path], name: str) -> None:
    """Screenshot the page at each size and assert nothing is clipped or overlapping."""
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(LAYOUT_PROBLEMS) == [], f"{name} at {label}"
        assert shot(f"{name}-{label}").stat().st_size > 0


def test_login_page_reads_right_to_left(
    store: Store, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN the owner's login page WHEN Chromium opens it THEN it is Persian and right to left."""
    page.goto(store.base_url + "/login")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert page.locator("h2").inner_text() == "ورود مالک فروشگاه"
    assert page.locator("input[name=username]").count() == 0  # a password is all it asks
    assert page.locator("header").count() == 0
    screens(page, shot, "login")


def test_wrong_password_shows_persian_error(
    store: Store, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN a wrong password WHEN the owner signs in THEN a Persian error shows, no dashboard."""
    log_in(page, store.base_url, password="wrong-password")
    assert page.url == store.base_url + "/login"
    assert page.locator(".error[role=alert]").inner_text() == "گذرواژه درست نیست."
    assert page.locator("#recent").count() == 0
    screens(page, shot, "wrong-password")


def test_dashboard_shows_today_in_persian(
    store: Store, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN three sales today WHEN the owner signs in THEN the cards show them in Persian."""
    log_in(page, store.base_url)
    assert page.url == store.base_url + "/"
    assert page.locator("header h1").inner_text() == "فروشگاه آزمایشی — صفحه مالک"
    expected = {
        "sales": group_thousands(len(store.amounts_rial)),
        "revenue": format_money(sum(store.amounts_rial)),
        "joined": group_thousands(store.joined),
        "issued": group_thousands(store.issued),
        "redeemed": group_thousands(store.redeemed),
        "queue": group_thousands(store.queue),
    }
    shown = {key: page.locator(f"#{key}").inner_text() for key in expected}
    assert shown == expected
    assert shown["revenue"] == f"۲{PERSIAN_THOUSANDS}۴۳۸{PERSIAN_THOUSANDS}۴۵۶ تومان"
    assert store.queue >= 5  # two enrolments and three sales wait for the cloud
    assert not ASCII_DIGIT.search(page.locator("main").inner_text())
    heading = page.locator("main h2").first.inner_text()
    assert heading in {
        f"امروز، {jalali_date(now_tehran() - dt.timedelta(minutes=m))}" for m in (0, 5)
    }
    screens(page, shot, "dashboard")


def test_recent_sales_in_jalali_and_toman(
    store: Store, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN three sales WHEN the owner looks at recent sales THEN each row reads in Persian."""
    log_in(page, store.base_url)
    rows = page.locator("#recent tbody tr")
    assert rows.count() == len(store.amounts_rial)
    today = {jalali_date(now_tehran()), jalali_date(now_tehran() - dt.timedelta(minutes=5))}
    for index, amount in enumerate(store.amounts_rial):
        receipt, when, money, _earned, _spent = rows.nth(index).locator("td").all_inner_texts()
        assert receipt == group_thousands(store.receipt_nos[index])
        assert JALALI_DATETIME.match(when), when
        assert when.split(" ")[0] in today
        assert money == format_money(amount)
    assert rows.first.locator("td").nth(4).inner_text() == "۲۰۰"
    headers = page.locator("#recent thead th")
    first, last = headers.first.bounding_box(), headers.last.bounding_box()
    assert first is not None and last is not None
    assert first["x"] > last["x"]  # رسید, the first column, is on the right
    page.set_viewport_size({"width": 800, "height": 480})
    page.locator("#recent").scroll_into_view_if_needed()
    shot("recent-800x480")


def test_logout_locks_the_dashboard(store: Store, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN a signed-in owner WHEN they press خروج THEN the dashboard asks for a login again."""
    log_in(page, store.base_url)
    page.click("header button[type=submit]")
    assert page.url == store.base_url + "/login"
    page.goto(store.base_url + "/")
    assert page.url == store.base_url + "/login"
    assert page.locator("#sales").count() == 0
    shot("after-logout")


def test_anonymous_dashboard_redirects_to_login(store: Store, page: Page) -> None:
    """GIVEN no session WHEN someone on the LAN opens / THEN they get the login form."""
    page.goto(store.base_url + "/")
    assert page.url == store.base_url + "/login"
    assert page.locator("input[name=password]").is_visible()
    assert page.locator("#revenue").count() == 0


def test_dashboard_before_any_sale(terminal, page: Page, shot: Callable[[str], Path]) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a new terminal WHEN the owner signs in THEN zeros in Persian and an empty table."""
    from agent.web.app import create_app, set_owner_password

    set_owner_password(terminal, PASSWORD)
    with live_server(create_app(terminal)) as base_url:
        page.set_viewport_size({"width": 800, "height": 480})
        log_in(page, base_url)
        for key in ("sales", "joined", "issued", "redeemed", "queue"):
            assert page.locator(f"#{key}").inner_text() == "۰"
        assert page.locator("#revenue").inner_text() == "۰ تومان"
        assert page.locator("#recent tbody").inner_text().strip() == "هنوز خریدی ثبت نشده است."
        assert page.evaluate(LAYOUT_PROBLEMS) == []
        shot("empty-800x480")

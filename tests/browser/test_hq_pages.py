"""HQ's pages in Debian's Chromium over real HTTP: login, the chain overview, the fleet, logout."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from common.persian import format_money, group_thousands, jalali_date, now_tehran
from tests.browser.navigation import click_and_load
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

USERNAME, PASSWORD = "maryam.hq", "ستاد-رمز-۱۴۰۵"
SIZES = {"1366x768": (1366, 768), "1024x600": (1024, 600), "800x480": (800, 480)}
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
class Chain:
    """What the cloud should show after one terminal synced its day."""

    base_url: str
    members: int
    sales: int
    revenue_rial: int
    issued: int
    redeemed: int
    points_total: int
    events: int


@pytest.fixture
def chain(enrolled) -> Iterator[Chain]:  # type: ignore[no-untyped-def]
    """Yield the cloud on loopback, after three members bought and the terminal synced."""
    from cloud.hq import create_user

    terminal, client, cloud_app = enrolled
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, USERNAME, PASSWORD, "admin")
    flow = terminal.flow
    maryam = flow.enrol("09121234567", "مریم رضایی", True)
    reza = flow.enrol("+98 935 111 2233", "رضا کریمی", False)
    sara = flow.enrol("۰۹۱۹۸۷۶۵۴۳۲", "سارا احمدی", True)
    results = [
        flow.sale(maryam.id, 12_500_000),
        flow.sale(reza.id, 34_800_000),
        flow.sale(sara.id, 7_650_000),
    ]
    results.append(flow.sale(maryam.id, 2_000_000, redeem_points=500))
    client.drain(terminal.conn, terminal.vault)
    # The overview reads the analytics run's aggregates, as HQ's nightly run would leave them.
    from cloud.analytics.run import run_analytics

    run_analytics(cloud_app.extensions["vafa"].engine, dt.datetime.now(dt.UTC))
    balances = {r.member.id: r.balance for r in results}
    (events,) = terminal.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE acked_at IS NOT NULL"
    ).fetchone()
    with live_server(cloud_app) as base_url:
        yield Chain(
            base_url=base_url,
            members=3,
            sales=len(results),
            revenue_rial=sum(r.amount_rial for r in results),
            issued=sum(r.points_earned for r in results),
            redeemed=sum(r.points_redeemed for r in results),
            points_total=sum(balances.values()),
            events=events,
        )


def log_in(page: Page, base_url: str, password: str = PASSWORD) -> None:
    """Fill HQ's login form, submit it and wait for the next page to load."""
    page.goto(base_url + "/hq/login")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", password)
    click_and_load(page, "button[type=submit]")


def screens(page: Page, shot: Callable[[str], Path], name: str, sizes: dict) -> None:  # type: ignore[type-arg]
    """Screenshot the page at each size and assert nothing is clipped or overlapping."""
    for label, (width, height) in sizes.items():
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(LAYOUT_PROBLEMS) == [], f"{name} at {label}"
        assert shot(f"{name}-{label}").stat().st_size > 0


def recent_jalali_dates() -> set[str]:
    """Return today's and yesterday's Jalali dates (a test may straddle Tehran midnight)."""
    today = now_tehran()
    return {jalali_date(today), jalali_date(today - dt.timedelta(days=1))}


def test_login_page_reads_right_to_left(
    chain: Chain, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN HQ's login page WHEN Chromium opens it THEN it is Persian, right to left, unclipped."""
    page.goto(chain.base_url + "/hq/login")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "fa"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert page.locator("h2").inner_text() == "ورود به ستاد وفا"
    assert page.locator("input[name=csrf]").get_attribute("value")
    form = page.locator("form.login").bounding_box()
    assert form is not None
    centre = form["x"] + form["width"] / 2
    assert abs(centre - page.viewport_size["width"] / 2) < 20  # type: ignore[index]
    label = page.locator("label").first.bounding_box()
    assert label is not None  # a right-to-left label starts at the form's right edge
    assert label["x"] + label["width"] > form["x"] + form["width"] - 60
    screens(page, shot, "login", {k: SIZES[k] for k in ("1024x600", "800x480")})


def test_wrong_password_shows_persian_error(
    chain: Chain, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN a wrong password WHEN the user signs in THEN a Persian error shows, no overview."""
    log_in(page, chain.base_url, password="not-the-password")
    assert page.url.endswith("/hq/login")
    assert page.locator(".error[role=alert]").inner_text() == "نام کاربری یا گذرواژه درست نیست."
    assert page.locator("#fleet").count() == 0
    screens(page, shot, "wrong-password", {k: SIZES[k] for k in ("1024x600", "800x480")})


def test_overview_shows_synced_figures_in_persian(
    chain: Chain, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN a synced terminal WHEN HQ signs in THEN the cards show the chain in Persian digits."""
    log_in(page, chain.base_url)
    assert page.url == chain.base_url + "/hq/"
    expected = {
        "stores": group_thousands(1),
        "members": group_thousands(chain.members),
        "sales": group_thousands(chain.sales),
        "revenue": format_money(chain.revenue_rial),
        "issued": group_thousands(chain.issued),
        "redeemed": group_thousands(chain.redeemed),
        "points-total": group_thousands(chain.points_total),
    }
    shown = {key: page.locator(f"#{key}").inner_text() for key in expected}
    assert shown == expected
    assert shown["members"] == "۳"
    assert shown["revenue"] == "۵٬۶۹۵٬۰۰۰ تومان"
    cards = page.locator(".cards").inner_text()
    assert not ASCII_DIGIT.search(cards), cards
    assert page.locator("header").inner_text().count(USERNAME) == 1
    screens(page, shot, "overview", SIZES)


def test_fleet_lists_the_terminal(chain: Chain, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN an enrolled terminal WHEN HQ opens the overview THEN the fleet shows it, in Jalali."""
    log_in(page, chain.base_url)
    rows = page.locator("#fleet tbody tr")
    assert rows.count() == 1
    cells = rows.first.locator("td").all_inner_texts()
    store, _terminal, last_seen, contiguous, status = cells
    assert store == "فروشگاه آزمایشی"
    assert JALALI_DATETIME.match(last_seen), last_seen
    assert last_seen.split(" ")[0] in recent_jalali_dates()
    # Enrolments, sales and tier changes: every acknowledged event, with no gap.
    assert chain.events >= 7
    assert contiguous == group_thousands(chain.events)
    assert status == "فعال"
    headers = page.locator("#fleet thead th")
    first, last = headers.first.bounding_box(), headers.last.bounding_box()
    assert first is not None and last is not None
    assert first["x"] > last["x"]  # the first column is on the right
    screens(page, shot, "fleet", {"800x480": SIZES["800x480"]})


def test_logout_returns_to_login(chain: Chain, page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN a signed-in user WHEN they press خروج THEN they are on the login page, signed out."""
    log_in(page, chain.base_url)
    click_and_load(page, "header button[type=submit]")
    assert page.url.endswith("/hq/login")
    assert page.locator("header").count() == 0
    page.goto(chain.base_url + "/hq/")
    assert page.url.startswith(chain.base_url + "/hq/login")
    shot("after-logout")


def test_anonymous_overview_redirects_to_login(chain: Chain, page: Page) -> None:
    """GIVEN no session WHEN someone opens /hq/ THEN they land on the login page, no figures."""
    response = page.goto(chain.base_url + "/hq/")
    assert response is not None and response.ok
    assert page.url == chain.base_url + "/hq/login?next=/hq/"
    assert page.locator("#members").count() == 0
    assert page.locator("input[name=username]").is_visible()

"""The cashier's enrol form with gender, province→city and a full Jalali birth date."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.navigation import click_and_load
from tests.browser.test_owner_pages import LAYOUT_PROBLEMS
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PIN = "5713"
SIZES = {"1280x800": (1280, 800), "800x480": (800, 480)}


@dataclass
class Till:
    """The cashier screen on loopback and its terminal."""

    base_url: str
    terminal: Any


@pytest.fixture
def till(terminal) -> Iterator[Till]:  # type: ignore[no-untyped-def]
    """Yield the cashier screen with one cashier PIN set."""
    from agent.web.app import create_app
    from agent.web.cashier import set_cashier_pin

    set_cashier_pin(terminal, "سمیرا", PIN)
    with live_server(create_app(terminal)) as base_url:
        yield Till(base_url, terminal)


def _open_enrol(page: Page, till: Till) -> None:
    page.goto(till.base_url + "/cashier/pin")
    page.fill("#pin", PIN)
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_be_visible()
    page.goto(till.base_url + "/cashier/enrol")


@pytest.mark.parametrize("size", list(SIZES))
def test_enrol_with_gender_place_and_full_birth_date(
    till: Till, page: Page, shot: Callable[[str], Path], size: str
) -> None:
    """GIVEN the enrol form WHEN the cashier picks a province THEN only its cities are offered;
    WHEN they enrol THEN the member is stored with gender, place and birth year."""
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))  # type: ignore[arg-type]
    _open_enrol(page, till)
    expect(page.locator("#city")).to_be_disabled()  # no province yet
    page.fill("#mobile", "۰۹۱۵ ۱۲۳ ۴۵۶۷")
    page.fill("#name", "فاطمه رضایی")
    page.fill("#birthday", "۱۳۷۲/۰۹/۰۳")
    page.select_option("#gender", "f")
    page.select_option("#province", "خراسان رضوی")
    cities = page.locator("#city option").all_inner_texts()
    assert cities[:3] == ["—", "مشهد", "نیشابور"]
    assert "تبریز" not in cities
    page.select_option("#city", "نیشابور")
    page.check("input[name=consent]")
    page.wait_for_load_state("load")
    assert page.evaluate(LAYOUT_PROBLEMS) == [], size
    assert shot(f"{size}-enrol-form").stat().st_size > 0
    page.click("button:has-text('عضویت')")
    expect(page.locator(".member .name")).to_contain_text("فاطمه رضایی")
    member = till.terminal.flow.identify("09151234567")
    assert (member.gender, member.province, member.city, member.birth_year) == (
        "f",
        "خراسان رضوی",
        "نیشابور",
        1372,
    )
    assert member.birthday == (9, 3)
    assert shot(f"{size}-enrolled").stat().st_size > 0


def test_changing_province_clears_the_city_and_errors_keep_choices(
    till: Till, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN a city chosen WHEN the province changes THEN the city is cleared; WHEN the form
    is refused (bad birth date) THEN a Persian error shows and the choices stay."""
    page.set_viewport_size({"width": 800, "height": 480})
    _open_enrol(page, till)
    page.select_option("#province", "فارس")
    page.select_option("#city", "شیراز")
    page.select_option("#province", "گیلان")
    assert page.input_value("#city") == ""
    assert page.locator("#city option").nth(1).inner_text() == "رشت"
    page.select_option("#city", "لاهیجان")
    page.select_option("#gender", "m")
    page.fill("#mobile", "09171234567")
    page.fill("#name", "کاوه")
    page.fill("#birthday", "1401/12/30")  # 1401 is not a leap year: no 30 Esfand
    click_and_load(page, "button:has-text('عضویت')")
    expect(page.locator(".error")).to_contain_text("تاریخ تولد را به شکل سال/ماه/روز شمسی")
    assert (page.input_value("#province"), page.input_value("#city")) == ("گیلان", "لاهیجان")
    assert page.input_value("#gender") == "m"
    count = till.terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    assert count == 0
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    assert shot("800x480-enrol-refused").stat().st_size > 0

"""The till's enrolment with a one-time code in Chromium, by keyboard, to HQ's Member 360.

GIVEN a terminal enrolled with a cloud on loopback (texts to the cloud's file provider)
WHEN the cashier fills the enrol form by keyboard and presses Enter THEN the code is texted
and the code field has the focus; WHEN they type a wrong code THEN a Persian refusal shows
and the form keeps its choices; WHEN they type the right one and Enter THEN the member card
opens, and once synced HQ's Member 360 shows the mobile as verified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from agent.identity import load_identity
from agent.offline_queue.sync import SyncClient
from cloud.hq import create_user
from tests.agent.test_enrol_codes_till import cloud_and_terminal
from tests.browser.navigation import press_and_load
from tests.browser.test_owner_pages import LAYOUT_PROBLEMS
from tests.cloud.test_mobile_codes import enrol_till
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PIN = "3916"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Any, Any, Path, str]]:
    """Yield (cloud app, terminal, texts file, till URL) with one cashier PIN set."""
    from agent.web.app import create_app
    from agent.web.cashier import set_cashier_pin

    cloud, terminal, sms_file, stack = cloud_and_terminal(tmp_path, "when_online")
    set_cashier_pin(terminal, "سمیرا", PIN)
    with stack, live_server(create_app(terminal)) as till_url:
        yield cloud, terminal, sms_file, till_url
    terminal.close()
    cloud.extensions["vafa"].engine.dispose()


def _code(sms_file: Path) -> str:
    last = json.loads(sms_file.read_text("utf-8").splitlines()[-1])
    found = re.search(r"\b(\d{6})\b", last["text"])
    assert found
    return found.group(1)


def _open_enrol_form(page: Page, till: str) -> None:
    """Unlock the till with the cashier's PIN on its 800x480 screen and open the enrol form."""
    page.set_viewport_size({"width": 800, "height": 480})
    page.goto(till + "/cashier/pin")
    page.fill("#pin", PIN)
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_be_visible()
    page.goto(till + "/cashier/enrol")


def _focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def test_enrol_with_the_code_step_by_keyboard(
    shop: tuple[Any, Any, Path, str], page: Page, shot: Callable[[str], Path]
) -> None:
    cloud, terminal, sms_file, till = shop
    _open_enrol_form(page, till)
    assert _focused(page) == "mobile"
    page.keyboard.type("۰۹۱۳ ۴۴۴ ۵۵۶۶")
    page.keyboard.press("Tab")
    page.keyboard.type("لیلا صادقی")
    page.keyboard.press("Tab")
    page.keyboard.type("1365/04/20")
    page.select_option("#gender", "f")
    page.select_option("#province", "اصفهان")
    page.check("input[name=consent]")
    page.focus("#name")
    press_and_load(page, "Enter")  # no code yet: the till asks HQ to text one
    expect(page.locator(".notice")).to_contain_text("پیامک شد")
    expect(page.locator(".notice")).to_contain_text("۰۹۱۳***۵۵۶۶")
    assert _focused(page) == "otp"
    assert page.is_checked("input[name=consent]") and page.input_value("#province") == "اصفهان"
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    assert shot("800x480-code-sent").stat().st_size > 0
    code = _code(sms_file)
    page.keyboard.type("۰" * 6 if code != "000000" else "۱" * 6)
    page.keyboard.press("Enter")
    expect(page.locator(".error")).to_contain_text("کد تأیید درست نیست")
    assert page.input_value("#name") == "لیلا صادقی" and _focused(page) == "otp"
    assert terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0] == 0
    assert shot("800x480-wrong-code").stat().st_size > 0
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.locator(".member .name")).to_contain_text("لیلا صادقی")
    assert shot("800x480-enrolled").stat().st_size > 0

    client = SyncClient(load_identity(terminal.config.data_dir))
    client.drain(terminal.conn, terminal.vault)
    client.close()
    with cloud.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "hq.admin", "a-long-password", "admin")
    page.set_viewport_size({"width": 1280, "height": 800})
    with live_server(cloud) as hq:
        page.goto(hq + "/hq/login")
        page.fill("input[name=username]", "hq.admin")
        page.fill("input[name=password]", "a-long-password")
        page.click("button[type=submit]")
        page.goto(hq + "/hq/members")
        page.fill("input[name=q]", "09134445566")
        page.click("form.search button")
        expect(page.locator("#mobile-verified")).to_have_text("تأییدشده")
        assert shot("member360-verified").stat().st_size > 0


def test_a_code_hq_will_not_text_enrols_unverified_with_a_notice(
    shop: tuple[Any, Any, Path, str], page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN when_online and a code just texted to the mobile by another store's till WHEN the
    cashier sends the enrol form THEN HQ will not text another (429) and the member is
    enrolled at once, unverified: the card says in Persian that no code was sent, and why."""
    cloud, _terminal, sms_file, till = shop
    elsewhere = enrol_till(cloud, "شعبه تجریش")
    assert elsewhere.post("/api/v1/mobile-codes", {"mobile": "09134445577"}).status_code == 200
    _open_enrol_form(page, till)
    page.keyboard.type("۰۹۱۳ ۴۴۴ ۵۵۷۷")
    page.keyboard.press("Tab")
    page.keyboard.type("رضا مرادی")
    page.check("input[name=consent]")
    page.focus("#name")
    press_and_load(page, "Enter")
    expect(page.locator(".member .name")).to_contain_text("رضا مرادی")
    notice = page.locator("#notice")
    expect(notice).to_contain_text("کد تأیید فرستاده نشد")
    expect(notice).to_contain_text("ثانیه دیگر")
    expect(notice).to_contain_text("«تأییدنشده» عضو شد")
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    assert shot("800x480-enrolled-unverified").stat().st_size > 0
    assert len(sms_file.read_text("utf-8").splitlines()) == 1  # only the other till's
    page.reload()
    expect(page.locator(".member .name")).to_contain_text("رضا مرادی")
    assert page.locator("#notice").count() == 0  # told once

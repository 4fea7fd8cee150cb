"""In Debian's Chromium: the till's member card announcing a surprise gift and handing it
over with one button, and HQ's notes page where a store owner closes their store's notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cloud.scenarios import store
from cloud.scenarios.library import LIBRARY
from cloud.sms.providers import FileProvider
from common.persian import TEHRAN
from tests.browser.test_cashier_screen import PIN, check_screen
from tests.browser.test_hq_pages import LAYOUT_PROBLEMS
from tests.browser.test_owner_pages import SIZES
from tests.cloud.test_access_scope import PASSWORD, add_users, seed_chain
from tests.support.live_server import live_server
from tests.web.test_cashier_gift import NOTE, give_gift

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("booked_here", [True, False], ids=["booked-here", "other-till"])
def test_the_till_announces_a_gift_and_one_press_hands_it_over(
    terminal: Any, page: Page, shot: Callable[[str], Path], booked_here: bool
) -> None:
    """GIVEN a member with a surprise gift of 300 points, booked by this till or by another
    till of the store (listed by the pull) WHEN the cashier opens their card
    THEN the gift and its note stand out, at both till sizes; WHEN the button is pressed
    THEN the till says it was handed over, the gift leaves the card and one slip prints."""
    from agent import gifts
    from agent.ledger.db import write_transaction
    from agent.web.app import create_app
    from agent.web.cashier import set_cashier_pin

    set_cashier_pin(terminal, "مریم", PIN)
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    if booked_here:
        give_gift(terminal, member.id)
    else:  # its points are in the other till's ledger, not this one's
        listed = {"grant_id": "c" * 32, "member_id": member.id, "kind": "points", "amount": 300}
        with write_transaction(terminal.conn):
            gifts.replace_store_list(terminal.conn, [{**listed, "note": NOTE}], "2026-12-01")
    with live_server(create_app(terminal)) as base:
        page.goto(base + "/cashier/pin")
        page.fill("#pin", PIN)
        page.keyboard.press("Enter")
        expect(page.locator(".who")).to_have_text("صندوق‌دار: مریم")
        page.fill("#code", "۰۹۱۲ ۵۵۵ ۴۴۳۳")  # the member is identified at the till
        page.keyboard.press("Enter")
        gift = page.locator(".surprise")
        expect(gift).to_have_count(1)
        expect(gift.locator(".surprise-note")).to_have_text(NOTE)
        expect(gift.locator(".surprise-what")).to_contain_text("۳۰۰ امتیاز هدیه")
        expect(page.locator("#balance")).to_have_text("۳۰۰" if booked_here else "۰")
        where = "" if booked_here else "-other-till"
        for size, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            check_screen(page, shot, "gift-waiting" + where, size)
        gift.get_by_role("button").click()
        expect(page.locator("#notice")).to_have_text("هدیه تحویل شد و برگهٔ آن چاپ شد.")
        expect(page.locator(".surprise")).to_have_count(0)
        shot("gift-handed-over" + where)
    assert len(terminal.printer.jobs) == 1
    count = terminal.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'gift.handed_over'"
    ).fetchone()[0]
    assert count == 1


def test_a_store_owner_reads_and_closes_their_notes(
    cloud_app: Any, page: Page, shot: Callable[[str], Path], tmp_path: Path
) -> None:
    """GIVEN the apology's notes for Vanak and Tajrish WHEN Vanak's owner opens the notes
    page THEN only Vanak's note shows, with a masked mobile; WHEN they press 'done' THEN it
    leaves the open list and shows as done in the full one."""
    seed_chain(cloud_app)
    add_users(cloud_app)
    ext = cloud_app.extensions["vafa"]
    with ext.engine.begin() as conn:
        store.save(conn, "apology", LIBRARY["apology"])
    sms = FileProvider(tmp_path / "sms.jsonl")
    for day in ("2025-08-02", "2025-08-26"):  # a Vanak member unhappy at Tajrish; one at Vanak
        moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(15), TEHRAN)
        store.run_day(ext.engine, ext.vault, sms, moment)
    with live_server(cloud_app) as base:
        page.goto(base + "/hq/login")
        page.fill("input[name=username]", "vanak.owner")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(base + "/hq/notes")
        rows = page.locator("#notes tbody tr[data-note]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("فروشگاه ونک")
        expect(rows.first.locator(".mobile")).to_have_text("۰۹۱۲***۰۰۰۵")
        expect(rows.first).to_contain_text("ناخشنود")
        for size, (width, height) in {"1366x768": (1366, 768), "1024x600": (1024, 600)}.items():
            page.set_viewport_size({"width": width, "height": height})
            assert page.evaluate(LAYOUT_PROBLEMS) == [], size
            shot(f"notes-{size}")
        rows.first.get_by_role("button", name="انجام شد").click()
        expect(page.locator("#notes tbody tr[data-note]")).to_have_count(0)
        expect(page.locator("#notes")).to_contain_text("یادداشت بازی نیست")
        page.goto(base + "/hq/notes?done=1")
        expect(page.locator("#notes tbody tr[data-note] .badge")).to_contain_text("انجام شد")
        shot("notes-done")

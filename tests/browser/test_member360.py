"""HQ's Member 360 in Chromium: find a member by a mobile typed in Persian digits, read
their timeline, give points with a reason; roles are checked on the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from cloud.hq import create_user
from cloud.tables import grants
from tests.browser.navigation import click_and_load
from tests.browser.test_hq_pages import LAYOUT_PROBLEMS, SIZES
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


def _log_in(page: Page, base: str, user: str) -> None:
    page.goto(base + "/hq/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "a-long-password")
    page.click("button[type=submit]")


def test_a_marketer_finds_a_member_reads_the_timeline_and_gives_points(
    enrolled, page: Page, shot: Callable[[str], Path]
) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = enrolled
    with app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "neda.marketing", "a-long-password", "marketer")
        create_user(conn, "owner.vanak", "a-long-password", "store_owner")
    maryam = terminal.flow.enrol("09121234567", "مریم رضایی", consent=True)
    terminal.flow.sale(maryam.id, 12_500_000)
    client.drain(terminal.conn, terminal.vault)
    with live_server(app) as base:
        _log_in(page, base, "neda.marketing")
        page.fill("input[name=q]", "۰۹۱۲ ۱۲۳ ۴۵۶۷")
        click_and_load(page, "form.search button")
        assert page.inner_text("#member-name") == "مریم رضایی"
        assert page.inner_text("#mobile") == "۰۹۱۲***۴۵۶۷"  # masked, in Persian digits
        assert page.inner_text("#balance") == "۱٬۲۵۰"
        assert "خرید در" in page.inner_text("#timeline")
        for label, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            assert page.evaluate(LAYOUT_PROBLEMS) == [], label
            shot(f"member-{label}")

        page.fill("input[name=points]", "۲۵۰")
        page.fill("input[name=reason]", "   ")  # passes the browser, not the server
        click_and_load(page, "form.give button")
        assert page.inner_text("#give-error") == "دلیل این امتیاز را بنویسید"
        page.fill("input[name=points]", "۰")
        page.fill("input[name=reason]", "آزمایش")
        click_and_load(page, "form.give button")
        assert page.inner_text("#give-error").startswith("تعداد امتیاز را درست وارد کنید")
        page.fill("input[name=points]", "۲۵۰")
        page.fill("input[name=reason]", "جبران تأخیر در تحویل")
        page.click("form.give button")
        expect(page.locator("#given")).to_be_visible()
        assert "جبران تأخیر در تحویل" in page.inner_text("#timeline")
        assert "امتیاز هدیه (دستی)" in page.inner_text("#timeline")
        shot("after-gift")

        page.goto(base + "/hq/members/?q=09350000000")
        assert page.inner_text(".error") == "عضوی با این مشخصات پیدا نشد."

        page.context.clear_cookies()
        _log_in(page, base, "owner.vanak")
        answer = page.goto(base + f"/hq/members/{maryam.id}")
        # An owner of no store: Maryam is not their member, so she reads as absent.
        assert answer is not None and answer.status == 404
    with app.extensions["vafa"].engine.connect() as conn:
        row = conn.execute(sa.select(grants)).one()
    assert (row.amount, row.reason, row.created_by, row.note) == (
        250,
        "manual",
        "hq:neda.marketing",
        "جبران تأخیر در تحویل",
    )

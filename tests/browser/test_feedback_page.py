"""The member's feedback page in Chromium on a phone-sized screen, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from cloud.tables import feedback
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


def test_a_member_scores_and_comments_from_the_receipt_qr(
    enrolled, page: Page, shot: Callable[[str], Path]
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a synced sale and its receipt's QR link WHEN the member opens it on a phone,
    picks 8 and writes a comment THEN the page is Persian, right to left, with Persian
    digits and no sideways scroll; the answer is stored once; reopening says so."""
    terminal, client, app = enrolled
    terminal.config = terminal.config.__class__(
        **{**terminal.config.__dict__, "feedback_base_url": "http://x"}
    )
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    sale = terminal.flow.sale(member.id, 1_000_000)
    client.drain(terminal.conn, terminal.vault)
    path = terminal.receipt_data(sale).feedback_url.removeprefix("http://x")
    page.set_viewport_size({"width": 390, "height": 844})
    with live_server(app) as url:
        page.goto(url + path)
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        scores = page.locator(".scores label").all_inner_texts()
        assert scores == [
            str(n).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) for n in range(11)
        ]
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        # «اصلاً» (not at all) sits beside ۰ and «حتماً» (surely) beside ۱۰:
        zero = page.locator(".scores label").first.bounding_box()
        never = page.locator(".ends span", has_text="اصلاً").bounding_box()
        surely = page.locator(".ends span", has_text="حتماً").bounding_box()
        assert zero and never and surely
        assert abs(never["x"] - zero["x"]) < 40 and surely["x"] > never["x"]
        shot("ask-390x844")
        page.locator(".scores label", has_text=re.compile("^۸$")).click()
        page.fill("#comment", "صندوقدار خوش‌برخورد بود")
        page.click("button[type=submit]")
        expect(page.locator("#thanks")).to_be_visible()
        shot("thanks")
        page.goto(url + path)
        assert page.locator("#done").is_visible()
    with app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(feedback.c.nps)).scalars().all() == [8]

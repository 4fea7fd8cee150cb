"""The owner's receipts list and preview in Debian's Chromium, at both screen sizes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.navigation import click_and_load
from tests.browser.test_owner_pages import PASSWORD, log_in, screens
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


def test_receipt_preview_and_reprint(terminal, page: Page, shot: Callable[[str], Path]) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a printed sale WHEN the owner opens its receipt THEN the printed image shows."""
    from agent.web.app import create_app, set_owner_password

    set_owner_password(terminal, PASSWORD)
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    terminal.print_receipt(terminal.flow.sale(member.id, 2_500_000))
    with live_server(create_app(terminal)) as base_url:
        log_in(page, base_url)
        click_and_load(page, "text=رسیدها و چاپ دوباره")
        expect(page.locator("#receipts tbody tr")).to_have_count(1)
        expect(page.locator("#receipts td").first).to_have_text("۱")
        screens(page, shot, "receipts")
        page.click("text=نمایش")
        image = page.locator("img.receipt")
        expect(image).to_be_visible()
        # Visible is not loaded: on a busy machine the PNG arrives after the <img> is laid out.
        page.wait_for_function("document.querySelector('img.receipt').complete")
        assert page.evaluate("document.querySelector('img.receipt').naturalWidth") == 576
        click_and_load(page, "button:has-text('چاپ دوباره')")
        expect(page.locator(".ok")).to_have_text("دوباره چاپ شد.")
        assert len(terminal.printer.jobs) == 2
        screens(page, shot, "receipt")

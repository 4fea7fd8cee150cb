"""In Debian's Chromium: HQ's import page takes a club's member list and a file of website
orders, and shows each refused row with its line and Persian reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cloud.fleet import create_store
from cloud.hq import create_user
from tests.browser.navigation import click_and_load
from tests.browser.test_hq_pages import LAYOUT_PROBLEMS
from tests.cloud.test_channel_imports import MEMBERS_CSV, ORDERS_CSV
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser
PASSWORD = "a-long-password"


def test_a_marketer_imports_a_member_list_then_orders(
    cloud_app: Any, page: Page, shot: Callable[[str], Path], tmp_path: Path
) -> None:
    """GIVEN a chain with one store WHEN a marketer uploads a member list with nine bad rows
    THEN the page counts 2 added and 9 refused and names line 4's bad mobile; WHEN they
    upload website orders THEN a changed order is reported with its stored total."""
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        create_store(conn, "فروشگاه ونک")
        create_user(conn, "maryam", PASSWORD, "marketer")
    (tmp_path / "club.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    with live_server(cloud_app) as base:
        page.goto(base + "/hq/login")
        page.fill("input[name=username]", "maryam")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(base + "/hq/imports")
        expect(page.locator("nav.ops-nav a[aria-current]")).to_have_text("ورود داده")
        page.select_option("#kind", "members")
        page.select_option("#store", label="فروشگاه ونک")
        page.set_input_files("#file", str(tmp_path / "club.csv"))
        click_and_load(page, "#upload button[type=submit]")
        cells = page.locator("#summary tr").nth(1).locator("td")
        expect(cells).to_have_text(["۱۱", "۲", "۰", "۹"])
        expect(page.locator('#problems tr[data-line="4"]')).to_contain_text(
            "شماره موبایل معتبر نیست"
        )
        for size, (width, height) in {"1366x768": (1366, 768), "1024x600": (1024, 600)}.items():
            page.set_viewport_size({"width": width, "height": height})
            assert page.evaluate(LAYOUT_PROBLEMS) == [], size
            shot(f"members-{size}")
        page.select_option("#kind", "orders")
        page.select_option("#channel", "website")
        page.select_option("#store", "")
        page.set_input_files("#file", str(tmp_path / "orders.csv"))
        page.click("#upload button[type=submit]")
        expect(page.locator("#summary tr").nth(1).locator("td")).to_have_text(
            ["۱۳", "۳", "۰", "۱۰"]
        )
        expect(page.locator('#problems tr[data-line="10"]')).to_contain_text("۱٬۲۵۰٬۰۰۰ ریال")
        shot("orders")

"""HQ's analytics pages in Debian's Chromium over real HTTP, as an admin and as a store owner:
every page draws its charts from the app's own Chart.js (no other host is asked), shows
Persian digits and Jalali months, fits 1366x768, and a store owner's pages name no other
store. Screenshots: ``test-artifacts/screenshots/test_hq_dashboard_pages*``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page

from cloud.analytics.run import run_analytics
from cloud.app import create_app
from tests.browser.navigation import click_and_load
from tests.browser.test_hq_pages import LAYOUT_PROBLEMS
from tests.cloud.test_access_scope import PASSWORD, add_users, seed_chain, seed_preferences
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

AS_OF = dt.datetime(2025, 10, 5, tzinfo=dt.UTC)  # mid Mehr 1404, after the seeded sales
# path, chart canvases the page must draw, a table id it must show
PAGES: list[tuple[str, list[str], str]] = [
    ("/hq/", ["revenue-chart", "sales-chart", "return-chart", "stores-chart"], "t-kpi_months"),
    ("/hq/segments", ["segment-chart"], "t-segments"),
    ("/hq/cohorts", [], "t-cohorts"),
    ("/hq/clv", ["clv-chart"], "t-top_members"),
    ("/hq/nps", ["nps-chart", "sentiment-chart", "comments-chart"], "t-nps"),
    ("/hq/demographics", ["age-chart", "gender-chart", "province-chart"], "t-demographics_age"),
    ("/hq/preferences", ["categories-chart", "incentives-chart"], "t-categories"),
]
ASCII_DIGIT = re.compile(r"[0-9]")


@pytest.fixture
def chain_base(tmp_path: Path) -> Iterator[str]:
    """Yield the seeded cloud on loopback after an analytics run."""
    app: Flask = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cloud.db'}",
            "PII_KEY_FILE": str(tmp_path / "pii.key"),
            "SECRET_KEY": "test",
        }
    )
    seed_chain(app)
    add_users(app)
    run_analytics(app.extensions["vafa"].engine, AS_OF)
    seed_preferences(app, AS_OF.date())
    with live_server(app) as base:
        yield base
    app.extensions["vafa"].engine.dispose()


def _log_in(page: Page, base: str, user: str) -> None:
    page.goto(base + "/hq/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.url == base + "/hq/"


def _visit_every_page(
    page: Page, base: str, shot: Callable[[str], Path], who: str
) -> dict[str, str]:
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.set_viewport_size({"width": 1366, "height": 768})
    texts = {}
    for path, charts, table in PAGES:
        page.goto(base + path)
        page.wait_for_selector("html[data-charts=ready]" if charts else f"#{table}")
        for chart in charts:
            drawn = page.get_attribute(f"canvas#{chart}", "data-drawn")
            assert drawn and int(drawn) >= 1, (path, chart)
            box = page.locator(f"canvas#{chart}").bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 150, (path, chart)
        assert page.locator(f"#{table} tbody tr").count() >= 1, path
        cells = " ".join(page.locator(f"#{table} tbody td").all_inner_texts())
        assert not ASCII_DIGIT.search(cells), (path, cells)
        assert page.evaluate(LAYOUT_PROBLEMS) == [], (who, path)
        name = path.strip("/").replace("/", "-") or "overview"
        shot(f"{who}-{name}")
        texts[path] = page.inner_text("body")
    assert hosts == {base.split("/")[2]}, hosts  # Chart.js and all else from the app itself
    return texts


def test_admin_sees_every_page_with_charts(
    chain_base: str, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN a chain with two stores WHEN the admin opens every analytics page
    THEN charts are drawn, months are Jalali, both stores are compared."""
    _log_in(page, chain_base, "admin")
    texts = _visit_every_page(page, chain_base, shot, "admin")
    assert "فروشگاه ونک" in texts["/hq/"] and "فروشگاه تجریش" in texts["/hq/"]
    assert "تیر ۱۴۰۴" in texts["/hq/"]  # the first month of sales, Jalali on the table
    assert "ویژه (VIP)" in texts["/hq/segments"]
    assert "اصفهان" in texts["/hq/demographics"]
    assert "زعفران" in texts["/hq/preferences"]
    labels = _chart_labels(page, chain_base + "/hq/", "revenue-chart")
    assert "تیر ۱۴۰۴" in labels and "مهر ۱۴۰۴" in labels
    page.goto(chain_base + "/hq/segments")
    cards = page.locator("#grid .card")
    assert cards.count() == 8  # one per segment of segments.toml, four to a row
    first, fifth = cards.nth(0).bounding_box(), cards.nth(4).bounding_box()
    assert first is not None and fifth is not None and fifth["y"] > first["y"]


def _chart_labels(page: Page, url: str, chart: str) -> list[Any]:
    page.goto(url)
    page.wait_for_selector("html[data-charts=ready]")
    labels: list[Any] = page.evaluate(
        "(id) => Chart.getChart(document.getElementById(id)).data.labels", chart
    )
    return labels


def test_store_owner_sees_only_their_store_on_every_page(
    chain_base: str, page: Page, shot: Callable[[str], Path]
) -> None:
    """GIVEN Vanak's owner WHEN they open every analytics page THEN Tajrish appears nowhere:
    not its name, its members' provinces, nor its members' mobiles."""
    _log_in(page, chain_base, "vanak.owner")
    texts = _visit_every_page(page, chain_base, shot, "owner")
    for path, text in texts.items():
        assert "تجریش" not in text, path
        assert "اصفهان" not in text and "فارس" not in text, path  # Tajrish members' provinces
        assert "۰۰۰۶" not in text and "۰۰۰۷" not in text, path  # Tajrish members' mobiles
        assert "زعفران" not in text, path  # a category only Tajrish's members buy
    assert "فروشگاه ونک" in texts["/hq/"]
    assert "تهران" in texts["/hq/demographics"]
    labels = _chart_labels(page, chain_base + "/hq/", "stores-chart")
    assert labels == ["فروشگاه ونک"]
    page.goto(chain_base + "/hq/clv")
    click_and_load(page, page.locator("#t-top_members tbody a").first)
    assert "/hq/members/m0" in page.url and page.locator("#member-name").is_visible()
    shot("owner-member360")

"""Debian's Chromium, driven headless by Playwright, for every web page under test.

pytest fixtures:
    browser  (session)  the running Chromium
    page     (function) a fresh Persian (fa-IR, Asia/Tehran) page, 1024×600
    shot     (function) ``shot(name)`` saves the page to
             ``test-artifacts/screenshots/<test-name>-<name>.png``

Playwright's own browser downloads are impossible here; Chromium comes from
``bash installer/system-packages.sh test``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# The machine has no network: without these Chromium keeps dialling Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Yield Debian's Chromium, headless, for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: run `bash installer/system-packages.sh test` "
            "to install Debian's chromium",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """Yield a new page in its own context, as an Iranian shop's screen would show it."""
    context = browser.new_context(
        locale="fa-IR", timezone_id="Asia/Tehran", viewport={"width": 1024, "height": 600}
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def save_screenshot(page: Page, test_name: str, name: str) -> Path:
    """Save a full-page PNG of ``page`` as ``<test_name>-<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", f"{test_name}-{name}")
    path = SCREENSHOTS / f"{stem}.png"
    # Written aside, then renamed: tests of the same name in two modules may run at once in
    # two pytest-xdist workers, and neither must leave a half-written file.
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(page.screenshot(full_page=True))
    partial.replace(path)
    return path


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Return ``shot(name)``, which screenshots this test's page under its test name."""

    def take(name: str) -> Path:
        return save_screenshot(page, request.node.name, name)

    return take

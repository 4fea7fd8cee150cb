"""Steps that open another page and return once it has loaded.

Playwright's click returns when the navigation it started has committed, and a key press
does not wait for one at all: a check that reads the page once (``count()``,
``inner_text()``, ``evaluate``, a layout probe) may then see the new page half parsed or
without its style sheets. ``expect(...)`` retries and needs none of this.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page


def click_and_load(page: Page, target: str | Locator) -> None:
    """Click ``target`` (a selector or a locator) and wait for the page it opens to load."""
    with page.expect_navigation(wait_until="load"):
        if isinstance(target, str):
            page.click(target)
        else:
            target.click()


def press_and_load(page: Page, key: str) -> None:
    """Press ``key`` (Enter in a form) and wait for the page it opens to load."""
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press(key)

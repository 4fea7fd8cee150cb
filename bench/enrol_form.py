"""How long a cashier takes to enrol a new member at the till, keyboard only.

Debian's Chromium (Playwright) opens the real cashier screen of a real terminal and a
cashier types at a steady pace: a key every ``KEY_DELAY_MS`` (about 40 words a minute, a
cashier who is not a typist), Tab between fields, arrow keys in the selects. Everything the
form asks for is filled: mobile, name, full Jalali birthday, referral left empty, gender,
province, city, marketing consent. The figure is from the first key to the member's card
on screen, so it counts the cashier's typing and every page and server step.

Usage: ``python -m bench.enrol_form [RUNS]`` (default 5). The issue asks for under 30 s.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from agent.config import AgentConfig
from agent.terminal import Terminal
from agent.web.app import create_app
from agent.web.cashier import set_cashier_pin
from tests.support.live_server import live_server

KEY_DELAY_MS = 250
PIN = "4821"


def _enrol_once(page: Page, base_url: str, mobile: str) -> float:
    """Enrol one member by keyboard from the identify screen; return seconds taken."""
    page.goto(base_url + "/cashier/")
    started = time.monotonic()
    page.keyboard.type(mobile, delay=KEY_DELAY_MS)  # the customer says a new number
    page.keyboard.press("Enter")
    page.wait_for_selector(".error")  # not a member yet: the till says so
    page.keyboard.press("Tab")  # past «جستجو»
    page.keyboard.press("Tab")  # to «عضو جدید», which carries the typed number
    page.keyboard.press("Enter")
    page.wait_for_url("**/cashier/enrol**")
    page.keyboard.press("Tab")
    page.keyboard.type("سارا احمدی", delay=KEY_DELAY_MS)
    page.keyboard.press("Tab")
    page.keyboard.type("1370/07/15", delay=KEY_DELAY_MS)
    page.keyboard.press("Tab")  # referral: none
    page.keyboard.press("Tab")  # gender
    page.keyboard.press("ArrowDown")  # زن
    page.keyboard.press("Tab")  # province
    for _ in range(8):  # about the middle of the list
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")  # city: the province's first
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")  # consent
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.wait_for_selector(".member")
    return time.monotonic() - started


def main() -> None:
    """Time RUNS enrolments and print the figures."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        terminal = Terminal(AgentConfig(data_dir=Path(tmp) / "terminal"))
        set_cashier_pin(terminal, "مریم", PIN)
        with live_server(create_app(terminal)) as base_url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1024, "height": 600}, locale="fa-IR")
            page.goto(base_url + "/cashier/pin")
            page.locator("#pin").fill(PIN)
            page.locator("#pin").press("Enter")
            times = [_enrol_once(page, base_url, f"0912700{n:04d}") for n in range(runs)]
            browser.close()
        (joined,) = terminal.conn.execute(
            "SELECT COUNT(*) FROM members WHERE gender = 'f' AND province IS NOT NULL"
            " AND city IS NOT NULL AND birth_year = 1370 AND marketing_consent = 1"
        ).fetchone()
        terminal.close()
    assert joined == runs, f"{joined} members enrolled with every field, expected {runs}"
    print(
        f"enrolment at the till by keyboard, a key every {KEY_DELAY_MS} ms, {runs} runs:"
        f" median {statistics.median(times):.1f} s, slowest {max(times):.1f} s (target < 30 s)"
    )


if __name__ == "__main__":
    main()

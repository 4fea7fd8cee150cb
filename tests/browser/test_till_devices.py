"""The till's header tells the cashier how the printer and the drawer are, live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from agent.config import AgentConfig
from agent.drivers.simulator import NetworkPrinterSimulator
from agent.terminal import Terminal
from tests.browser.test_owner_pages import LAYOUT_PROBLEMS, SIZES
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PIN = "4821"
PAPER_OUT_DRAWER_OPEN = {1: 0x1E, 2: 0x32, 3: 0x12, 4: 0x72}  # DLE EOT 1 bit 2: drawer open
IDLE_DRAWER_SHUT = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}


@pytest.fixture
def printer() -> Iterator[NetworkPrinterSimulator]:
    """A 9100 network printer on loopback, out of paper, its drawer open."""
    sim = NetworkPrinterSimulator(status=dict(PAPER_OUT_DRAWER_OPEN))
    yield sim
    sim.close()


@pytest.fixture
def till(tmp_path: Path, printer: NetworkPrinterSimulator) -> Iterator[tuple[str, Any]]:
    """The cashier screen of a terminal printing to that printer; status asked every 0.2 s."""
    from agent.web.app import create_app
    from agent.web.cashier import set_cashier_pin

    config = AgentConfig(
        data_dir=tmp_path / "terminal",
        printer_transport="network",
        printer_target=printer.address,
        printer_timeout_s=1.0,
    )
    terminal = Terminal(config, store_name="فروشگاه آزمایشی")
    set_cashier_pin(terminal, "مریم", PIN)
    app = create_app(terminal)
    app.extensions["vafa_device_status"].ttl = 0.2
    try:
        with live_server(app) as base_url:
            yield base_url, terminal
    finally:
        terminal.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_header_shows_paper_out_and_the_open_drawer_then_follows_the_printer(
    till: tuple[str, Any],
    printer: NetworkPrinterSimulator,
    page: Page,
    shot: Callable[[str], Path],
    size: str,
) -> None:
    """GIVEN a printer out of paper with the drawer open WHEN the cashier signs in THEN the
    header says both in Persian, in red and amber; WHEN paper is loaded and the drawer shut
    THEN the header follows within a poll, without a reload."""
    base_url, _ = till
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(base_url + "/cashier/pin")
    page.locator("#pin").fill(PIN)
    page.locator("#pin").press("Enter")
    printer_chip, drawer_chip = page.locator("#printer-state"), page.locator("#drawer-state")
    expect(printer_chip).to_have_text("کاغذ چاپگر تمام شده است")
    expect(printer_chip).to_have_class("chip bad")
    expect(drawer_chip).to_have_text("کشوی پول باز است")
    expect(drawer_chip).to_have_class("chip warn")
    page.wait_for_load_state("load")
    assert page.evaluate(LAYOUT_PROBLEMS) == [], size
    shot(f"{size}-paper-out")

    printer.status = dict(IDLE_DRAWER_SHUT)
    expect(printer_chip).to_have_text("چاپگر آماده است", timeout=5000)
    expect(printer_chip).to_have_class("chip ok")
    expect(drawer_chip).to_have_text("کشوی پول بسته است")
    shot(f"{size}-ready")

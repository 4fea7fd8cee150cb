"""A terminal printing to a network printer that reports paper out, then recovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.drivers.printer_status import PrinterNotReady
from agent.drivers.simulator import NetworkPrinterSimulator
from agent.terminal import Terminal


def test_paper_out_is_told_to_the_cashier_and_the_retry_prints_once(tmp_path: Path) -> None:
    """GIVEN a networked printer out of paper WHEN a receipt is printed THEN the cashier gets
    «کاغذ چاپگر تمام شده است» and nothing is sent; WHEN paper is loaded and the cashier
    retries THEN the receipt prints exactly once, and a further retry prints nothing."""
    sim = NetworkPrinterSimulator(out_dir=tmp_path, status={1: 0x1A, 2: 0x32, 4: 0x72})
    config = AgentConfig(
        data_dir=tmp_path / "terminal",
        printer_profile="xprinter-xp80c",
        printer_transport="network",
        printer_target=sim.address,
        printer_timeout_s=1.0,
    )
    terminal = Terminal(config, store_name="فروشگاه آزمایشی")
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        sale = terminal.flow.sale(member.id, 1_000_000)
        with pytest.raises(PrinterNotReady) as caught:
            terminal.print_receipt(sale)
        assert caught.value.fa == "کاغذ چاپگر تمام شده است"
        sim.status = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}
        assert terminal.print_receipt(sale).printed
        assert not terminal.print_receipt(sale).printed
    finally:
        terminal.close()
    sim.wait_for_jobs(1)
    sim.close()
    assert len(sim.jobs) == 1 and len(sim.images) == 1
    assert sim.kicks == [(2, 100, 100)]


def test_device_status_for_the_cashier(tmp_path: Path) -> None:
    """GIVEN a printer low on paper with its drawer open WHEN the cashier screen asks THEN it
    hears both, in Persian; GIVEN a printer that stays silent THEN unknown, not offline."""
    sim = NetworkPrinterSimulator(status={1: 0x16, 2: 0x12, 3: 0x12, 4: 0x1E})
    config = AgentConfig(
        data_dir=tmp_path / "terminal",
        printer_transport="network",
        printer_target=sim.address,
        printer_timeout_s=0.5,
    )
    terminal = Terminal(config)
    try:
        status = terminal.device_status()
        assert status["printer_ready"] and status["paper_near_end"]
        assert status["drawer_open"] is True and status["drawer_fa"] == "کشوی پول باز است"
        sim.status = {}
        silent = terminal.device_status()
        assert silent["printer_ready"] and not silent["printer_known"]
        assert silent["drawer_open"] is None and silent["printer_fa"] == "وضعیت چاپگر نامعلوم است"
    finally:
        terminal.close()
        sim.close()

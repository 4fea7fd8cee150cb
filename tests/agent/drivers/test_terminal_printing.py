"""A terminal printing to a network printer that reports paper out, then recovers; and its
cash drawer, on the printer, on a serial port of its own, or none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.drivers.escpos_decoder import decode, drawer_kicks
from agent.drivers.printer_status import PrinterNotReady
from agent.drivers.serial_drawer import NoDrawerConfigured, ReopeningSerialDrawer
from agent.drivers.simulator import NetworkPrinterSimulator, PtyScannerSimulator
from agent.errors import DrawerError, InputError
from agent.terminal import Terminal
from tests.support.printing import PAPER_LOADED, paper_out_terminal


def test_paper_out_is_told_to_the_cashier_and_the_retry_prints_once(tmp_path: Path) -> None:
    """GIVEN a networked printer out of paper WHEN a receipt is printed THEN the cashier gets
    «کاغذ چاپگر تمام شده است» and nothing is sent; WHEN paper is loaded and the cashier
    retries THEN the receipt prints exactly once, and a further retry prints nothing."""
    sim, terminal = paper_out_terminal(tmp_path)
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        sale = terminal.flow.sale(member.id, 1_000_000)
        with pytest.raises(PrinterNotReady) as caught:
            terminal.print_receipt(sale)
        assert caught.value.fa == "کاغذ چاپگر تمام شده است"
        sim.status = dict(PAPER_LOADED)
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


def _kicks_in(data: bytes) -> list[tuple[int, int, int]]:
    return drawer_kicks(decode(data))


def test_a_serial_drawer_opens_after_the_receipt_and_reports_its_switch(tmp_path: Path) -> None:
    """GIVEN drawer_transport = serial (loop://: CTS follows RTS) WHEN a receipt prints THEN
    the receipt carries no kick and the drawer's own port gets ESC p once; the cashier's
    device status reads the switch from CTS."""
    config = AgentConfig(
        data_dir=tmp_path / "terminal", drawer_transport="serial", drawer_url="loop://"
    )
    terminal = Terminal(config)
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        printed = terminal.print_receipt(terminal.flow.sale(member.id, 1_000_000))
        assert _kicks_in(printed.escpos) == []
        assert isinstance(terminal.drawer, ReopeningSerialDrawer)
        port = terminal.drawer._open().port
        assert port.read(64) == b"\x1bp\x00\x32\x32"
        port.rts = True  # the switch closed: the drawer is shut
        assert terminal.device_status()["drawer_open"] is False
        port.rts = False
        status = terminal.device_status()
        assert status["drawer_open"] is True and status["drawer_fa"] == "کشوی پول باز است"
    finally:
        terminal.close()


def test_a_serial_drawer_missing_at_boot_works_once_plugged_in(tmp_path: Path) -> None:
    """GIVEN a serial drawer whose stable link is missing at boot WHEN the terminal starts and
    a sale prints THEN the agent runs, the receipt prints, the drawer is 'unknown' and the
    cashier's button says the drawer did not open; WHEN it is plugged in THEN the next kick
    reaches it."""
    link = tmp_path / "drawer0"
    config = AgentConfig(
        data_dir=tmp_path / "terminal", drawer_transport="serial", drawer_url=str(link)
    )
    terminal = Terminal(config)
    line = PtyScannerSimulator()  # a pty stands in for the drawer's serial interface
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        assert terminal.print_receipt(terminal.flow.sale(member.id, 1_000_000)).printed
        assert terminal.device_status()["drawer_open"] is None
        with pytest.raises(DrawerError) as refused:
            terminal.drawer.kick()
        assert refused.value.fa == "کشوی پول باز نشد"
        link.symlink_to(line.port_path)
        terminal.drawer.kick()
        assert os.read(line.master_fd, 64) == b"\x1bp\x00\x32\x32"
    finally:
        terminal.close()
        line.close()


def test_no_drawer_means_no_kick_and_a_clear_answer(tmp_path: Path) -> None:
    """GIVEN drawer_transport = none WHEN a receipt prints THEN it carries no kick; WHEN the
    cashier presses 'open drawer' THEN a Persian answer that there is no drawer."""
    terminal = Terminal(AgentConfig(data_dir=tmp_path / "terminal", drawer_transport="none"))
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        printed = terminal.print_receipt(terminal.flow.sale(member.id, 1_000_000))
        assert _kicks_in(printed.escpos) == []
        with pytest.raises(NoDrawerConfigured) as refused:
            terminal.drawer.kick()
        assert "تعریف نشده" in refused.value.fa
        assert terminal.device_status()["drawer_open"] is None
    finally:
        terminal.close()


@pytest.mark.parametrize(
    ("settings", "wrong"),
    [
        ({"drawer_transport": "serial"}, "drawer_url is empty"),
        (
            {"drawer_transport": "serial", "drawer_url": "loop://", "drawer_sensor_line": "ri"},
            "drawer_sensor_line",
        ),
        ({"drawer_transport": "usb"}, "unknown drawer_transport"),
    ],
)
def test_a_wrong_drawer_setting_is_named(
    tmp_path: Path, settings: dict[str, str], wrong: str
) -> None:
    """GIVEN a drawer setting that cannot work THEN the terminal refuses to start, naming it."""
    with pytest.raises(InputError, match=wrong):
        Terminal(AgentConfig(data_dir=tmp_path / "terminal", **settings))  # type: ignore[arg-type]

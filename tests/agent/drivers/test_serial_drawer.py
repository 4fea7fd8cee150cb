"""A cash drawer on its own serial port, over ``loop://`` and a real pty."""

from __future__ import annotations

import os

import pytest

from agent.drivers.escpos_decoder import decode, drawer_kicks
from agent.drivers.serial_drawer import SerialDrawer, SerialDrawerSettings
from agent.drivers.simulator import PtyScannerSimulator
from agent.errors import DeviceError, DrawerError


def test_kick_writes_the_exact_command() -> None:
    """GIVEN a serial drawer WHEN kicked THEN ESC p 0 50 50 goes down the line, once."""
    drawer = SerialDrawer("loop://")
    drawer.kick()
    sent = drawer.port.read(64)
    drawer.close()
    assert sent == b"\x1bp\x00\x32\x32"
    assert drawer_kicks(decode(sent)) == [(2, 100, 100)]


@pytest.mark.parametrize(
    ("line", "open_when_high", "level", "is_open"),
    [
        ("cts", False, True, False),
        ("cts", False, False, True),
        ("dsr", False, False, True),
        ("dsr", True, True, True),
        ("cts", True, False, False),
    ],
)
def test_sensor_line_tells_open_from_closed(
    line: str, open_when_high: bool, level: bool, is_open: bool
) -> None:
    """GIVEN the drawer switch on CTS or DSR WHEN the line goes high or low THEN open/closed
    follows the configured polarity (loop:// wires RTS to CTS and DTR to DSR)."""
    drawer = SerialDrawer(
        "loop://", SerialDrawerSettings(sensor_line=line, open_when_high=open_when_high)
    )
    if line == "cts":
        drawer.port.rts = level
    else:
        drawer.port.dtr = level
    assert drawer.is_open() is is_open
    drawer.close()


def test_drawer_opening_and_closing_is_seen() -> None:
    """GIVEN a closed drawer WHEN kicked and the switch opens, then it is pushed shut THEN the
    sensor reads closed, open, closed."""
    drawer = SerialDrawer("loop://")
    drawer.port.rts = True  # switch closed: line high
    seen = [drawer.is_open()]
    drawer.kick()
    drawer.port.rts = False
    seen.append(drawer.is_open())
    drawer.port.rts = True
    seen.append(drawer.is_open())
    drawer.close()
    assert seen == [False, True, False]


def test_no_sensor_says_unknown() -> None:
    drawer = SerialDrawer("loop://", SerialDrawerSettings(sensor_line="none"))
    assert drawer.is_open() is None
    drawer.close()


def test_a_pty_has_no_modem_lines_so_the_sensor_is_unknown() -> None:
    """GIVEN a drawer on a pty (no modem status lines) WHEN read THEN unknown, not a crash;
    the kick still reaches the other end."""
    pty = PtyScannerSimulator()
    drawer = SerialDrawer(pty.port_path)
    assert drawer.is_open() is None
    drawer.kick()
    assert os.read(pty.master_fd, 64) == b"\x1bp\x00\x32\x32"
    drawer.close()
    pty.close()


def test_missing_port_and_unplugged_port_are_drawer_errors() -> None:
    with pytest.raises(DrawerError, match="cannot open"):
        SerialDrawer("/dev/does-not-exist-vafa-drawer")
    drawer = SerialDrawer("loop://")
    drawer.close()
    with pytest.raises(DrawerError) as caught:
        drawer.kick()
    assert isinstance(caught.value, DeviceError) and caught.value.fa == "کشوی پول باز نشد"


def test_a_bad_sensor_line_is_refused() -> None:
    with pytest.raises(ValueError, match="sensor_line"):
        SerialDrawerSettings(sensor_line="rts")

"""A cash drawer with its own serial port (an RS-232 drawer interface or a USB-serial one).

Such a drawer opens on a short command written to its port and reports its open/closed
switch on a modem status line (CTS, DSR or CD), read through pyserial. The port is opened
with ``serial.serial_for_url`` so tests drive it over ``loop://`` (where CTS follows RTS and
DSR follows DTR) and ptys, never a patched ``serial.Serial``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import serial

from agent.drivers.base import Drawer
from agent.drivers.profiles import SerialSettings
from agent.errors import DrawerError

SENSOR_LINES = ("cts", "dsr", "cd", "none")


@dataclass(frozen=True)
class SerialDrawerSettings:
    """How one serial drawer is kicked and sensed."""

    kick: bytes = b"\x1bp\x00\x32\x32"  # ESC p 0 50 50: what most drawer interfaces accept
    sensor_line: str = "cts"
    open_when_high: bool = False  # most drawer switches close (line high) when the drawer is shut
    serial: SerialSettings = field(default_factory=SerialSettings)

    def __post_init__(self) -> None:
        if self.sensor_line not in SENSOR_LINES:
            raise ValueError(f"sensor_line must be one of {', '.join(SENSOR_LINES)}")


class SerialDrawer(Drawer):
    """Kick a drawer and read its switch through its own serial port."""

    def __init__(self, url: str, settings: SerialDrawerSettings | None = None) -> None:
        self.settings = settings or SerialDrawerSettings()
        line = self.settings.serial
        try:
            self.port = serial.serial_for_url(
                url,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=line.parity,
                stopbits=line.stopbits,
                rtscts=line.rtscts,
                xonxoff=line.xonxoff,
                dsrdtr=line.dsrdtr,
                timeout=line.timeout_s,
                write_timeout=line.timeout_s,
            )
        except (serial.SerialException, ValueError) as exc:
            raise DrawerError(f"cannot open drawer at {url}: {exc}") from exc

    def kick(self) -> None:
        """Write the kick command; a stuck or missing port is a DrawerError."""
        try:
            self.port.write(self.settings.kick)
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DrawerError(f"drawer did not take the kick: {exc}") from exc

    def is_open(self) -> bool | None:
        """Read the switch on the sensor line; None without a sensor or when it cannot be read."""
        name = self.settings.sensor_line
        if name == "none":
            return None
        try:
            high = bool(getattr(self.port, name))
        except (serial.SerialException, OSError):
            return None  # a pty or a port without modem lines: the drawer does not say
        return high == self.settings.open_when_high

    def close(self) -> None:
        """Close the port."""
        self.port.close()

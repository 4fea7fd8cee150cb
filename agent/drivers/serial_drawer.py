"""A cash drawer with its own serial port (an RS-232 drawer interface or a USB-serial one).

Such a drawer opens on a short command written to its port and reports its open/closed
switch on a modem status line (CTS, DSR or CD), read through pyserial. The port is opened
with ``serial.serial_for_url`` so tests drive it over ``loop://`` (where CTS follows RTS and
DSR follows DTR) and ptys, never a patched ``serial.Serial``.
"""

from __future__ import annotations

import contextlib
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


class ReopeningSerialDrawer(Drawer):
    """A serial drawer that survives being unplugged: the port is opened when first needed,
    closed after any failure and opened again on the next kick or sensor read, so a drawer
    missing at boot or replugged later simply works again and never stops the agent."""

    def __init__(self, url: str, settings: SerialDrawerSettings | None = None) -> None:
        self.url = url
        self.settings = settings or SerialDrawerSettings()
        self.drawer: SerialDrawer | None = None

    def _open(self) -> SerialDrawer:
        if self.drawer is None:
            self.drawer = SerialDrawer(self.url, self.settings)
        return self.drawer

    def kick(self) -> None:
        """Open the port if needed and kick; on failure close it and raise DrawerError."""
        try:
            self._open().kick()
        except DrawerError:
            self.close()
            raise

    def is_open(self) -> bool | None:
        """Read the switch; None when the drawer is missing or has no sensor."""
        try:
            return self._open().is_open()
        except DrawerError:
            self.close()
            return None

    def close(self) -> None:
        """Close the port if it is open."""
        drawer, self.drawer = self.drawer, None
        if drawer is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                drawer.close()


class NoDrawer(Drawer):
    """The terminal has no cash drawer: asking it to open says so, in Persian too."""

    def kick(self) -> None:
        """Refuse: there is nothing to open."""
        raise NoDrawerConfigured("no cash drawer is configured (drawer_transport = none)")


class NoDrawerConfigured(DrawerError):
    """The cashier pressed 'open drawer' on a terminal set up without one."""

    fa = "برای این صندوق کشوی پول تعریف نشده است"

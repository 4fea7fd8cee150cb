"""One base per device role. Transports subclass these; the rest of the agent sees only them."""

from __future__ import annotations

from abc import ABC, abstractmethod

from agent.drivers.printer_status import PrinterStatus


class Scanner(ABC):
    """Something that yields scanned codes (barcodes, QR tokens, card numbers)."""

    @abstractmethod
    def read(self, timeout: float) -> str | None:
        """Return the next complete code, or None if none arrived within ``timeout`` seconds."""

    def close(self) -> None:
        """Release the device."""


class Printer(ABC):
    """Something that accepts ESC/POS bytes."""

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Send bytes to the printer; raise PrinterError if they cannot be delivered."""

    def status(self) -> PrinterStatus:
        """Ask the printer how it is; a printer that cannot be asked is unknown, never offline."""
        return PrinterStatus()

    def replugged(self) -> None:
        """Hear that the printer's device came back (hot-plug): open it afresh for the next job."""

    def close(self) -> None:
        """Release the device."""


class Drawer(ABC):
    """A cash drawer."""

    @abstractmethod
    def kick(self) -> None:
        """Open the drawer."""

    def is_open(self) -> bool | None:
        """Tell whether the drawer is open; None where the hardware has no sensor."""
        return None

    def close(self) -> None:
        """Release the device."""

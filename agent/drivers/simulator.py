"""Simulated devices for the demo and the tests: a scanner behind a real pty."""

from __future__ import annotations

import contextlib
import os
import pty
import tty


class PtyScannerSimulator:
    """A pty pair: the agent opens ``port_path`` like a real serial scanner; we type into it."""

    def __init__(self, suffix: str = "\r\n") -> None:
        self.master_fd, self.slave_fd = pty.openpty()
        tty.setraw(self.slave_fd)  # no echo, no line discipline: bytes pass as a UART would
        self.port_path = os.ttyname(self.slave_fd)
        self.suffix = suffix

    def scan(self, code: str) -> None:
        """Send one code as the scanner would: the code, then its suffix."""
        os.write(self.master_fd, (code + self.suffix).encode())

    def write_raw(self, data: bytes) -> None:
        """Send arbitrary bytes (garbage, partial frames) down the line."""
        os.write(self.master_fd, data)

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.master_fd, self.slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

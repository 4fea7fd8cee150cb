"""Keep a scanner readable across unplugs: reopen it with backoff, never in a busy loop.

A USB-serial scanner that is pulled out makes every read fail; one that is plugged back
in appears at the same stable path (``/dev/serial/by-id/...``). The wrapper closes the dead
device, waits (0.1 s, 0.2 s, 0.4 s ... up to ``max_delay``) between attempts to reopen it,
and logs only changes of state: "unplugged", then "back".
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from agent.drivers.base import Scanner
from agent.errors import ScannerError

log = logging.getLogger(__name__)


class ReconnectingScanner(Scanner):
    """A scanner that survives unplugs by reopening itself through ``opener``."""

    def __init__(
        self,
        opener: Callable[[], Scanner],
        name: str = "scanner",
        first_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.opener = opener
        self.name = name
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.clock = clock
        self.delay = first_delay
        self.scanner: Scanner | None = None
        self.attempts = 0  # reopen attempts since the last unplug, for health pages and tests
        self.last_success: float | None = None
        self._connect(first=True)

    @property
    def connected(self) -> bool:
        """Tell whether the device is open now."""
        return self.scanner is not None

    def read(self, timeout: float) -> str | None:
        """Return the next code, or None after ``timeout`` (also while the device is away)."""
        deadline = self.clock() + timeout
        while True:
            remaining = deadline - self.clock()
            if self.scanner is None:
                if remaining <= 0:
                    return None
                self._wait_and_reconnect(remaining)
                continue
            try:
                code = self.scanner.read(max(0.0, deadline - self.clock()))
            except ScannerError as exc:
                self._drop(exc)
                continue
            if code is not None:
                self.last_success = self.clock()
            return code

    def _wait_and_reconnect(self, remaining: float) -> bool:
        self.sleep(min(self.delay, remaining))
        self.delay = min(self.delay * 2, self.max_delay)
        return self._connect()

    def _connect(self, first: bool = False) -> bool:
        self.attempts += 1
        try:
            self.scanner = self.opener()
        except ScannerError as exc:
            if first:
                log.warning("%s is not there yet, will keep trying: %s", self.name, exc)
            return False
        if not first:
            log.warning("%s is back after %d attempts", self.name, self.attempts)
        self.delay, self.attempts = self.first_delay, 0
        return True

    def _drop(self, exc: ScannerError) -> None:
        log.warning("%s unplugged (%s); reconnecting with backoff", self.name, exc)
        if self.scanner is not None:
            with contextlib.suppress(Exception):
                self.scanner.close()
        self.scanner = None
        self.attempts = 0

    def close(self) -> None:
        """Close the device if it is open."""
        if self.scanner is not None:
            self.scanner.close()
            self.scanner = None

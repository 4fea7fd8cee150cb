"""Drain the outbox in the background: one owner of the interval, one typed failure,
a log line only when the state changes, and ``last_success`` for the owner's page."""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
import threading
from collections.abc import Callable

from agent.errors import SyncError
from agent.offline_queue import status
from agent.offline_queue.pull import pull
from agent.offline_queue.sync import SyncClient
from common.persian import now_tehran
from common.pii import PiiVault

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0


class SyncPoller:
    """Push queued events every ``interval`` seconds, backing off with jitter when offline."""

    def __init__(
        self, conn: sqlite3.Connection, vault: PiiVault, client: SyncClient, interval: float
    ) -> None:
        self.conn = conn  # a connection of its own: sqlite3 connections are not shared
        self.on_rules_changed: Callable[[], None] | None = None
        self.vault = vault
        self.client = client
        self.interval = interval
        self.online = True
        self.last_success: dt.datetime | None = None
        self.last_error = ""
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        """Try one drain; return whether it succeeded."""
        try:
            if self.client.drain(self.conn, self.vault).sent:  # a push with nothing sends nothing
                status.record_success(self.conn, status.LAST_PUSH)
            pulled = pull(self.client, self.conn, self.vault)
            status.record_success(self.conn, status.LAST_PULL)
        except SyncError as exc:
            self.failures += 1
            self.last_error = str(exc)
            status.record_failure(self.conn, str(exc))
            if self.online:
                log.warning("sync offline: %s", exc)
            self.online = False
            return False
        if not self.online:
            log.info("sync recovered after %d failed attempt(s)", self.failures)
        self.online, self.failures, self.last_error = True, 0, ""
        self.last_success = now_tehran()
        if pulled.rules_changed and self.on_rules_changed is not None:
            self.on_rules_changed()
        return True

    def next_delay(self) -> float:
        """Return the wait before the next attempt: the interval, or backoff with jitter."""
        if self.online:
            return self.interval
        backoff = min(MAX_BACKOFF_S, self.interval * 2 ** min(self.failures, 10))
        return random.uniform(backoff / 2, backoff)

    def start(self) -> None:
        """Start draining in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="vafa-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current attempt."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.next_delay())

"""The agent tells systemd it is ready and keeps its watchdog fed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.service import sd_notify, start_watchdog


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """Listen where systemd would, and point NOTIFY_SOCKET at it."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_reaches_the_socket(notify_socket: socket.socket) -> None:
    """GIVEN NOTIFY_SOCKET WHEN the agent notifies THEN systemd reads READY=1."""
    assert sd_notify("READY=1")
    assert notify_socket.recv(100) == b"READY=1"


def test_no_socket_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN no NOTIFY_SOCKET (run by hand) WHEN notifying THEN nothing is sent."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sd_notify("READY=1")


def test_watchdog_pings_at_half_the_interval(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN WatchdogSec=0.2 s WHEN the watchdog runs THEN WATCHDOG=1 arrives repeatedly."""
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    stop = threading.Event()
    thread = start_watchdog(None, stop)
    assert thread is not None
    try:
        assert [notify_socket.recv(100) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_no_watchdog_without_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN no WatchdogSec WHEN starting THEN no watchdog thread runs."""
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert start_watchdog(None, threading.Event()) is None

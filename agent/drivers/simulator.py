"""Simulated devices for the demo and the tests: a pty scanner and a network printer."""

from __future__ import annotations

import contextlib
import os
import pty
import socket
import threading
import time
import tty
from pathlib import Path

from agent.drivers.escpos_decoder import decode, drawer_kicks, receipt_image
from agent.drivers.printer_status import DLE_EOT


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


class NetworkPrinterSimulator:
    """A 9100-style printer on a loopback TCP port that decodes what it receives into PNGs.

    It answers DLE EOT n with ``status[n]`` (leave a key out to stay silent, as many
    printers do), keeps every connection's bytes as one job, writes each job's raster to
    ``out_dir/job-N.png`` and records drawer kicks, so tests see what a printer would do.
    """

    def __init__(self, out_dir: Path | None = None, status: dict[int, int] | None = None) -> None:
        self.out_dir = out_dir
        self.status: dict[int, int] = dict(status or {})
        self.jobs: list[bytes] = []
        self.kicks: list[tuple[int, int, int]] = []
        self.images: list[Path] = []
        self.status_queries = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port: int = self._server.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="printer-sim", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """Return ``host:port`` as the agent's network transport expects it."""
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._job(conn)

    def _job(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        received = bytearray()
        while not self._stopping.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            received += self._answer(conn, chunk)
        self._finish(bytes(received))

    def _answer(self, conn: socket.socket, chunk: bytes) -> bytes:
        """Answer a status query sent on its own; return the bytes that are print data."""
        if len(chunk) == 3 and chunk[:2] == DLE_EOT:
            self.status_queries += 1
            answer = self.status.get(chunk[2])
            if answer is not None:
                conn.sendall(bytes([answer]))
            return b""
        return chunk

    def _finish(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self.jobs.append(data)
            self.kicks.extend(drawer_kicks(decode(data)))
            image = receipt_image(data)
            if image is not None and self.out_dir is not None:
                path = self.out_dir / f"job-{len(self.jobs)}.png"
                image.save(path)
                self.images.append(path)

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """Wait until ``count`` jobs have been received; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.jobs) >= count:
                    return list(self.jobs)
            self._stopping.wait(0.02)
        raise TimeoutError(f"printer simulator got {len(self.jobs)} jobs, expected {count}")

    def close(self) -> None:
        """Stop listening and wait for the server thread."""
        self._stopping.set()
        self._server.close()
        self._thread.join(timeout=2)

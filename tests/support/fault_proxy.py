"""A fault-injecting HTTP proxy on loopback, between a terminal and the cloud.

Every request travels on a connection of its own (``Connection: close``) so each can meet
its own fault, chosen by a seeded random generator:

- ``drop``: the request is swallowed; the client sees its connection closed.
- ``reset``: the client's connection is reset (RST) before anything is forwarded.
- ``delay``: the request waits before it is forwarded.
- ``lose_response``: the cloud gets the request and commits, the client never hears back.
- ``duplicate``: the cloud gets the request twice.
- ``replay_later``: a copy of the request is kept and delivered later, after newer ones.

The proxy only ever connects to the loopback upstream it was given.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

FAULTS = ("drop", "reset", "delay", "lose_response", "duplicate", "replay_later")


@dataclass
class FaultPlan:
    """How often each fault strikes (probabilities per request), and the seed."""

    rates: dict[str, float] = field(
        default_factory=lambda: {
            "drop": 0.05,
            "reset": 0.05,
            "delay": 0.10,
            "lose_response": 0.10,
            "duplicate": 0.05,
            "replay_later": 0.05,
        }
    )
    max_delay_s: float = 0.05
    seed: int = 1


class FaultProxy:
    """A threaded proxy from a loopback port to a loopback upstream, injecting faults."""

    def __init__(self, upstream_port: int, plan: FaultPlan) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.held: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _choose(self) -> str:
        with self.lock:
            roll, total = self.rng.random(), 0.0
            for fault in FAULTS:
                total += self.plan.rates.get(fault, 0.0)
                if roll < total:
                    self.counts[fault] += 1
                    return fault
            self.counts["clean"] += 1
            return "clean"

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            if request is None:
                return
            fault = self._choose()
            if fault == "drop":
                return
            if fault == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if fault == "delay":
                time.sleep(self.rng.uniform(0, self.plan.max_delay_s))
            self._release_held()
            response = self._forward(request)
            if fault == "duplicate":
                self._forward(request)
            if fault == "replay_later":
                with self.lock:
                    self.held.append(request)
            if fault != "lose_response":
                client.sendall(response)

    def _release_held(self) -> None:
        with self.lock:
            held, self.held = self.held, []
        for request in held:
            self._forward(request)

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=30) as upstream:
            upstream.sendall(request)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def _read_request(client: socket.socket) -> bytes | None:
    """Read one HTTP request (headers and Content-Length body); force Connection: close."""
    client.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        body += chunk
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body

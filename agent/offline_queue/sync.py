"""Push the outbox to the cloud: signed batches, acknowledged event by event.

Delivery is at-least-once; the cloud applies each event id once, so resending after a
lost response is safe. The cloud's clock decides whether a request is fresh: the
client learns the offset from every response, so a terminal whose clock is days off
still signs requests the cloud accepts.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx

from agent.errors import SyncError
from agent.identity import TerminalIdentity
from agent.ledger.db import write_transaction
from agent.offline_queue import outbox
from common.persian import now_tehran
from common.pii import PiiVault
from common.protocol import canonical_json
from common.signing import sign_request

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/sync/events"
try:
    AGENT_VERSION = version("vafa")
except PackageNotFoundError:  # run from a source tree that was never installed
    AGENT_VERSION = "0+unknown"
SERVER_TIME_HEADER = "X-Vafa-Server-Time"


@dataclass
class DrainResult:
    """What one drain achieved."""

    sent: int = 0
    acked: int = 0
    batches: int = 0
    gaps: list[list[int]] = field(default_factory=list)


class SyncClient:
    """Sends signed requests to the cloud as one enrolled terminal."""

    def __init__(
        self,
        identity: TerminalIdentity,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.identity = identity
        self.http = httpx.Client(base_url=identity.cloud_url, transport=transport, timeout=timeout)
        self.clock_offset = 0.0

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def send_signed(self, path: str, obj: Any) -> httpx.Response:
        """POST a signed JSON body and return the answer, whatever its status; retry once if
        the cloud says our clock is off. Raise SyncError only if the cloud cannot be reached."""
        body = canonical_json(obj)
        response = self._send(path, body)
        if response.status_code == 401 and error_code(response) == "stale_time":
            response = self._send(path, body)  # the clock was learned from this answer
        return response

    def post_signed(self, path: str, obj: Any) -> dict[str, Any]:
        """POST a signed JSON body; retry once if the cloud says our clock is off."""
        response = self.send_signed(path, obj)
        if response.status_code != 200:
            raise SyncError(
                f"cloud answered {response.status_code} on {path}: {response.text[:300]}"
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise SyncError(f"cloud answered {path} with something not JSON: {exc}") from exc
        if not isinstance(answer, dict):
            raise SyncError(f"cloud answered {path} with a JSON {type(answer).__name__}")
        return answer

    def _send(self, path: str, body: bytes) -> httpx.Response:
        headers = sign_request(
            self.identity.private_key,
            self.identity.terminal_id,
            "POST",
            path,
            body,
            now=time.time() + self.clock_offset,
        )
        headers["Content-Type"] = "application/json"
        try:
            response = self.http.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SyncError(f"cannot reach the cloud: {exc!r}") from exc
        self._learn_clock(response)
        return response

    def _learn_clock(self, response: httpx.Response) -> None:
        server_time = response.headers.get(SERVER_TIME_HEADER)
        if server_time:
            self.clock_offset = float(server_time) - time.time()

    def push_batch(self, conn: sqlite3.Connection, vault: PiiVault, size: int) -> DrainResult:
        """Send one batch of pending events and record the acknowledgements."""
        events = outbox.pending(conn, vault, size)
        if not events:
            return DrainResult()
        answer = self.post_signed(
            EVENTS_PATH, {"events": [e.to_dict() for e in events], "agent": report(conn)}
        )
        done = [r["id"] for r in answer["results"] if r["status"] in ("applied", "duplicate")]
        refused = [r for r in answer["results"] if r["status"] == "rejected"]
        with write_transaction(conn):
            acked = outbox.mark_acked(conn, done, now_tehran().isoformat())
        if refused:
            raise SyncError(f"cloud refused {len(refused)} event(s): {refused[:3]}")
        return DrainResult(sent=len(events), acked=acked, batches=1, gaps=answer.get("gaps", []))

    def drain(
        self, conn: sqlite3.Connection, vault: PiiVault, batch_size: int = 500
    ) -> DrainResult:
        """Send batches until the outbox is empty; raise SyncError on the first failure."""
        total = DrainResult()
        while True:
            result = self.push_batch(conn, vault, batch_size)
            if not result.sent:
                return total
            if not result.acked:
                raise SyncError(f"cloud acknowledged none of {result.sent} events")
            total.sent += result.sent
            total.acked += result.acked
            total.batches += 1
            total.gaps = result.gaps


def report(conn: sqlite3.Connection) -> dict[str, Any]:
    """What a sync request tells the cloud of this terminal, for HQ's fleet page."""
    return {"version": AGENT_VERSION, "queue_depth": outbox.depth(conn)}


def error_code(response: httpx.Response) -> str:
    """Return the cloud's error code of a JSON error answer ('' if it is not one)."""
    try:
        body = response.json()
    except ValueError:  # e.g. a proxy's HTML page
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""

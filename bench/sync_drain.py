"""Drain an offline backlog to a cloud over real HTTP on loopback (target: 10,000 < 10 s)."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from agent.config import AgentConfig
from agent.identity import enroll
from agent.offline_queue import outbox
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.app import create_app
from cloud.fleet import create_enrolment_code, create_store

EVENTS = 10_000


def main() -> None:
    """Print how long a 10,000-event backlog takes to drain."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{folder / 'cloud.db'}",
                "PII_KEY_FILE": str(folder / "cloud.key"),
                "SECRET_KEY": "bench",
            }
        )
        engine = app.extensions["vafa"].engine
        with engine.begin() as conn:
            code = create_enrolment_code(conn, create_store(conn, "bench"))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        config = AgentConfig(data_dir=folder / "terminal", cloud_url=url)
        identity = enroll(url, code, config.data_dir)
        terminal = Terminal(config)
        member = terminal.flow.enrol("09120000000", "بنچ", consent=True)
        for index in range(EVENTS - 1):
            terminal.flow.sale(member.id, 100_000 + index)
        client = SyncClient(identity)
        start = time.perf_counter()
        result = client.drain(terminal.conn, terminal.vault, batch_size=500)
        elapsed = time.perf_counter() - start
        assert outbox.depth(terminal.conn) == 0
        print(
            f"drained {result.acked} events in {result.batches} batches: {elapsed:.2f} s "
            f"({result.acked / elapsed:.0f} events/s, cloud on SQLite, loopback HTTP)"
        )
        client.close()
        terminal.close()
        server.shutdown()
        engine.dispose()


if __name__ == "__main__":
    main()

"""Serve a WSGI app (the Flask cloud, the agent's web pages) on loopback for a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from wsgiref.types import WSGIApplication

from werkzeug.serving import make_server


@contextmanager
def live_server(app: WSGIApplication) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield ``http://127.0.0.1:PORT``."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()

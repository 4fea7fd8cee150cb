"""``vafa-agent run``: the long-running terminal service.

Serves the local web page with waitress and drains the outbox in the background when the
terminal is enrolled. (The live scanner feed to the cashier screen arrives with #6.)
"""

from __future__ import annotations

import logging

from waitress import serve as waitress_serve

from agent.errors import NotEnrolled
from agent.identity import load_identity
from agent.ledger import db
from agent.metrics import start_metrics
from agent.offline_queue.poller import SyncPoller
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from agent.web.app import create_app

log = logging.getLogger(__name__)


def start_sync(terminal: Terminal) -> SyncPoller | None:
    """Start the background drain if this terminal is enrolled; return the poller."""
    try:
        identity = load_identity(terminal.config.data_dir)
    except NotEnrolled as exc:
        log.warning("not syncing: %s", exc)
        return None
    # The poller gets a connection of its own: sqlite3 connections are not shared by threads.
    poller = SyncPoller(
        db.connect(terminal.config.database, check_integrity=False),
        terminal.vault,
        SyncClient(identity),
        terminal.config.sync_interval_s,
    )
    poller.on_rules_changed = terminal.refresh_rules
    poller.start()
    return poller


def serve(terminal: Terminal) -> None:
    """Run the web page and background sync until interrupted."""
    poller = start_sync(terminal)
    config = terminal.config
    metrics = start_metrics(config.web_host, config.metrics_port, config.database, poller)
    log.info("owner page on http://%s:%d/", config.web_host, config.web_port)
    try:
        waitress_serve(create_app(terminal), host=config.web_host, port=config.web_port, threads=4)
    finally:
        if poller is not None:
            poller.stop()
        if metrics is not None:
            metrics.shutdown()

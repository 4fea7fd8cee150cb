"""Prometheus metrics of the terminal, on a port of their own (``metrics_port``).

Figures come from the ledger at each scrape (through a read-only connection of the
scrape's own, since sqlite3 connections are not shared between threads) and from the sync
poller's state, so a restart never resets them to zero.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.offline_queue.poller import SyncPoller


class TerminalCollector(Collector):
    """Read sales, points, the outbox and the sync state at each scrape."""

    def __init__(self, database: Path, poller: SyncPoller | None) -> None:
        self.database = database
        self.poller = poller

    def collect(self) -> Iterator[Metric]:
        """Yield the terminal's metrics."""
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as conn:
            sales, refunds, redeemed = conn.execute(
                "SELECT COUNT(*), COUNT(refunded_at), COALESCE(SUM(points_redeemed), 0) FROM sales"
            ).fetchone()
            depth, oldest = conn.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE acked_at IS NULL"
            ).fetchone()
            (liability,) = conn.execute(
                "SELECT COALESCE(SUM(b.balance), 0) FROM balances b JOIN accounts a"
                " ON a.id = b.account_id WHERE a.kind IN ('member_points', 'member_drawn')"
            ).fetchone()
        yield CounterMetricFamily("vafa_agent_sales", "Sales recorded at this terminal", sales)
        yield CounterMetricFamily("vafa_agent_refunds", "Sales refunded", refunds)
        yield CounterMetricFamily("vafa_agent_points_redeemed", "Points redeemed", redeemed)
        yield GaugeMetricFamily("vafa_agent_queue_depth", "Events waiting for the cloud", depth)
        yield GaugeMetricFamily(
            "vafa_agent_queue_oldest_age_seconds",
            "Age of the oldest event waiting for the cloud (0 when none waits)",
            _age(oldest),
        )
        yield GaugeMetricFamily("vafa_agent_points_liability", "Members' points here", liability)
        yield from self._sync()

    def _sync(self) -> Iterator[Metric]:
        poller = self.poller
        yield GaugeMetricFamily(
            "vafa_agent_sync_online", "1 if the last sync reached the cloud", _online(poller)
        )
        if poller is not None:
            yield GaugeMetricFamily(
                "vafa_agent_sync_failures", "Sync attempts failed in a row", poller.failures
            )
            last = poller.last_success.timestamp() if poller.last_success else 0
            yield GaugeMetricFamily(
                "vafa_agent_sync_last_success_timestamp_seconds", "Last successful sync", last
            )


def _online(poller: SyncPoller | None) -> float:
    return 1.0 if poller is not None and poller.online and poller.last_success else 0.0


def _age(created_at: str | None) -> float:
    if not created_at:
        return 0.0
    moment = dt.datetime.fromisoformat(created_at)
    return max(0.0, (dt.datetime.now(dt.UTC) - moment).total_seconds())


def registry_for(database: Path, poller: SyncPoller | None) -> CollectorRegistry:
    """Return a registry holding the terminal's collector."""
    registry = CollectorRegistry()
    registry.register(TerminalCollector(database, poller))
    return registry


def start_metrics(host: str, port: int, database: Path, poller: SyncPoller | None) -> Any:
    """Serve /metrics on ``host:port`` in a daemon thread; return the server (0: none)."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=host, registry=registry_for(database, poller))
    return server

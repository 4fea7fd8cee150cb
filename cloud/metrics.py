"""Prometheus metrics of the cloud at ``/metrics``: traffic, ingest outcomes, fleet health.

Counters and histograms live in the app's own registry (tests build many apps). Under
gunicorn, set PROMETHEUS_MULTIPROC_DIR to an empty folder: every worker then writes its
samples there and ``/metrics`` adds them up. Fleet figures (terminals, gaps, members,
overdrafts) are read from the database at each scrape, so every worker gives the same.
If the METRICS_TOKEN setting is set, a scrape must send it as a bearer token.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cloud.balances import overdraft_totals
from cloud.context import ctx
from cloud.errors import Unauthorized
from cloud.tables import members, terminals
from common.protocol import EVENT_KINDS

bp = Blueprint("metrics", __name__)


class CloudMetrics:
    """The cloud's own counters, registered in one registry per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vafa_cloud_requests",
            "HTTP requests answered",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vafa_cloud_request_seconds",
            "Time to answer a request",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.events = Counter(
            "vafa_cloud_events",
            "Terminal events by kind and outcome",
            ["kind", "status"],
            registry=self.registry,
        )


class FleetCollector(Collector):
    """Read the fleet's state from the database at each scrape."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        """Yield gauges of terminals, sequence gaps, members and overdrafts."""
        with self.engine.connect() as conn:
            active, revoked, gaps = conn.execute(
                sa.select(
                    sa.func.count().filter(terminals.c.revoked_at.is_(None)),
                    sa.func.count().filter(terminals.c.revoked_at.is_not(None)),
                    sa.func.count().filter(terminals.c.contiguous_seq < terminals.c.highest_seq),
                )
            ).one()
            count = conn.execute(sa.select(sa.func.count()).select_from(members)).scalar_one()
            overdrawn, owed = overdraft_totals(conn)
        fleet = GaugeMetricFamily("vafa_cloud_terminals", "Enrolled terminals", labels=["state"])
        fleet.add_metric(["active"], active)
        fleet.add_metric(["revoked"], revoked)
        yield fleet
        yield GaugeMetricFamily(
            "vafa_cloud_terminals_with_gaps", "Terminals missing events in their sequence", gaps
        )
        yield GaugeMetricFamily("vafa_cloud_members", "Members in the chain", count)
        yield GaugeMetricFamily(
            "vafa_cloud_overdrawn_members", "Members whose points went below zero", overdrawn
        )
        yield GaugeMetricFamily("vafa_cloud_overdraft_points", "Points members owe", owed)


def install(app: Flask) -> None:
    """Count every request of ``app`` and serve ``/metrics``."""
    app.extensions["vafa_metrics"] = CloudMetrics()
    app.before_request(_start_timer)
    app.after_request(_count)
    app.register_blueprint(bp)


def metrics() -> CloudMetrics:
    """Return the current app's metrics."""
    found: CloudMetrics = current_app.extensions["vafa_metrics"]
    return found


def count_events(results: list[dict[str, Any]], kinds: dict[Any, str]) -> None:
    """Count a batch's events by kind and outcome (applied, duplicate, rejected)."""
    for result in results:
        event_id = result.get("id")
        kind = kinds.get(event_id, "unknown") if isinstance(event_id, str) else "unknown"
        kind = kind if kind in EVENT_KINDS else "unknown"  # labels must not grow with input
        metrics().events.labels(kind=kind, status=result["status"]).inc()


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    started = g.get("metrics_started")
    found = metrics()
    found.requests.labels(endpoint=endpoint, status=str(response.status_code)).inc()
    if started is not None:
        found.latency.labels(endpoint=endpoint).observe(time.perf_counter() - started)
    return response


@bp.get("/metrics")
def scrape() -> Response:
    """Serve every metric in Prometheus' text format."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), str(token).encode()):
            raise Unauthorized("metrics need the bearer token", fa="ورود لازم است")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = metrics().registry
    body = generate_latest(registry) + generate_latest(_fleet_registry())
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _fleet_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(FleetCollector(ctx().engine))
    return registry

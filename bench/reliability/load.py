"""Hundreds of terminals syncing at once against several cloud workers on PostgreSQL.

The cloud runs under gunicorn with several worker processes on a throwaway PostgreSQL
cluster. Each simulated terminal is the real agent code (its own SQLite file, its own
Ed25519 key, enrolled over HTTP) with a backlog of sales; all of them start draining in the
same instant, then pull. Every request's latency is measured at the terminal.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from agent.config import AgentConfig
from agent.demo import free_port, wait_healthy
from agent.identity import enroll
from agent.offline_queue import outbox
from agent.offline_queue.pull import pull
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.fleet import create_enrolment_code, create_store
from cloud.storage import make_engine, migrate


@dataclass
class LoadReport:
    """What the load run did and measured."""

    terminals: int
    workers: int
    events: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class TimedClient(SyncClient):
    """A sync client that records how long each request took."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.latencies: list[float] = []

    def _send(self, path: str, body: bytes) -> httpx.Response:
        start = time.perf_counter()
        try:
            return super()._send(path, body)
        finally:
            self.latencies.append(time.perf_counter() - start)


def _gunicorn(url: str, folder: Path, workers: int, port: int) -> subprocess.Popen[bytes]:
    """Start gunicorn on the cloud app; its output goes to gunicorn.log in ``folder``."""
    env = dict(
        os.environ,
        VAFA_CLOUD_DATABASE_URL=url,
        VAFA_CLOUD_PII_KEY_FILE=str(folder / "pii.key"),
        VAFA_CLOUD_SECRET_KEY="load-test-secret",
        VAFA_CLOUD_AUTO_MIGRATE="false",
        PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),  # workers' samples, added up
    )
    (folder / "prometheus").mkdir(exist_ok=True)
    with (folder / "gunicorn.log").open("w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "cloud.app:create_app()",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def run(terminals: int, workers: int, sales_each: int) -> LoadReport:
    """Run the load scenario; raise AssertionError on any error or lost event."""
    from tests.support.postgres import start_postgres

    folder = Path(tempfile.mkdtemp(prefix="vafa-load-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="vafa-load-pg-"))  # handed to the postgres user
    url, stop = start_postgres(pg_dir)
    engine = make_engine(url)
    server = None
    try:
        migrate(engine)
        with engine.begin() as conn:
            codes = [
                create_enrolment_code(conn, create_store(conn, f"شعبه {n}"))
                for n in range(terminals)
            ]
        port = free_port()
        server = _gunicorn(url, folder, workers, port)
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server)
        fleet = _build_fleet(folder, base, codes, sales_each)
        report = _storm(fleet, workers)
        with engine.connect() as conn:
            events = conn.execute(sa.text("SELECT COUNT(*) FROM events")).scalar_one()
        expected = sum(
            t.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] for t, _ in fleet
        )
        assert events == expected == report.events, (events, expected, report.events)
        assert all(outbox.depth(t.conn) == 0 for t, _ in fleet), "an outbox did not drain"
        assert _applied_per_metrics(base) == events, "the workers' metrics lost events"
        for terminal, client in fleet:
            client.close()
            terminal.close()
        return report
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        engine.dispose()
        stop()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(pg_dir, ignore_errors=True)


def _applied_per_metrics(base: str) -> int:
    """Add up the applied events all gunicorn workers counted, as /metrics reports them."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base}/metrics", timeout=30).text
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "vafa_cloud_events_total" and sample.labels["status"] == "applied"
        )
    )


def _build_fleet(
    folder: Path, base: str, codes: list[str], sales_each: int
) -> list[tuple[Terminal, TimedClient]]:
    fleet = []
    for n, code in enumerate(codes):
        config = AgentConfig(data_dir=folder / f"t{n}", cloud_url=base)
        identity = enroll(base, code, config.data_dir)
        terminal = Terminal(config)
        member = terminal.flow.enrol(f"0913{n:03d}0000", f"عضو {n}", consent=True)
        for k in range(sales_each):
            terminal.flow.sale(member.id, 100_000 + k)
        fleet.append((terminal, TimedClient(identity, timeout=60.0)))
    return fleet


def _storm(fleet: list[tuple[Terminal, TimedClient]], workers: int) -> LoadReport:
    barrier = threading.Barrier(len(fleet))
    errors: list[str] = []
    sent = [0] * len(fleet)

    def go(index: int) -> None:
        terminal, client = fleet[index]
        barrier.wait()
        try:
            sent[index] = client.drain(terminal.conn, terminal.vault, batch_size=20).acked
            pull(client, terminal.conn, terminal.vault)
        except Exception as exc:  # every failure is counted and reported, none hidden
            errors.append(repr(exc))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(fleet))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    assert not errors, errors[:3]
    latencies = sorted(ms * 1000 for _, c in fleet for ms in c.latencies)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")  # within the samples
    return LoadReport(
        terminals=len(fleet),
        workers=workers,
        events=sum(sent),
        requests=len(latencies),
        errors=len(errors),
        seconds=seconds,
        p50_ms=statistics.median(latencies),
        p95_ms=cuts[94],
        p99_ms=cuts[98],
        max_ms=latencies[-1],
    )

"""Cloud ingest rate with de-duplication, on SQLite and PostgreSQL (target ≥ 5,000 events/s
on SQLite), and its ratio to a bare batched insert of the same event rows."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cloud.app import create_app
from cloud.fleet import create_enrolment_code, create_store, enroll_terminal
from cloud.ingest import ingest_batch
from cloud.storage import utcnow
from common.protocol import Event, new_id
from common.signing import public_key_b64

EVENTS = 10_000
BATCH = 500


def _events(member_id: str) -> list[dict[str, Any]]:
    enrol = Event(
        new_id(),
        1,
        "member.enrolled",
        "2026-11-22T10:00:00+03:30",
        {
            "member_id": member_id,
            "card_code": "2900000000017",
            "mobile": "09120000000",
            "name": "بنچ",
            "marketing_consent": True,
            "birthday": None,
        },
    )
    out = [enrol.to_dict()]
    for seq in range(2, EVENTS + 1):
        entry = {
            "id": new_id(),
            "kind": "earn",
            "reverses": None,
            "memo": "",
            "postings": [
                {"account": f"member:{member_id}:points", "amount": 10},
                {"account": "system:points_issued", "amount": -10},
            ],
        }
        payload = {
            "sale_id": new_id(),
            "receipt_no": seq,
            "member_id": member_id,
            "amount_rial": 100_000,
            "points_earned": 10,
            "points_redeemed": 0,
            "channel": "in_store",
            "items": [],
            "entries": [entry],
        }
        out.append(
            Event(new_id(), seq, "sale.completed", "2026-11-22T10:00:00+03:30", payload).to_dict()
        )
    return out


def _ingest_rate(url: str, folder: Path) -> tuple[float, float]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    app = create_app({"DATABASE_URL": url, "PII_KEY_FILE": str(folder / "k"), "SECRET_KEY": "b"})
    context = app.extensions["vafa"]
    with context.engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, "bench"))
        key = public_key_b64(Ed25519PrivateKey.generate())
        terminal_id = enroll_terminal(conn, code, key, "bench")["terminal_id"]
    batch = _events(new_id())
    start = time.perf_counter()
    for offset in range(0, EVENTS, BATCH):
        with context.engine.begin() as conn:
            terminal = conn.execute(
                sa.text("SELECT * FROM terminals WHERE id = :i"), {"i": terminal_id}
            ).one()
            ingest_batch(conn, context.vault, terminal, {"events": batch[offset : offset + BATCH]})
    ingest = EVENTS / (time.perf_counter() - start)
    bare = _bare_rate(context.engine, batch)
    context.engine.dispose()
    return ingest, bare


def _bare_rate(engine: sa.Engine, batch: list[dict[str, Any]]) -> float:
    table = sa.Table(
        "bare_events",
        sa.MetaData(),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger),
        sa.Column("body", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True)),
    )
    table.create(engine)
    rows = [
        {"id": e["id"], "seq": e["seq"], "body": str(e), "received_at": utcnow()} for e in batch
    ]
    start = time.perf_counter()
    for offset in range(0, EVENTS, BATCH):
        with engine.begin() as conn:
            conn.execute(sa.insert(table), rows[offset : offset + BATCH])
    return EVENTS / (time.perf_counter() - start)


SQLITE_RUNS, PG_RUNS = 5, 3  # medians: one run on a shared 2-core machine is noisy


def _report(name: str, runs: list[tuple[float, float]]) -> None:
    ingest = statistics.median(run[0] for run in runs)
    bare = statistics.median(run[1] for run in runs)
    spread = ", ".join(f"{run[0]:,.0f}" for run in runs)
    print(
        f"{name} ingest {ingest:,.0f} events/s (median of {len(runs)}: {spread}); "
        f"bare batched insert {bare:,.0f} rows/s; ratio {bare / ingest:.1f}x"
    )


def main() -> None:
    """Print ingest rates and ratios on both back-ends (medians of several fresh runs)."""
    runs = []
    for _ in range(SQLITE_RUNS):
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
            runs.append(_ingest_rate(f"sqlite:///{Path(tmp) / 'cloud.db'}", Path(tmp)))
    _report("SQLite:    ", runs)
    from psycopg import sql

    from tests.support.postgres import admin_execute, database_url, start_postgres

    pg_dir = Path(tempfile.mkdtemp(prefix="vafa-bench-pg-"))
    url, stop = start_postgres(pg_dir)
    port = sa.engine.make_url(url).port
    assert port is not None
    try:
        runs = []
        for index in range(PG_RUNS):
            name = f"bench_{index}"
            admin_execute(port, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            runs.append(_ingest_rate(database_url(port, name), pg_dir))
        _report("PostgreSQL:", runs)
    finally:
        stop()
        shutil.rmtree(pg_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

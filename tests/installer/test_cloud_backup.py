"""installer/cloud/backup.sh and restore.sh against a real, throwaway PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from agent.identity import enroll
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.app import create_app
from cloud.fleet import create_enrolment_code, create_store
from cloud.reports import totals
from tests.support.postgres import admin_execute, find_bin_dir

CLOUD = Path(__file__).resolve().parents[2] / "installer" / "cloud"

pytestmark = pytest.mark.postgres


def script(name: str, *args: str, url: str, key: Path) -> subprocess.CompletedProcess[str]:
    """Run a cloud backup script with the cloud's settings in its environment."""
    env = {
        **os.environ,
        "VAFA_CLOUD_DATABASE_URL": url,
        "VAFA_CLOUD_PII_KEY_FILE": str(key),
        "PG_BIN": str(find_bin_dir()),
    }
    return subprocess.run(
        ["bash", str(CLOUD / name), *args], env=env, capture_output=True, text=True, timeout=120
    )


def cloud_totals(url: str, key: Path) -> dict[str, int]:
    """Open the cloud on ``url`` and return its chain totals."""
    app = create_app({"DATABASE_URL": url, "PII_KEY_FILE": str(key), "SECRET_KEY": "t"})
    engine = app.extensions["vafa"].engine
    try:
        with engine.connect() as conn:
            return totals(conn)
    finally:
        engine.dispose()


def sell_through_the_cloud(url: str, key: Path, terminal: Terminal) -> None:
    """Enrol a terminal with the cloud on ``url``, ring up sales and sync them."""
    app = create_app({"DATABASE_URL": url, "PII_KEY_FILE": str(key), "SECRET_KEY": "t"})
    engine = app.extensions["vafa"].engine
    with engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, "شعبه ونک"))
    transport = httpx.WSGITransport(app=app)
    identity = enroll("http://cloud.test", code, terminal.config.data_dir, transport=transport)
    member = terminal.flow.enrol("09121112233", "سارا رضایی", consent=True)
    for amount in (1_500_000, 2_300_000, 700_000):
        terminal.flow.sale(member.id, amount)
    terminal.flow.sale(member.id, 400_000, redeem_points=100)
    client = SyncClient(identity, transport=transport)
    try:
        client.drain(terminal.conn, terminal.vault)
    finally:
        client.close()
    engine.dispose()


def recreate(url: str) -> None:
    """Drop the database and create it again, empty."""
    parsed = make_url(url)
    assert parsed.port is not None and parsed.database is not None
    name = sql.Identifier(parsed.database)
    admin_execute(parsed.port, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
    admin_execute(parsed.port, sql.SQL("CREATE DATABASE {}").format(name))


def test_backup_drop_restore_gives_the_same_ledger(
    postgres_engine_url: str, terminal: Terminal, tmp_path: Path
) -> None:
    """GIVEN a cloud with synced sales WHEN backed up, dropped and restored THEN totals match."""
    key = tmp_path / "cloud" / "pii.key"
    sell_through_the_cloud(postgres_engine_url, key, terminal)
    before = cloud_totals(postgres_engine_url, key)
    assert before["sales"] == 4 and before["points_redeemed"] == 100
    assert before["points_total"] > 0

    made = script("backup.sh", str(tmp_path / "backups"), url=postgres_engine_url, key=key)
    assert made.returncode == 0, made.stderr
    dump = Path(made.stdout.strip())
    saved_key = dump.with_name(dump.name.replace(".dump", ".pii.key"))
    assert dump.is_file() and saved_key.read_bytes() == key.read_bytes()
    assert {dump.stat().st_mode & 0o777, saved_key.stat().st_mode & 0o777} == {0o600}

    recreate(postgres_engine_url)
    original_key = key.read_bytes()
    key.unlink()  # the machine is lost: the key comes back from the backup
    assert cloud_totals(postgres_engine_url, tmp_path / "empty.key")["sales"] == 0

    restored = script("restore.sh", str(dump), url=postgres_engine_url, key=key)
    assert restored.returncode == 0, restored.stderr
    assert key.read_bytes() == original_key
    assert cloud_totals(postgres_engine_url, key) == before


def test_restore_refuses_a_different_key(
    postgres_engine_url: str, terminal: Terminal, tmp_path: Path
) -> None:
    """GIVEN a different PII key in place WHEN restoring THEN nothing is restored."""
    key = tmp_path / "cloud" / "pii.key"
    sell_through_the_cloud(postgres_engine_url, key, terminal)
    made = script("backup.sh", str(tmp_path / "backups"), url=postgres_engine_url, key=key)
    assert made.returncode == 0, made.stderr
    recreate(postgres_engine_url)
    key.write_bytes(os.urandom(32))
    refused = script("restore.sh", made.stdout.strip(), url=postgres_engine_url, key=key)
    assert refused.returncode != 0 and "differs" in refused.stderr
    assert cloud_totals(postgres_engine_url, tmp_path / "other.key")["sales"] == 0


def test_backup_refuses_sqlite(tmp_path: Path) -> None:
    """GIVEN a SQLite cloud WHEN backing up with pg_dump THEN the script says why it cannot."""
    result = script(
        "backup.sh", str(tmp_path), url=f"sqlite:///{tmp_path}/c.db", key=tmp_path / "k"
    )
    assert result.returncode != 0 and "must be a PostgreSQL URL" in result.stderr

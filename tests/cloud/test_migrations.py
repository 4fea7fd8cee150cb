"""Named Alembic migrations build exactly the schema the code describes, on both back-ends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from cloud.storage import alembic_config, make_engine, migrate
from cloud.tables import metadata


def _check(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        migrate(engine)  # a second run finds nothing to do
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert context.get_current_revision() == head
            assert compare_metadata(context, metadata) == []
            assert "alembic_version" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_migrations_match_the_tables_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'cloud.db'}")


@pytest.mark.postgres
def test_migrations_match_the_tables_on_postgresql(postgres_engine_url: str) -> None:
    _check(postgres_engine_url)


def _upgrade_from_0007_with_postings(url: str) -> None:
    from alembic import command

    from cloud.balances import chain_balances, running_total_problems

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0007")
            now = "2026-11-22 10:00:00"
            conn.execute(sa.text(f"INSERT INTO stores VALUES ('s1', 'ونک', '{now}')"))
            for terminal in ("t1", "t2"):
                conn.execute(
                    sa.text(
                        "INSERT INTO terminals (id, store_id, public_key, hostname, created_at,"
                        f" contiguous_seq, highest_seq) VALUES ('{terminal}', 's1',"
                        f" 'key-{terminal}', '', '{now}', 0, 0)"
                    )
                )
            moves = [
                ("t1", "m1", "points", 120),
                ("t1", "m1", "points", -20),
                ("t2", "m1", "drawn", -30),
                ("t2", "m2", "points", 7),
            ]
            for n, (terminal, member, kind, amount) in enumerate(moves):
                conn.execute(
                    sa.text(
                        "INSERT INTO events (id, terminal_id, seq, kind, digest, received_at)"
                        f" VALUES ('e{n}', '{terminal}', {n + 1}, 'sale.completed', 'd',"
                        f" '{now}')"
                    )
                )
                conn.execute(
                    sa.text(f"INSERT INTO ledger_entries VALUES ('x{n}', 'e{n}', 'earn', NULL, '')")
                )
                conn.execute(
                    sa.text(
                        f"INSERT INTO ledger_postings VALUES ('x{n}', 'member:{member}:{kind}',"
                        f" {amount}), ('x{n}', 'system:points_issued', {-amount})"
                    )
                )
        migrate(engine)
        with engine.connect() as conn:
            assert running_total_problems(conn) == []
            assert chain_balances(conn, ["m1", "m2"]) == {"m1": 70, "m2": 7}
            assert chain_balances(conn, ["m1"], except_terminal="t1") == {"m1": -30}
    finally:
        engine.dispose()


def test_running_totals_are_filled_from_stored_postings_on_sqlite(tmp_path: Path) -> None:
    _upgrade_from_0007_with_postings(f"sqlite:///{tmp_path / 'cloud.db'}")


@pytest.mark.postgres
def test_running_totals_are_filled_from_stored_postings_on_postgresql(
    postgres_engine_url: str,
) -> None:
    _upgrade_from_0007_with_postings(postgres_engine_url)

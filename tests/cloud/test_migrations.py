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

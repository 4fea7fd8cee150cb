"""Alembic environment: runs on the connection ``cloud.storage.migrate`` hands it."""

from __future__ import annotations

from alembic import context

from cloud.tables import metadata

connection = context.config.attributes["connection"]
# render_as_batch lets later revisions alter tables on SQLite (copy-and-move) as on PostgreSQL.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

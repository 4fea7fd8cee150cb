"""members imported from an existing club's list are marked, so no welcome scenario greets them

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("members", sa.Column("imported_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    """Undo this revision: a plain DROP COLUMN (SQLite 3.35+ and PostgreSQL). A batch
    rebuild of ``members`` would drop the table every sale and grant points at."""
    op.execute("ALTER TABLE members DROP COLUMN imported_at")

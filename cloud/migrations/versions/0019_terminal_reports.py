"""what each terminal last reported of itself: agent version and outbox depth

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("agent_version", sa.String(length=40)))
        batch.add_column(sa.Column("queue_depth", sa.Integer()))
        batch.add_column(sa.Column("reported_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("reported_at")
        batch.drop_column("queue_depth")
        batch.drop_column("agent_version")

"""notes to store owners from scenarios; surprise gifts handed over at the terminal

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "owner_notes",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "entry_id", sa.String(length=32), sa.ForeignKey("scenario_entries.id"), unique=True
        ),
        sa.Column("store_id", sa.String(length=32), sa.ForeignKey("stores.id"), nullable=False),
        sa.Column("member_id", sa.String(length=32), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("scenario_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("done_by", sa.String(length=80)),
    )
    op.create_index("ix_owner_notes_store_id", "owner_notes", ["store_id"])
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("gift", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("handover_event_id", sa.String(length=32)))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("handover_event_id")
        batch.drop_column("handed_over_at")
        batch.drop_column("gift")
    op.drop_index("ix_owner_notes_store_id", table_name="owner_notes")
    op.drop_table("owner_notes")

"""scenarios

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birthday_hmac", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_birthday_hmac"), ["birthday_hmac"])
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "scenario_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scenario_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("arm", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("cost_rial", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["scenario_id"], ["scenarios.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scenario_id", "member_id", "period", name="scenario_entry_once"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("scenario_entries")
    op.drop_table("scenarios")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_birthday_hmac"))
        batch_op.drop_column("birthday_hmac")

"""member analytics and segment history

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "member_analytics",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("purchases", sa.BigInteger(), nullable=False),
        sa.Column("value_rial", sa.BigInteger(), nullable=False),
        sa.Column("avg_payment_rial", sa.BigInteger(), nullable=False),
        sa.Column("first_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mean_interval_days", sa.Float(), nullable=True),
        sa.Column("gap_days", sa.Float(), nullable=False),
        sa.Column("cycle", sa.String(length=12), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("r", sa.SmallInteger(), nullable=False),
        sa.Column("f", sa.SmallInteger(), nullable=False),
        sa.Column("m", sa.SmallInteger(), nullable=False),
        sa.Column("segment", sa.String(length=20), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("expected_purchases_90d", sa.Float(), nullable=True),
        sa.Column("clv_rial", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index(
        op.f("ix_member_analytics_segment"), "member_analytics", ["segment"], unique=False
    )
    op.create_table(
        "segment_history",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("segment", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id", "computed_on"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("segment_history")
    op.drop_index(op.f("ix_member_analytics_segment"), table_name="member_analytics")
    op.drop_table("member_analytics")

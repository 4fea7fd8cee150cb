"""analytics aggregates for the HQ pages, segment changes and demographics

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "analytics_clv_buckets",
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("low_rial", sa.BigInteger(), nullable=False),
        sa.Column("high_rial", sa.BigInteger(), nullable=True),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("computed_on", "bucket"),
    )
    op.create_table(
        "analytics_cohorts",
        sa.Column("cohort", sa.String(length=7), nullable=False),
        sa.Column("months_since", sa.SmallInteger(), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("cohort_members", sa.BigInteger(), nullable=False),
        sa.Column("active_members", sa.BigInteger(), nullable=False),
        sa.Column("retention", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("cohort", "months_since"),
    )
    op.create_table(
        "analytics_demographics",
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=12), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("buying_members", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("computed_on", "dimension", "value"),
    )
    op.create_table(
        "analytics_kpis",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("revenue_rial", sa.BigInteger(), nullable=False),
        sa.Column("average_purchase_rial", sa.BigInteger(), nullable=False),
        sa.Column("buyers", sa.BigInteger(), nullable=False),
        sa.Column("returning_buyers", sa.BigInteger(), nullable=False),
        sa.Column("return_rate", sa.Float(), nullable=False),
        sa.Column("new_members", sa.BigInteger(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("activated_members", sa.BigInteger(), nullable=False),
        sa.Column("activation_rate", sa.Float(), nullable=False),
        sa.Column("active_30d", sa.BigInteger(), nullable=False),
        sa.Column("active_90d", sa.BigInteger(), nullable=False),
        sa.Column("points_earned", sa.BigInteger(), nullable=False),
        sa.Column("points_redeemed", sa.BigInteger(), nullable=False),
        sa.Column("redemption_rate", sa.Float(), nullable=False),
        sa.Column("points_liability", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "month"),
    )
    op.create_table(
        "analytics_runs",
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("buying_members", sa.BigInteger(), nullable=False),
        sa.Column("activation_rate", sa.Float(), nullable=False),
        sa.Column("active_30d", sa.BigInteger(), nullable=False),
        sa.Column("active_90d", sa.BigInteger(), nullable=False),
        sa.Column("points_liability", sa.BigInteger(), nullable=False),
        sa.Column("clv_fitted", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("computed_on"),
    )
    op.create_table(
        "analytics_segments",
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("segment", sa.String(length=20), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("value_rial", sa.BigInteger(), nullable=False),
        sa.Column("clv_rial", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("computed_on", "segment"),
    )
    op.create_table(
        "analytics_transitions",
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("from_segment", sa.String(length=20), nullable=False),
        sa.Column("to_segment", sa.String(length=20), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("computed_on", "from_segment", "to_segment"),
    )
    op.create_table(
        "segment_changes",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("from_segment", sa.String(length=20), nullable=False),
        sa.Column("to_segment", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("member_id", "changed_on"),
    )
    op.create_index(
        op.f("ix_segment_changes_changed_on"), "segment_changes", ["changed_on"], unique=False
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_segment_changes_changed_on"), table_name="segment_changes")
    op.drop_table("segment_changes")
    op.drop_table("analytics_transitions")
    op.drop_table("analytics_segments")
    op.drop_table("analytics_runs")
    op.drop_table("analytics_kpis")
    op.drop_table("analytics_demographics")
    op.drop_table("analytics_cohorts")
    op.drop_table("analytics_clv_buckets")

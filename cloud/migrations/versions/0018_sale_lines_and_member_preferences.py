"""sale lines, member preferences and feedback sentiment

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "analytics_categories",
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("amount_rial", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("computed_on", "category"),
    )
    op.create_table(
        "member_categories",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("amount_rial", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("affinity", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "category"),
    )
    op.create_table(
        "member_incentives",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("incentive", sa.String(length=10), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("response_rate", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "incentive"),
    )
    op.create_table(
        "member_suggestions",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("lift", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "rank"),
    )
    op.create_table(
        "sale_lines",
        sa.Column("sale_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_rial", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sale_id", "line_no"),
    )
    op.create_index(op.f("ix_sale_lines_member_id"), "sale_lines", ["member_id"], unique=False)
    op.add_column("feedback", sa.Column("sentiment", sa.String(length=8), nullable=True))
    op.add_column("feedback", sa.Column("sentiment_score", sa.Float(), nullable=True))
    op.create_table(
        "analytics_feedback",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("responses", sa.BigInteger(), nullable=False),
        sa.Column("promoters", sa.BigInteger(), nullable=False),
        sa.Column("passives", sa.BigInteger(), nullable=False),
        sa.Column("detractors", sa.BigInteger(), nullable=False),
        sa.Column("nps", sa.Float(), nullable=False),
        sa.Column("comments", sa.BigInteger(), nullable=False),
        sa.Column("positive", sa.BigInteger(), nullable=False),
        sa.Column("neutral", sa.BigInteger(), nullable=False),
        sa.Column("negative", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "month"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("analytics_feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("sentiment_score")
        batch.drop_column("sentiment")
    op.drop_index(op.f("ix_sale_lines_member_id"), table_name="sale_lines")
    op.drop_table("sale_lines")
    op.drop_table("member_suggestions")
    op.drop_table("member_incentives")
    op.drop_table("member_categories")
    op.drop_table("analytics_categories")

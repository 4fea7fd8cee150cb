"""referrals

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("referred_by", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_referral_code"), ["referral_code"])
    op.create_table(
        "referral_rewards",
        sa.Column("referred_id", sa.String(length=32), nullable=False),
        sa.Column("referrer_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["referred_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["referrer_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("referred_id"),
    )
    with op.batch_alter_table("referral_rewards", schema=None) as batch_op:
        batch_op.create_index("referral_rewards_referrer_month", ["referrer_id", "month"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("referral_rewards")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_referral_code"))
        batch_op.drop_column("referred_by")
        batch_op.drop_column("referral_code")

"""coupons

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "coupons",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("value_rial", sa.BigInteger(), nullable=False),
        sa.Column("min_purchase_rial", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coupons_member_id"), ["member_id"], unique=False)
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coupon_code", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("coupon_rial", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_column("coupon_rial")
        batch_op.drop_column("coupon_code")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coupons_member_id"))
    op.drop_table("coupons")

"""orders from other channels and member imports

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    # A channel order is a sale without a terminal event (SQLite copies the table).
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.alter_column("terminal_id", existing_type=sa.String(length=32), nullable=True)
    op.create_table(
        "channel_orders",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("amount_rial", sa.BigInteger(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lines_digest", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("imported_by", sa.String(length=80), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"]),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"]),
        sa.PrimaryKeyConstraint("channel", "order_id"),
        sa.UniqueConstraint("sale_id"),
    )


def downgrade() -> None:
    """Undo this revision: channel orders and their sales go (a terminal sale needs both)."""
    channel_sales = sa.text("SELECT sale_id FROM channel_orders")
    op.execute(sa.text(f"DELETE FROM sale_lines WHERE sale_id IN ({channel_sales})"))
    op.drop_table("channel_orders")
    op.execute(sa.text("DELETE FROM sales WHERE event_id IS NULL OR terminal_id IS NULL"))
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.alter_column("terminal_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("event_id", existing_type=sa.String(length=32), nullable=False)

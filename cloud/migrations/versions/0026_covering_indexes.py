"""the analytics pass reads members' sales and sale lines off covering indexes

The member_id indexes of ``sales`` and ``sale_lines`` become indexes that also hold what
the order patterns and the category spend read (grouped by member and channel, or member
and category), so SQLite groups straight off the index instead of sorting every row or
reading the table at random. Lookups by member use them as they used the old ones.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

PATTERN = ["member_id", "channel", "refunded_at", "received_at", "amount_rial"]
SPEND = ["member_id", "category", "sale_id", "amount_rial", "received_at"]


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("sales_member_pattern", "sales", PATTERN)
    op.drop_index("ix_sales_member_id", table_name="sales")
    op.create_index("sale_lines_member_category", "sale_lines", SPEND)
    op.drop_index("ix_sale_lines_member_id", table_name="sale_lines")


def downgrade() -> None:
    """Undo this revision."""
    op.create_index("ix_sale_lines_member_id", "sale_lines", ["member_id"])
    op.drop_index("sale_lines_member_category", table_name="sale_lines")
    op.create_index("ix_sales_member_id", "sales", ["member_id"])
    op.drop_index("sales_member_pattern", table_name="sales")

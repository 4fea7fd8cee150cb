"""the analytics pass keeps what cannot change from one pass to the next

Members' spend per category (``member_category_spend``, with ``spend_refunds``) and the
closed months' points (``points_closed_months``) are kept, and each pass reads only what
was received since: indexes on the moments events, sale lines and refunds arrive, and on
the event of each ledger entry.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

INDEXES = [
    ("events_received_at", "events", ["received_at"]),
    ("ix_ledger_entries_event_id", "ledger_entries", ["event_id"]),
    ("sale_lines_received_at", "sale_lines", ["received_at"]),
]
REFUNDED = sa.text("refunded_at IS NOT NULL")


def upgrade() -> None:
    """Apply this revision."""
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    # Partial: a plain index on refunded_at drew "refunded_at IS NULL" queries (every kept
    # sale) away from the covering sales_member_pattern.
    op.create_index(
        "sales_refunded", "sales", ["id"], sqlite_where=REFUNDED, postgresql_where=REFUNDED
    )
    op.create_table(
        "member_category_spend",
        sa.Column("member_id", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("purchases", sa.Integer, nullable=False),
        sa.Column("amount_rial", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table("spend_refunds", sa.Column("sale_id", sa.String(32), primary_key=True))
    op.create_table(
        "points_closed_months",
        sa.Column("store_id", sa.String(32), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("net_points", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Undo this revision."""
    for table in ("points_closed_months", "spend_refunds", "member_category_spend"):
        op.drop_table(table)
    op.drop_index("sales_refunded", table_name="sales")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)

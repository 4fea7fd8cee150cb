"""one-time codes: a lock row per mobile (mobile_code_locks), and HMACs a day-old code drops

Two terminals asking at once for one mobile took different terminal rows, so both passed
the per-mobile limits; each request now takes the mobile's own row first. A code never
verified keeps its row (the record of a text sent, counted in HQ's SMS log) but no longer
needs the mobile's or the code's HMAC after a day: both become nullable, and a partial index
finds the few codes still to be forgotten (the table now keeps every code texted).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "mobile_code_locks",
        sa.Column("mobile_hmac", sa.LargeBinary(length=32), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("mobile_codes") as batch:
        for column in ("mobile_hmac", "code_hmac"):
            batch.alter_column(column, existing_type=sa.LargeBinary(length=32), nullable=True)
    where = sa.text("mobile_hmac IS NOT NULL AND verified_at IS NULL")
    op.create_index(
        "mobile_codes_to_forget",
        "mobile_codes",
        ["created_at"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    """Undo this revision (codes whose HMACs were dropped go: they cannot be kept)."""
    op.drop_index("mobile_codes_to_forget", table_name="mobile_codes")
    op.execute("DELETE FROM mobile_codes WHERE mobile_hmac IS NULL OR code_hmac IS NULL")
    with op.batch_alter_table("mobile_codes") as batch:
        for column in ("mobile_hmac", "code_hmac"):
            batch.alter_column(column, existing_type=sa.LargeBinary(length=32), nullable=False)
    op.drop_table("mobile_code_locks")

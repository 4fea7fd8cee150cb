"""occasions

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "occasions",
        sa.Column("jalali_date", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name_fa", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("jalali_date", "key"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("occasions")

"""member demographics: gender, province, city, Jalali birth year

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("gender", sa.String(length=1)))
        batch.add_column(sa.Column("province", sa.String(length=40)))
        batch.add_column(sa.Column("city", sa.String(length=60)))
        batch.add_column(sa.Column("birth_year", sa.Integer()))
        batch.create_index("members_province_city", ["province", "city"])


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("members") as batch:
        batch.drop_index("members_province_city")
        batch.drop_column("birth_year")
        batch.drop_column("city")
        batch.drop_column("province")
        batch.drop_column("gender")

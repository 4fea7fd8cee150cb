"""one-time codes that verify a new member's mobile at enrolment (mobile_codes)

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "mobile_codes",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "terminal_id", sa.String(length=32), sa.ForeignKey("terminals.id"), nullable=False
        ),
        sa.Column("mobile_hmac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_hmac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("member_id", sa.String(length=32), sa.ForeignKey("members.id"), unique=True),
        sa.Column("provider", sa.String(length=20)),
        sa.Column("provider_id", sa.String(length=64)),
    )
    op.create_index("mobile_codes_mobile", "mobile_codes", ["mobile_hmac", "created_at"])
    op.create_index("mobile_codes_terminal", "mobile_codes", ["terminal_id", "created_at"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index("mobile_codes_terminal", table_name="mobile_codes")
    op.drop_index("mobile_codes_mobile", table_name="mobile_codes")
    op.drop_table("mobile_codes")

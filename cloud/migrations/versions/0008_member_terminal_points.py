"""member terminal points

Running totals of each member's points per terminal, filled from the postings already
stored (points and drawn accounts, attributed to the terminal of the event that carried
them), then kept by ingest.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MEMBER_OF_ACCOUNT = "substr(replace(replace(p.account, ':points', ''), ':drawn', ''), 8)"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "member_terminal_points",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"]),
        sa.PrimaryKeyConstraint("member_id", "terminal_id"),
    )
    op.execute(
        "INSERT INTO member_terminal_points (member_id, terminal_id, points)"
        f" SELECT {MEMBER_OF_ACCOUNT}, e.terminal_id, SUM(p.amount)"
        " FROM ledger_postings p"
        " JOIN ledger_entries le ON le.id = p.entry_id"
        " JOIN events e ON e.id = le.event_id"
        " WHERE p.account LIKE 'member:%:points' OR p.account LIKE 'member:%:drawn'"
        f" GROUP BY {MEMBER_OF_ACCOUNT}, e.terminal_id"
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("member_terminal_points")

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
    # Built as expressions, not SQL text: a ':points' in text would read as a parameter.
    postings = sa.table(
        "ledger_postings", sa.column("entry_id"), sa.column("account"), sa.column("amount")
    )
    entries = sa.table("ledger_entries", sa.column("id"), sa.column("event_id"))
    events = sa.table("events", sa.column("id"), sa.column("terminal_id"))
    totals = sa.table(
        "member_terminal_points",
        sa.column("member_id"),
        sa.column("terminal_id"),
        sa.column("points"),
    )
    account = postings.c.account
    member = sa.func.substr(
        sa.func.replace(sa.func.replace(account, ":points", ""), ":drawn", ""), 8
    )
    per_terminal = (
        sa.select(member, events.c.terminal_id, sa.func.sum(postings.c.amount))
        .join(entries, entries.c.id == postings.c.entry_id)
        .join(events, events.c.id == entries.c.event_id)
        .where(sa.or_(account.like("member:%:points"), account.like("member:%:drawn")))
        .group_by(member, events.c.terminal_id)
    )
    op.execute(totals.insert().from_select(["member_id", "terminal_id", "points"], per_terminal))


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("member_terminal_points")

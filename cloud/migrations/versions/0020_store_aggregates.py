"""per-store analytics aggregates (reserved for the per-store aggregates work)

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""


def downgrade() -> None:
    """Undo this revision."""

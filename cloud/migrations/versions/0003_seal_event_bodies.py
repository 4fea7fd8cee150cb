"""seal event bodies

Events were kept as clear JSON in ``events.body``; an enrolment's holds the member's
mobile, name and birthday, which must be encrypted at rest. The clear column is dropped
(its contents with it: the cloud cannot reach the PII key from a migration, and the body
is only read to name the field a changed resend differs in; such a resend of an older
event is now refused naming ``payload``). New events are stored sealed in ``body_enc``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_enc", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("body")


def downgrade() -> None:
    """Undo this revision (bodies sealed since are dropped: they cannot be read back here)."""
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=False, server_default="{}"))
        batch_op.drop_column("body_enc")

"""per-store analytics aggregates (reserved for the per-store aggregates work)

The per-member aggregates the HQ pages read (segments, segment moves, CLV buckets,
demographics, categories, cohorts) get a ``store_id`` in their primary key: the home
store's rows, and the chain's as ``*`` (every row stored before this revision is the
chain's). Suggestions, incentive answers and top members get tables of their own, so a
store owner's page reads its store's rows instead of counting members at request time.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# table -> its primary key before this revision (store_id goes after computed_on, if any)
KEYS = {
    "analytics_segments": ["computed_on", "segment"],
    "analytics_transitions": ["computed_on", "from_segment", "to_segment"],
    "analytics_clv_buckets": ["computed_on", "bucket"],
    "analytics_demographics": ["computed_on", "dimension", "value"],
    "analytics_categories": ["computed_on", "category"],
    "analytics_cohorts": ["cohort", "months_since"],
}


def _with_store(key: list[str]) -> list[str]:
    at = 1 if key[0] == "computed_on" else 0
    return [*key[:at], "store_id", *key[at:]]


def _store_column() -> sa.Column[str]:
    return sa.Column("store_id", sa.String(length=32), nullable=False, server_default="*")


def _set_key(table: str, key: list[str], add: bool) -> None:
    """Add (or drop) ``store_id`` and make ``key`` the table's primary key."""
    if op.get_bind().dialect.name == "postgresql":
        if add:
            op.add_column(table, _store_column())
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        if not add:
            op.drop_column(table, "store_id")
        op.create_primary_key(f"{table}_pkey", table, key)
        return
    # SQLite cannot change a key in place: copy the rows into the table made anew.
    old = sa.Table(table, sa.MetaData(), autoload_with=op.get_bind())
    kept = [c.name for c in old.columns if add or c.name != "store_id"]
    columns = [sa.Column(c.name, c.type, nullable=c.nullable) for c in old.columns]
    columns = [c for c in columns if c.name in kept]
    if add:
        columns.insert(int(kept[0] == "computed_on"), _store_column())
    op.rename_table(table, f"_old_{table}")
    op.create_table(table, *columns, sa.PrimaryKeyConstraint(*key, name=f"{table}_pkey"))
    names = ", ".join(kept)
    into, values = (f"{names}, store_id", f"{names}, '*'") if add else (names, names)
    op.execute(sa.text(f"INSERT INTO {table} ({into}) SELECT {values} FROM _old_{table}"))
    op.drop_table(f"_old_{table}")


def upgrade() -> None:
    """Apply this revision."""
    for table, key in KEYS.items():
        _set_key(table, _with_store(key), add=True)
    op.create_table(
        "analytics_suggestions",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("lift_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "category"),
    )
    op.create_table(
        "analytics_incentives",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("incentive", sa.String(length=10), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("offers", sa.BigInteger(), nullable=False),
        sa.Column("responses", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "incentive"),
    )
    op.create_table(
        "analytics_top_members",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("computed_on", sa.Date(), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "rank"),
    )


def downgrade() -> None:
    """Undo this revision: the stores' rows go, the chain's stay."""
    op.drop_table("analytics_top_members")
    op.drop_table("analytics_incentives")
    op.drop_table("analytics_suggestions")
    for table, key in KEYS.items():
        op.execute(sa.text(f"DELETE FROM {table} WHERE store_id <> '*'"))
        _set_key(table, key, add=False)

"""Migration 0020 on both back-ends: the aggregates stored before it become the chain's
rows ("*"), a store's row with the same key can sit beside them, and going back keeps the
chain's rows only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from cloud.storage import alembic_config, make_engine


def _segments(conn: sa.Connection) -> list[tuple[str, ...]]:
    names = [c["name"] for c in sa.inspect(conn).get_columns("analytics_segments")]
    shown = [n for n in ("computed_on", "store_id", "segment", "members") if n in names]
    query = f"SELECT {', '.join(shown)} FROM analytics_segments ORDER BY {', '.join(shown)}"
    return [tuple(str(v) for v in row) for row in conn.execute(sa.text(query))]


def test_chain_rows_survive_and_stores_fit_beside_them(database_url_any: str) -> None:
    """GIVEN a segment row and a cohort row stored before 0020 WHEN upgraded THEN they are
    the chain's ("*") and the same keys for a store are accepted; WHEN downgraded THEN the
    store's rows are gone and the chain's remain."""
    engine = make_engine(database_url_any)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0019")
            conn.execute(
                sa.text(
                    "INSERT INTO analytics_segments (computed_on, segment, members, value_rial)"
                    " VALUES ('2026-11-30', 'champions', 5, 900)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO analytics_cohorts (cohort, months_since, computed_on,"
                    " cohort_members, active_members, retention)"
                    " VALUES ('1405-01', 0, '2026-11-30', 5, 5, 1.0)"
                )
            )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0020")
            conn.execute(
                sa.text(
                    "INSERT INTO analytics_segments (computed_on, store_id, segment, members,"
                    " value_rial) VALUES ('2026-11-30', 's1', 'champions', 2, 400)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO analytics_cohorts (store_id, cohort, months_since, computed_on,"
                    " cohort_members, active_members, retention)"
                    " VALUES ('s1', '1405-01', 0, '2026-11-30', 2, 2, 1.0)"
                )
            )
            assert _segments(conn) == [
                ("2026-11-30", "*", "champions", "5"),
                ("2026-11-30", "s1", "champions", "2"),
            ]
            # The key includes the store: a twin of the store's row is refused.
            with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
                conn.execute(
                    sa.text(
                        "INSERT INTO analytics_segments (computed_on, store_id, segment,"
                        " members, value_rial) VALUES ('2026-11-30', 's1', 'champions', 1, 1)"
                    )
                )
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0019")
            assert _segments(conn) == [("2026-11-30", "champions", "5")]
            cohorts = conn.execute(sa.text("SELECT cohort_members FROM analytics_cohorts"))
            assert [int(n) for (n,) in cohorts] == [5]
    finally:
        engine.dispose()

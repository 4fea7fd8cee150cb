"""Migration 0021 on both back-ends: grants stored before it are no gifts, the notes table
and the gift columns come and go cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from cloud.storage import alembic_config, make_engine

NOW = "2026-11-22 10:00:00+00"


def test_old_grants_are_no_gifts_and_0021_goes_back_cleanly(database_url_any: str) -> None:
    engine = make_engine(database_url_any)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0020")
            conn.execute(sa.text(f"INSERT INTO stores VALUES ('s1', 'ونک', '{NOW}')"))
            conn.execute(
                sa.text(
                    "INSERT INTO members (id, card_code, mobile_hmac, mobile_enc, name_enc,"
                    " home_store_id, marketing_consent, enrolled_at)"
                    f" VALUES ('m1', 'c1', :h, :e, :e, 's1', true, '{NOW}')"
                ),
                {"h": b"h", "e": b"e"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO grants (id, member_id, kind, amount, reason, note, created_by,"
                    f" created_at) VALUES ('g1', 'm1', 'points', 5, 'manual', '', 'hq', '{NOW}')"
                )
            )
            command.upgrade(alembic_config(conn), "0021")
            row = conn.execute(sa.text("SELECT gift, handed_over_at FROM grants")).one()
            assert (bool(row.gift), row.handed_over_at) == (False, None)
            conn.execute(
                sa.text(
                    "INSERT INTO owner_notes (id, store_id, member_id, scenario_id, text,"
                    f" created_at) VALUES ('n1', 's1', 'm1', 'apology', 'یادداشت', '{NOW}')"
                )
            )
            command.downgrade(alembic_config(conn), "0020")
            inspector = sa.inspect(conn)
            assert "owner_notes" not in inspector.get_table_names()
            assert "gift" not in {c["name"] for c in inspector.get_columns("grants")}
            assert conn.execute(sa.text("SELECT amount FROM grants")).scalar_one() == 5
    finally:
        engine.dispose()

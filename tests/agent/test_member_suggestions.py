"""HQ's "not bought yet, but likely" categories reach the till's member card and the POS API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agent.ledger.db import write_transaction
from agent.members import apply_snapshot, suggestions
from agent.offline_queue.pull import pull
from cloud.tables import member_suggestions


def test_suggestions_travel_from_the_analytics_tables_to_the_card(enrolled) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a member synced to the cloud and an analytics run that found three likely
    categories WHEN the terminal pulls THEN it keeps the best two, in order, and the
    cashier's card and the POS lookup offer them."""
    from agent.web.app import create_app
    from agent.web.cashier import member_card
    from agent.web.pos_api import TOKEN_FILE

    terminal, client, cloud_app = enrolled
    member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
    client.drain(terminal.conn, terminal.vault)
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        for rank, category in enumerate(("لبنیات", "نان", "حبوبات"), start=1):
            conn.execute(
                sa.insert(member_suggestions).values(
                    member_id=member.id,
                    rank=rank,
                    computed_on=dt.date(2026, 12, 1),
                    category=category,
                    lift=3.0 / rank,
                )
            )
    pull(client, terminal.conn, terminal.vault)
    assert suggestions(terminal.conn, member.id) == ["لبنیات", "نان"]
    assert member_card(terminal, member)["suggestions"] == ["لبنیات", "نان"]

    app = create_app(terminal, {"TESTING": True})
    token = (terminal.config.data_dir / TOKEN_FILE).read_text().strip()
    found = app.test_client().post(
        "/pos/v1/members/lookup",
        json={"code": "09121234567"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert found.get_json()["suggestions"] == ["لبنیات", "نان"]


def _snapshot(**extra: Any) -> dict[str, Any]:
    return {
        "member_id": "b" * 32,
        "mobile": "+989121110009",
        "name": "مینا",
        "marketing_consent": True,
        "card_code": "2900000000093",
        "tier": "normal",
        "points_elsewhere": 0,
        **extra,
    }


def test_odd_suggestions_are_cleaned_and_an_old_cloud_changes_nothing(terminal) -> None:  # type: ignore[no-untyped-def]
    """A snapshot's suggestions keep only short strings, two at most; a snapshot without
    the field (an older cloud) leaves what the terminal had."""
    member_id = "b" * 32
    odd = ["", 7, "x" * 65, "  میوه  ", "نان", "برنج"]
    with write_transaction(terminal.conn):
        apply_snapshot(terminal.conn, terminal.vault, _snapshot(suggestions=odd), "2026-12-01")
    assert suggestions(terminal.conn, member_id) == ["میوه", "نان"]
    with write_transaction(terminal.conn):
        apply_snapshot(terminal.conn, terminal.vault, _snapshot(), "2026-12-02")
    assert suggestions(terminal.conn, member_id) == ["میوه", "نان"]
    with write_transaction(terminal.conn):
        apply_snapshot(terminal.conn, terminal.vault, _snapshot(suggestions="لبنیات"), "2026-12-03")
    assert suggestions(terminal.conn, member_id) == []

"""The store's open notes from HQ's scenarios reach its terminals with the pull and show on
the owner's pages; another store's terminal gets none; a note closed at HQ leaves."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import sqlalchemy as sa

from agent import owner_notes
from agent.ledger.db import write_transaction
from agent.offline_queue.pull import pull
from cloud.scenarios import store
from cloud.sms.providers import FileProvider
from cloud.storage import utcnow
from cloud.tables import owner_notes as cloud_notes
from common.persian import now_tehran

NOTE = "این مشتری ویژه را در مراجعهٔ بعدی بشناسید"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _leave_a_note(cloud_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ext = cloud_app.extensions["vafa"]
    definition = {
        "name_fa": "مشتریان عادی",
        "trigger": {"type": "tier", "tiers": ["normal"]},
        "actions": [{"type": "owner_note", "text": NOTE}],
        "control_pct": 0,
    }
    with ext.engine.begin() as conn:
        store.save(conn, "notes", definition)
    store.run_day(ext.engine, ext.vault, FileProvider(tmp_path / "sms.jsonl"), now_tehran())


def _owner_page(terminal) -> str:  # type: ignore[no-untyped-def]
    from agent.web.app import create_app, set_owner_password

    set_owner_password(terminal, "مالک-امن-۱۴۰۵")
    client = create_app(terminal, {"TESTING": True}).test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    assert token
    client.post("/login", data={"password": "مالک-امن-۱۴۰۵", "csrf": token.group(1)})
    reply = client.get("/owner/notes")
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def test_a_stores_notes_reach_its_terminal_and_leave_when_done(
    two_stores, cloud_app, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a note for a member of store A WHEN A and B pull THEN A holds it and its owner
    page shows it with a first name and a masked mobile, B holds none; WHEN the note is
    closed at HQ and A pulls again THEN it leaves A's page."""
    (a, a_client), (b, b_client) = two_stores
    a.flow.enrol("09121112233", "مریم کریمی", consent=True)
    a_client.drain(a.conn, a.vault)
    _leave_a_note(cloud_app, tmp_path)

    pull(a_client, a.conn, a.vault)
    pull(b_client, b.conn, b.vault)
    (held,) = owner_notes.listed(a.conn, a.vault)
    assert (held["member"], held["mobile"], held["text"]) == ("مریم", "۰۹۱۲***۲۲۳۳", NOTE)
    assert held["scenario"] == "مشتریان عادی"
    assert owner_notes.listed(b.conn, b.vault) == []
    page = _owner_page(a)
    assert NOTE in page and "۰۹۱۲***۲۲۳۳" in page and "کریمی" not in page

    with cloud_app.extensions["vafa"].engine.begin() as conn:
        conn.execute(sa.update(cloud_notes).values(done_at=utcnow(), done_by="admin"))
    pull(a_client, a.conn, a.vault)
    assert owner_notes.listed(a.conn, a.vault) == []
    assert "یادداشت بازی نیست" in _owner_page(a)


def test_a_malformed_note_is_left_out_and_the_rest_kept(terminal) -> None:  # type: ignore[no-untyped-def]
    good = {
        "id": "n" * 32,
        "member_id": "m" * 32,
        "scenario": "آزمون",
        "text": NOTE,
        "created_at": dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC).isoformat(),
    }
    bad = [dict(good, id="x" * 33), dict(good, text=None), dict(good, created_at="دیروز"), 7]
    with write_transaction(terminal.conn):
        assert owner_notes.replace(terminal.conn, [good, *bad]) == 1
    (held,) = owner_notes.listed(terminal.conn, terminal.vault)
    assert (held["member"], held["mobile"], held["text"]) == ("", "", NOTE)  # member unknown here

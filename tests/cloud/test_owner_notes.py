"""Notes to the store owner: a scenario action, once per entry, within the guardrails, seen
and closed on HQ's notes page only by the stores' owners (and admins), on both back-ends."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.access import set_user_stores
from cloud.errors import BadRequest
from cloud.hq import create_user
from cloud.scenarios import store
from cloud.scenarios.library import LIBRARY
from cloud.scenarios.model import parse
from cloud.sms.providers import FileProvider
from cloud.tables import coupons, members, owner_notes, scenario_entries
from common.persian import TEHRAN
from tests.cloud.test_access_scope import (
    PASSWORD,
    TAJRISH,
    VANAK,
    add_users,
    seed_chain,
    signed_in,
)

NOTE = "با این مشتری تماس بگیرید"


def _tehran(day: str, hour: int = 15) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), TEHRAN)


def _notes(app: Flask) -> list[Any]:
    with app.extensions["vafa"].engine.connect() as conn:
        return list(conn.execute(sa.select(owner_notes).order_by(owner_notes.c.created_at)))


def _run(app: Flask, tmp_path: Path, moment: dt.datetime) -> dict[str, dict[str, int]]:
    ext = app.extensions["vafa"]
    return store.run_day(ext.engine, ext.vault, FileProvider(tmp_path / "sms.jsonl"), moment)


def _save(app: Flask, scenario_id: str, definition: dict[str, Any]) -> None:
    with app.extensions["vafa"].engine.begin() as conn:
        store.save(conn, scenario_id, definition)


@pytest.fixture
def chain_app(cloud_app_any: Flask) -> Flask:
    seed_chain(cloud_app_any)
    add_users(cloud_app_any)
    with cloud_app_any.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "tajrish.owner", PASSWORD, "store_owner")
        set_user_stores(conn, "tajrish.owner", [TAJRISH])
    return cloud_app_any


def test_the_apology_leaves_the_owner_of_the_unhappy_store_one_note(
    chain_app: Flask, tmp_path: Path
) -> None:
    """GIVEN the built-in apology scenario and a Vanak member unhappy (3/10) at Tajrish
    WHEN the day runs, and runs again THEN one note for Tajrish (where it happened) beside the
    coupon and the text; the rerun adds none; a happy answer leaves no note."""
    _save(chain_app, "apology", LIBRARY["apology"])
    first = _run(chain_app, tmp_path, _tehran("2025-08-02"))
    assert first == {"apology": {"acted": 1}}
    assert _run(chain_app, tmp_path, _tehran("2025-08-02", 18)) == {"apology": {}}
    (note,) = _notes(chain_app)
    assert (note.store_id, note.member_id, note.scenario_id) == (TAJRISH, "m01", "apology")
    assert "ناخشنود" in note.text and note.done_at is None
    with chain_app.extensions["vafa"].engine.connect() as conn:
        entry = conn.execute(sa.select(scenario_entries)).one()
        assert note.entry_id == entry.id
        assert conn.execute(sa.select(sa.func.count()).select_from(coupons)).scalar_one() == 1
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 1
    _run(chain_app, tmp_path, _tehran("2025-07-06"))  # m02's 7/10 and m06's 9/10: content
    assert len(_notes(chain_app)) == 1


def test_a_purchase_note_goes_to_the_store_the_member_bought_at(
    chain_app: Flask, tmp_path: Path
) -> None:
    """GIVEN a note on every purchase and a Vanak member buying at Tajrish WHEN the day runs
    THEN the note is for Tajrish (where the purchase happened), not the member's home."""
    definition = {
        "name_fa": "خرید",
        "trigger": {"type": "purchase"},
        "actions": [{"type": "owner_note", "text": NOTE}],
        "guardrails": {"period": "event"},
        "control_pct": 0,
    }
    _save(chain_app, "bought", definition)
    assert _run(chain_app, tmp_path, _tehran("2025-08-02")) == {"bought": {"acted": 1}}
    (note,) = _notes(chain_app)
    assert (note.member_id, note.store_id) == ("m01", TAJRISH)


def test_a_note_for_a_state_trigger_goes_to_the_home_store_and_never_to_the_control_group(
    chain_app: Flask, tmp_path: Path
) -> None:
    """GIVEN a VIP-thanks scenario with only a note, half the members held out
    WHEN it runs THEN every treated member gets one note for their home store, no control
    member gets one, and a second run in the period adds nothing."""
    with chain_app.extensions["vafa"].engine.begin() as conn:
        conn.execute(sa.update(members).values(tier="vip"))
    definition = {
        "name_fa": "سپاس از مشتریان ویژه",
        "trigger": {"type": "tier", "tiers": ["vip"]},
        "actions": [{"type": "owner_note", "text": NOTE}],
        "guardrails": {"period": "month"},
        "control_pct": 50,
    }
    _save(chain_app, "vip-note", definition)
    outcome = _run(chain_app, tmp_path, _tehran("2025-09-01"))["vip-note"]
    assert outcome["acted"] >= 1 and outcome["control"] >= 1
    assert _run(chain_app, tmp_path, _tehran("2025-09-02"))["vip-note"] == {}
    with chain_app.extensions["vafa"].engine.connect() as conn:
        entries = {e.member_id: e.arm for e in conn.execute(sa.select(scenario_entries))}
        homes = dict(conn.execute(sa.select(members.c.id, members.c.home_store_id)).all())
    notes = _notes(chain_app)
    assert {n.member_id for n in notes} == {m for m, arm in entries.items() if arm != "control"}
    assert all(n.store_id == homes[n.member_id] and n.text == NOTE for n in notes)
    assert not (tmp_path / "sms.jsonl").exists()  # a note is no text


def test_quiet_hours_and_the_budget_hold_the_note_back_with_the_rest(
    chain_app: Flask, tmp_path: Path
) -> None:
    """GIVEN a scenario that texts, gives 100 points and leaves a note, with a budget for one
    member WHEN it runs at 22:00 Tehran THEN nothing (deferred); at 10:00 THEN one member
    acted with a note and the rest skipped for the budget, without notes."""
    with chain_app.extensions["vafa"].engine.begin() as conn:
        conn.execute(sa.update(members).values(tier="gold"))
    definition = {
        "name_fa": "آزمون",
        "trigger": {"type": "tier", "tiers": ["gold"]},
        "actions": [
            {"type": "sms", "variants": ["{نام} عزیز، سپاس"]},
            {"type": "points", "amount": 100},
            {"type": "owner_note", "text": NOTE},
        ],
        "guardrails": {"period": "month", "budget_rial": 150_000, "sms_per_week": 5},
        "control_pct": 0,
    }
    _save(chain_app, "budgeted", definition)
    assert _run(chain_app, tmp_path, _tehran("2025-09-01", 22)) == {"budgeted": {"deferred": 8}}
    assert _notes(chain_app) == []
    outcome = _run(chain_app, tmp_path, _tehran("2025-09-02", 10))["budgeted"]
    assert outcome == {"acted": 1, "skipped:budget": 7}
    assert len(_notes(chain_app)) == 1


@pytest.mark.parametrize(
    "action",
    [
        {"type": "owner_note"},
        {"type": "owner_note", "text": "   "},
        {"type": "owner_note", "text": "x" * 501},
        {"type": "owner_note", "text": "تماس\x07بگیرید"},
        {"type": "owner_note", "text": 12},
    ],
)
def test_a_bad_note_is_refused_naming_the_field(action: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as caught:
        parse("x", {"trigger": {"type": "birthday"}, "actions": [action]})
    assert caught.value.field == "actions[0].text"


def test_a_note_of_two_lines_is_accepted() -> None:
    scenario = parse(
        "x",
        {
            "trigger": {"type": "birthday"},
            "actions": [{"type": "owner_note", "text": "خط یک\nخط دو"}],
        },
    )
    assert scenario.actions[0]["text"] == "خط یک\nخط دو"


def test_a_second_note_action_is_refused() -> None:
    """A note is one per scenario entry (owner_notes.entry_id is unique): a second note
    action would fail every member's entry at the run, so the scenario is refused."""
    note = {"type": "owner_note", "text": NOTE}
    with pytest.raises(BadRequest) as caught:
        parse("x", {"trigger": {"type": "birthday"}, "actions": [note, dict(note)]})
    assert caught.value.field == "actions[1].type"


def _csrf(client: Any, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def test_owners_see_and_close_only_their_stores_notes(chain_app: Flask, tmp_path: Path) -> None:
    """GIVEN notes for Vanak (m05's 2/10) and Tajrish (m01's 3/10)
    WHEN each owner opens /hq/notes THEN each sees their store's only, with a masked mobile;
    WHEN Vanak's owner posts 'done' on Tajrish's note by its id THEN 404 and it stays open;
    an admin sees both, a marketer is refused."""
    _save(chain_app, "apology", LIBRARY["apology"])
    _run(chain_app, tmp_path, _tehran("2025-08-02"))
    _run(chain_app, tmp_path, _tehran("2025-08-26"))
    by_store = {n.store_id: n for n in _notes(chain_app)}
    assert set(by_store) == {VANAK, TAJRISH}

    vanak = signed_in(chain_app, "vanak.owner")
    page = vanak.get("/hq/notes").get_data(as_text=True)
    assert by_store[VANAK].id in page and by_store[TAJRISH].id not in page
    assert "عضو 5" not in page and "۰۹۱۲***۰۰۰۵" in page and "+98912" not in page  # masked
    token = _csrf(vanak, "/hq/notes")
    stolen = vanak.post(f"/hq/notes/{by_store[TAJRISH].id}/done", data={"csrf": token})
    assert stolen.status_code == 404
    assert all(n.done_at is None for n in _notes(chain_app))
    done = vanak.post(f"/hq/notes/{by_store[VANAK].id}/done", data={"csrf": token})
    assert done.status_code == 302
    closed = {n.store_id: n for n in _notes(chain_app)}
    assert closed[VANAK].done_by == "vanak.owner" and closed[TAJRISH].done_at is None
    assert by_store[VANAK].id not in vanak.get("/hq/notes").get_data(as_text=True)
    assert by_store[VANAK].id in vanak.get("/hq/notes?done=1").get_data(as_text=True)

    tajrish = signed_in(chain_app, "tajrish.owner").get("/hq/notes").get_data(as_text=True)
    assert by_store[TAJRISH].id in tajrish and by_store[VANAK].id not in tajrish
    nobody = signed_in(chain_app, "nobody.owner").get("/hq/notes").get_data(as_text=True)
    assert "یادداشت بازی نیست" in nobody
    admin = signed_in(chain_app, "admin").get("/hq/notes?done=1").get_data(as_text=True)
    assert by_store[VANAK].id in admin and by_store[TAJRISH].id in admin
    scenario = signed_in(chain_app, "admin").get("/hq/scenarios/apology").get_data(as_text=True)
    assert "۲ گذاشته شده، ۱ انجام شده" in scenario
    assert signed_in(chain_app, "marketer").get("/hq/notes").status_code == 403


def test_the_builder_offers_the_note_and_reads_it_back() -> None:
    """The scenario builder has a slot for the note: typed text (two lines from a textarea)
    becomes the action, an empty one is refused in Persian beside its field."""
    from werkzeug.datastructures import MultiDict

    from cloud.scenario_form import FormErrors, form_values, read_form

    form = MultiDict(
        {
            "name_fa": "پیگیری",
            "trigger": "birthday",
            "act_owner_note": "on",
            "owner_note_text": "خط یک\r\nخط دو",
            "period": "year",
            "control_pct": "۰",
        }
    )
    _name, definition = read_form(form)
    assert definition["actions"] == [{"type": "owner_note", "text": "خط یک\nخط دو"}]
    assert form_values(definition)["owner_note_text"] == "خط یک\nخط دو"
    with pytest.raises(FormErrors) as caught:
        read_form(MultiDict({**form.to_dict(), "owner_note_text": "  "}))
    assert "متن یادداشت" in caught.value.errors["owner_note_text"]

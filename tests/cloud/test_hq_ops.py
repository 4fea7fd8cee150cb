"""HQ's operating pages through Flask's test client: who may reach what, CSRF on every POST,
a builder that stores a scenario only when every field is right, revocation that really
shuts a terminal out, and a users admin that never shows a password hash.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from agent.errors import SyncError
from cloud import scenario_form
from cloud.fleet import create_enrolment_code, create_store
from cloud.hq import create_user
from cloud.hq_api import create_token
from cloud.scenarios import store
from cloud.scenarios.library import LIBRARY
from cloud.scenarios.model import parse
from cloud.sms.providers import FileProvider
from cloud.sms.sending import send_to_member
from cloud.tables import (
    api_tokens,
    members,
    scenarios,
    sms_messages,
    stores,
    terminals,
    user_stores,
    users,
)
from common.persian import TEHRAN

PASSWORD = "a-long-password"
BUILDER_OK = {
    "scenario_id": "yalda-1405",
    "name_fa": "یلدای ۱۴۰۵",
    "trigger": "occasion",
    "trigger_occasion": "yalda",
    "act_sms": "on",
    "sms_a": "{نام} عزیز، یلدایتان مبارک. کد هدیه: {کد}",
    "sms_b": "",
    "act_coupon": "on",
    "coupon_value": "۲۰۰٬۰۰۰",
    "coupon_days": "۷",
    "period": "year",
    "budget": "300,000,000",
    "sms_per_week": "۲",
    "control_pct": "۱۰",
    "cond_min_spend": "",
}


def _engine(app: Flask) -> sa.Engine:
    engine: sa.Engine = app.extensions["vafa"].engine
    return engine


def _users(app: Flask) -> str:
    """Make one user of each role; the store owner owns store «ونک». Return its id."""
    with _engine(app).begin() as conn:
        vanak = create_store(conn, "ونک")
        create_user(conn, "boss", PASSWORD, "admin")
        create_user(conn, "neda", PASSWORD, "marketer")
        create_user(conn, "owner", PASSWORD, "store_owner")
        owner_id = conn.execute(sa.select(users.c.id).where(users.c.username == "owner")).scalar()
        conn.execute(sa.insert(user_stores).values(user_id=owner_id, store_id=vanak))
    return vanak


def _log_in(app: Flask, username: str, password: str = PASSWORD) -> tuple[FlaskClient, str]:
    """Return a signed-in client and its CSRF token."""
    client = app.test_client()
    token = _csrf(client.get("/hq/login").get_data(as_text=True))
    answer = client.post(
        "/hq/login", data={"username": username, "password": password, "csrf": token}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    # The login starts a new session, with a new token: read it from the next page.
    return client, _csrf(client.get("/hq/fleet").get_data(as_text=True))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _count(app: Flask, table: sa.Table) -> int:
    with _engine(app).connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _stored(app: Flask, scenario_id: str) -> tuple[dict[str, Any], bool]:
    with _engine(app).connect() as conn:
        row = conn.execute(sa.select(scenarios).where(scenarios.c.id == scenario_id)).one()
    return json.loads(row.definition), bool(row.enabled)


PAGES = {
    "/hq/scenarios": ("admin", "marketer"),
    "/hq/scenarios/birthday": ("admin", "marketer"),
    "/hq/scenarios/new": ("admin", "marketer"),
    "/hq/scenarios/birthday/edit": ("admin", "marketer"),
    "/hq/sms": ("admin", "marketer"),
    "/hq/fleet": ("admin", "marketer", "store_owner"),
    "/hq/users": ("admin",),
}


def test_each_page_opens_for_its_roles_only(cloud_app_any: Flask) -> None:
    _users(cloud_app_any)
    with _engine(cloud_app_any).begin() as conn:
        store.save(conn, "birthday", LIBRARY["birthday"])
    for username, role in (("boss", "admin"), ("neda", "marketer"), ("owner", "store_owner")):
        client, _ = _log_in(cloud_app_any, username)
        for path, roles in PAGES.items():
            status = client.get(path).status_code
            assert status == (200 if role in roles else 403), (username, path, status)
    anonymous = cloud_app_any.test_client()
    for path in PAGES:
        answer = anonymous.get(path)
        assert answer.status_code == 302 and "/hq/login" in answer.headers["Location"]


def test_posts_are_refused_to_the_wrong_role(cloud_app: Flask) -> None:
    vanak = _users(cloud_app)
    with _engine(cloud_app).begin() as conn:
        store.save(conn, "birthday", LIBRARY["birthday"], enabled=False)
    marketer, token = _log_in(cloud_app, "neda")
    assert (
        marketer.post("/hq/fleet/codes", data={"csrf": token, "store_id": vanak}).status_code == 403
    )
    assert marketer.post("/hq/users", data={"csrf": token}).status_code == 403
    owner, token = _log_in(cloud_app, "owner")
    answer = owner.post("/hq/scenarios/birthday/switch", data={"csrf": token, "enabled": "1"})
    assert answer.status_code == 403
    form = {**BUILDER_OK, "csrf": token}
    assert owner.post("/hq/scenarios/new", data=form).status_code == 403
    assert _stored(cloud_app, "birthday")[1] is False
    assert _count(cloud_app, scenarios) == 1


def test_every_post_needs_the_csrf_token(enrolled) -> None:  # type: ignore[no-untyped-def]
    _terminal, sync, app = enrolled
    vanak = _users(app)
    with _engine(app).begin() as conn:
        store.save(conn, "birthday", LIBRARY["birthday"], enabled=False)
    admin, _ = _log_in(app, "boss")
    terminal_id = sync.identity.terminal_id
    refused = [
        ("/hq/scenarios/birthday/switch", {"enabled": "1"}),
        ("/hq/scenarios/new", BUILDER_OK),
        ("/hq/scenarios/birthday/edit", {**BUILDER_OK, "name_fa": "دیگر"}),
        (f"/hq/fleet/{terminal_id}/revoke", {}),
        ("/hq/fleet/codes", {"store_id": vanak}),
        ("/hq/fleet/stores", {"name": "شعبه تازه"}),
        ("/hq/users", {"username": "x", "password": PASSWORD, "role": "admin"}),
        ("/hq/users/2/password", {"password": "another-password"}),
        ("/hq/users/2/state", {"disable": "1"}),
        ("/hq/users/2/delete", {}),
    ]
    for path, form in refused:
        for token in (None, "wrong"):
            data = dict(form) if token is None else {**form, "csrf": token}
            assert admin.post(path, data=data).status_code == 400, (path, token)
    with _engine(app).connect() as conn:
        assert conn.execute(sa.select(terminals.c.revoked_at)).scalar() is None
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 3
    assert _stored(app, "birthday") == (LIBRARY["birthday"], False)
    assert _count(app, scenarios) == 1
    with pytest.raises(KeyError):
        _stored_or_keyerror(app, "yalda-1405")


def _stored_or_keyerror(app: Flask, scenario_id: str) -> None:
    with _engine(app).connect() as conn:
        if conn.execute(sa.select(scenarios).where(scenarios.c.id == scenario_id)).first() is None:
            raise KeyError(scenario_id)


BAD_FIELDS = [
    ({"scenario_id": "Yalda 1405"}, "scenario_id", "حروف کوچک لاتین"),
    ({"scenario_id": "birthday"}, "scenario_id", "این شناسه هست"),
    ({"name_fa": "  "}, "name_fa", "نام سناریو را بنویسید"),
    ({"trigger": "moon"}, "trigger", "رویداد را از فهرست انتخاب کنید"),
    ({"trigger": "inactive", "trigger_days": "۰"}, "trigger_days", "روزهای غیبت"),
    ({"trigger": "inactive", "trigger_days": "شصت"}, "trigger_days", "روزهای غیبت"),
    ({"trigger": "tier"}, "trigger_tiers", "دست‌کم یک سطح"),
    ({"trigger": "feedback", "trigger_max_nps": "11"}, "trigger_max_nps", "امتیاز نظرسنجی"),
    ({"trigger_occasion": ""}, "trigger_occasion", "کلید مناسبت"),
    ({"act_sms": "", "act_coupon": ""}, "actions", "دست‌کم یک کار"),
    ({"sms_a": "   "}, "sms_a", "متن پیامک را بنویسید"),
    ({"coupon_value": "0"}, "coupon_value", "مبلغ کوپن"),
    ({"coupon_days": "-3"}, "coupon_days", "روزهای اعتبار کوپن"),
    ({"act_gift": "on", "gift_amount": "100", "gift_note": ""}, "gift_note", "پیامی را که عضو"),
    ({"period": "decade"}, "period", "دورهٔ تکرار"),
    ({"budget": "۱۰.۵"}, "budget", "بودجه"),
    ({"control_pct": "۹۵"}, "control_pct", "گروه کنترل"),
    ({"sms_per_week": "0"}, "sms_per_week", "سقف پیامک"),
    ({"cond_tiers": "platinum"}, "cond_tiers", "سطح‌های انتخاب‌شده"),
    ({"cond_stores": "no-such-store"}, "cond_stores", "فروشگاه انتخاب‌شده پیدا نشد"),
    ({"trigger": "gap", "trigger_k": ""}, "trigger_k", "ضریب غیبت"),
    ({"trigger": "gap", "trigger_k": "۰٫۵"}, "trigger_k", "ضریب غیبت"),
    ({"trigger": "gap", "trigger_k": "nan"}, "trigger_k", "ضریب غیبت"),
    ({"trigger": "rising_rate", "trigger_ratio": "۱٫۵"}, "trigger_ratio", "نسبت"),
    (
        {"trigger": "rising_rate", "trigger_recent": "۳", "rising_min_purchases": "۴"},
        "rising_min_purchases",
        "دست‌کم دو تا بیشتر از فاصله‌های اخیر",
    ),
    ({"trigger": "segment_change", "trigger_to": "kings"}, "trigger_to", "بخش‌های مقصد"),
    ({"trigger": "purchase", "trigger_min_amount": "-1"}, "trigger_min_amount", "کمترین مبلغ"),
    ({"period": "event"}, "period", "فقط برای این رویدادهاست"),
    ({"cond_genders": "x"}, "cond_genders", "جنسیت"),
    ({"cond_age_groups": "100_plus"}, "cond_age_groups", "گروه سنی"),
    ({"cond_provinces": "آتلانتیس"}, "cond_provinces", "استان"),
    ({"cond_cities": "تبریز، گاتهام"}, "cond_cities", "این شهر در فهرست شهرها نیست: گاتهام"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_FIELDS)
def test_bad_builder_input_shows_a_persian_error_beside_the_field_and_stores_nothing(
    cloud_app: Flask, change: dict[str, str], field: str, message: str
) -> None:
    _users(cloud_app)
    with _engine(cloud_app).begin() as conn:
        store.save(conn, "birthday", LIBRARY["birthday"])
    client, token = _log_in(cloud_app, "neda")
    answer = client.post("/hq/scenarios/new", data={**BUILDER_OK, **change, "csrf": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    shown = re.search(rf'id="error-{field}">([^<]+)<', page)
    assert shown and message in shown.group(1), page[page.find("form-errors") :][:400]
    assert _count(cloud_app, scenarios) == 1
    assert _stored(cloud_app, "birthday") == (LIBRARY["birthday"], True)


def test_the_builder_stores_what_the_model_accepts_switched_off(cloud_app_any: Flask) -> None:
    vanak = _users(cloud_app_any)
    client, token = _log_in(cloud_app_any, "neda")
    form = MultiDict({**BUILDER_OK, "csrf": token})
    form.setlist("cond_tiers", ["gold", "vip"])
    form.add("cond_stores", vanak)
    answer = client.post("/hq/scenarios/new", data=form)
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/hq/scenarios/yalda-1405?saved=1")
    definition, enabled = _stored(cloud_app_any, "yalda-1405")
    assert enabled is False  # a new scenario waits for its preview before it is turned on
    assert definition == {
        "name_fa": "یلدای ۱۴۰۵",
        "trigger": {"type": "occasion", "occasion": "yalda"},
        "actions": [
            {"type": "sms", "variants": ["{نام} عزیز، یلدایتان مبارک. کد هدیه: {کد}"]},
            {"type": "coupon", "value_rial": 200_000, "days": 7},
        ],
        "conditions": {"tiers": ["gold", "vip"], "stores": [vanak]},
        "guardrails": {"period": "year", "sms_per_week": 2, "budget_rial": 300_000_000},
        "control_pct": 10,
    }
    assert parse("yalda-1405", definition).budget_rial == 300_000_000
    assert "یلدای ۱۴۰۵" in client.get("/hq/scenarios").get_data(as_text=True)


def test_the_builder_stores_the_later_triggers_and_audience_conditions(
    cloud_app_any: Flask,
) -> None:
    _users(cloud_app_any)
    client, token = _log_in(cloud_app_any, "boss")
    form = MultiDict({**BUILDER_OK, "csrf": token, "scenario_id": "late-regulars"})
    for key, value in {"trigger": "gap", "trigger_k": "۲٫۵", "gap_min_purchases": "۴"}.items():
        form[key] = value
    form.setlist("cond_genders", ["f"])
    form.setlist("cond_age_groups", ["25_34", "18_24"])
    form.setlist("cond_provinces", ["تهران"])
    form["cond_cities"] = "تبریز، کرج"
    assert client.post("/hq/scenarios/new", data=form).status_code == 302
    definition, _ = _stored(cloud_app_any, "late-regulars")
    assert definition["trigger"] == {"type": "gap", "k": 2.5, "min_purchases": 4}
    assert definition["conditions"] == {
        "genders": ["f"],
        "age_groups": ["18_24", "25_34"],
        "provinces": ["تهران"],
        "cities": ["تبریز", "کرج"],
    }
    page = client.get("/hq/scenarios/late-regulars").get_data(as_text=True)
    assert "بیش از ۲.۵ برابر فاصلهٔ همیشگی" in page and "سن ۱۸ تا ۲۴ سال" in page
    form = MultiDict({**BUILDER_OK, "csrf": token, "scenario_id": "referrals"})
    form["trigger"], form["period"] = "referral", "event"
    assert client.post("/hq/scenarios/new", data=form).status_code == 302
    assert _stored(cloud_app_any, "referrals")[0]["guardrails"]["period"] == "event"


def test_editing_keeps_the_switch_and_changes_only_what_was_typed(cloud_app: Flask) -> None:
    _users(cloud_app)
    with _engine(cloud_app).begin() as conn:
        store.save(conn, "win-back", LIBRARY["win-back"], enabled=True)
    client, token = _log_in(cloud_app, "boss")
    page = client.get("/hq/scenarios/win-back/edit").get_data(as_text=True)
    assert 'value="۶۰"' in page  # the stored 60 days, in Persian digits
    form = _as_form(scenario_form.form_values(LIBRARY["win-back"]))
    form["trigger_days"] = "۹۰"
    form["csrf"] = token
    assert client.post("/hq/scenarios/win-back/edit", data=form).status_code == 302
    definition, enabled = _stored(cloud_app, "win-back")
    assert enabled is True
    expected = json.loads(json.dumps(LIBRARY["win-back"]))
    expected["trigger"]["days"] = 90
    assert _sorted_actions(definition) == _sorted_actions(expected)


def _sorted_actions(definition: dict[str, Any]) -> dict[str, Any]:
    return {**definition, "actions": sorted(definition["actions"], key=lambda a: a["type"])}


def _as_form(values: dict[str, Any]) -> MultiDict[str, str]:
    """Return the fields a browser would send for these builder values."""
    form: MultiDict[str, str] = MultiDict()
    for key, value in values.items():
        if isinstance(value, list):
            form.setlist(key, value)
        elif value is True:
            form[key] = "on"
        else:
            form[key] = str(value)
    return form


def _checked(scenario_id: str, definition: dict[str, Any]) -> Any:
    """Return the parsed scenario with its actions and lists in one order (the form's own)."""
    parsed = parse(scenario_id, definition)
    return replace(
        parsed,
        actions=tuple(sorted(parsed.actions, key=lambda a: a["type"])),
        conditions={
            k: sorted(v) if isinstance(v, list) else v for k, v in parsed.conditions.items()
        },
    )


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY))
def test_every_library_scenario_reads_back_the_same_through_the_form(scenario_id: str) -> None:
    definition = LIBRARY[scenario_id]
    assert scenario_form.unsupported(definition) == ""
    _, read = scenario_form.read_form(_as_form(scenario_form.form_values(definition)))
    assert _checked(scenario_id, read) == _checked(scenario_id, definition)


def test_a_scenario_the_form_cannot_show_is_not_edited_through_it(cloud_app: Flask) -> None:
    _users(cloud_app)
    twice = {**LIBRARY["birthday"], "actions": [*LIBRARY["birthday"]["actions"]] * 2}
    with _engine(cloud_app).begin() as conn:
        store.save(conn, "twice", twice)
    client, token = _log_in(cloud_app, "boss")
    assert client.get("/hq/scenarios/twice/edit").status_code == 409
    answer = client.post("/hq/scenarios/twice/edit", data={**BUILDER_OK, "csrf": token})
    assert answer.status_code == 409
    assert _stored(cloud_app, "twice")[0] == twice


def test_the_switch_turns_a_scenario_on_and_off(cloud_app: Flask) -> None:
    _users(cloud_app)
    with _engine(cloud_app).begin() as conn:
        store.save(conn, "birthday", LIBRARY["birthday"], enabled=False)
    client, token = _log_in(cloud_app, "neda")
    client.post("/hq/scenarios/birthday/switch", data={"csrf": token, "enabled": "1"})
    assert _stored(cloud_app, "birthday")[1] is True
    client.post("/hq/scenarios/birthday/switch", data={"csrf": token, "enabled": "0"})
    assert _stored(cloud_app, "birthday")[1] is False
    assert client.post("/hq/scenarios/nope/switch", data={"csrf": token}).status_code == 404


def test_revoking_from_the_page_refuses_the_terminals_next_signed_request(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, sync, app = enrolled
    _users(app)
    terminal_id = sync.identity.terminal_id
    assert sync.post_signed("/api/v1/sync/events", {"events": []})["results"] == []
    admin, token = _log_in(app, "boss")
    confirm = admin.get(f"/hq/fleet/{terminal_id}/revoke")
    assert confirm.status_code == 200 and "بله، باطل شود" in confirm.get_data(as_text=True)
    with _engine(app).connect() as conn:  # asking is not doing
        assert conn.execute(sa.select(terminals.c.revoked_at)).scalar() is None
    answer = admin.post(f"/hq/fleet/{terminal_id}/revoke", data={"csrf": token})
    assert answer.status_code == 302
    with pytest.raises(SyncError, match="403"):
        sync.post_signed("/api/v1/sync/events", {"events": []})
    terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    with pytest.raises(SyncError, match="403"):
        sync.drain(terminal.conn, terminal.vault)
    again = admin.post(f"/hq/fleet/{terminal_id}/revoke", data={"csrf": token})
    assert "error=already" in again.headers["Location"]
    assert "باطل‌شده" in admin.get("/hq/fleet").get_data(as_text=True)


def test_a_store_owner_sees_only_their_own_stores_terminals(
    cloud_app: Flask, tmp_path: Path
) -> None:
    import httpx

    from agent.identity import enroll

    vanak = _users(cloud_app)
    with _engine(cloud_app).begin() as conn:
        tajrish = create_store(conn, "تجریش")
        codes = [create_enrolment_code(conn, vanak), create_enrolment_code(conn, tajrish)]
    transport = httpx.WSGITransport(app=cloud_app)
    mine = enroll("http://cloud.test", codes[0], tmp_path / "a", transport=transport)
    theirs = enroll("http://cloud.test", codes[1], tmp_path / "b", transport=transport)
    with _engine(cloud_app).begin() as conn:  # events 6..8 still on their way
        conn.execute(
            sa.update(terminals)
            .where(terminals.c.id == mine.terminal_id)
            .values(contiguous_seq=5, highest_seq=9)
        )
    owner, _ = _log_in(cloud_app, "owner")
    page = owner.get("/hq/fleet").get_data(as_text=True)
    assert mine.terminal_id in page and theirs.terminal_id not in page
    assert '۵ <span class="bad">(شکاف: بالاترین رسیده ۹)</span>' in page
    assert "باطل کردن" not in page and "ساخت کد فعال‌سازی" not in page
    assert owner.get(f"/hq/fleet/{mine.terminal_id}/revoke").status_code == 403
    admin, _ = _log_in(cloud_app, "boss")
    page = admin.get("/hq/fleet").get_data(as_text=True)
    assert mine.terminal_id in page and theirs.terminal_id in page


def test_an_enrolment_code_is_shown_once_and_enrols_a_terminal(
    cloud_app: Flask, tmp_path: Path
) -> None:
    import httpx

    from agent.identity import enroll

    vanak = _users(cloud_app)
    admin, token = _log_in(cloud_app, "boss")
    answer = admin.post("/hq/fleet/codes", data={"csrf": token, "store_id": vanak})
    page = answer.get_data(as_text=True)
    with admin.session_transaction() as session:  # signed, not sealed: no code in it
        assert "code" not in json.dumps(dict(session))
    code = re.search(r'id="code">([A-Z0-9-]{9})<', page)
    assert code, page
    assert 'id="code"' not in admin.get("/hq/fleet").get_data(as_text=True)
    transport = httpx.WSGITransport(app=cloud_app)
    identity = enroll("http://cloud.test", code.group(1), tmp_path / "t", transport=transport)
    assert identity.store_name == "ونک"
    assert (
        admin.post("/hq/fleet/codes", data={"csrf": token, "store_id": "nope"}).status_code == 404
    )


def test_users_admin_creates_resets_disables_and_deletes_without_showing_hashes(
    cloud_app_any: Flask,
) -> None:
    vanak = _users(cloud_app_any)
    admin, token = _log_in(cloud_app_any, "boss")
    form = MultiDict(
        {"csrf": token, "username": "sara", "password": "short", "role": "store_owner"}
    )
    answer = admin.post("/hq/users", data=form)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "گذرواژه دست‌کم ۸ نویسه است" in page and "فروشگاه‌های این صاحب" in page
    assert _count(cloud_app_any, users) == 3
    form["password"] = "sara-long-password"
    form.add("stores", vanak)
    assert admin.post("/hq/users", data=form).status_code == 302
    with _engine(cloud_app_any).connect() as conn:
        sara = conn.execute(sa.select(users).where(users.c.username == "sara")).one()
        assert conn.execute(
            sa.select(user_stores.c.store_id).where(user_stores.c.user_id == sara.id)
        ).scalars().all() == [vanak]
    page = admin.get("/hq/users").get_data(as_text=True)
    assert "sara" in page and "scrypt" not in page and sara.password_hash not in page
    assert "boss" in page and "ونک" in page

    owner, _ = _log_in(cloud_app_any, "sara", "sara-long-password")
    assert owner.get("/hq/fleet").status_code == 200
    admin.post(f"/hq/users/{sara.id}/password", data={"csrf": token, "password": "new-long-pass"})
    _log_in(cloud_app_any, "sara", "new-long-pass")

    with _engine(cloud_app_any).begin() as conn:
        create_token(conn, "sara")
    admin.post(f"/hq/users/{sara.id}/state", data={"csrf": token, "disable": "1"})
    assert owner.get("/hq/fleet").status_code == 302  # the open session is shut too
    client = cloud_app_any.test_client()
    token2 = _csrf(client.get("/hq/login").get_data(as_text=True))
    login = client.post(
        "/hq/login", data={"username": "sara", "password": "new-long-pass", "csrf": token2}
    )
    assert login.status_code == 200  # the form again, with its error: no way in
    with _engine(cloud_app_any).connect() as conn:
        assert conn.execute(sa.select(api_tokens.c.revoked_at)).scalar() is not None
    admin.post(f"/hq/users/{sara.id}/state", data={"csrf": token, "disable": "0"})
    _log_in(cloud_app_any, "sara", "new-long-pass")

    boss_id = _user_id(cloud_app_any, "boss")
    own = admin.post(f"/hq/users/{boss_id}/state", data={"csrf": token, "disable": "1"})
    assert own.status_code == 400
    assert admin.post(f"/hq/users/{boss_id}/delete", data={"csrf": token}).status_code == 400
    assert "بله، پاک شود" in admin.get(f"/hq/users/{sara.id}/delete").get_data(as_text=True)
    assert admin.post(f"/hq/users/{sara.id}/delete", data={"csrf": token}).status_code == 302
    assert _count(cloud_app_any, users) == 3
    assert _count(cloud_app_any, user_stores) == 1  # the other owner's
    assert _count(cloud_app_any, api_tokens) == 0


def test_an_owners_stores_are_changed_and_take_effect_at_the_next_page(
    cloud_app_any: Flask,
) -> None:
    """GIVEN Vanak's owner signed in WHEN the admin gives them Tajrish instead THEN their next
    page opens Tajrish's figures and refuses Vanak's; no store, an unknown store, a
    non-owner, a marketer asking and a missing CSRF token are refused, nothing changed."""
    vanak = _users(cloud_app_any)
    with _engine(cloud_app_any).begin() as conn:
        tajrish = create_store(conn, "تجریش")
    admin, token = _log_in(cloud_app_any, "boss")
    owner, _ = _log_in(cloud_app_any, "owner")

    def sees(store_id: str) -> bool:
        answer = owner.get("/hq/segments", query_string={"store": store_id}).status_code
        assert answer in (200, 404)
        return answer == 200

    assert sees(vanak) and not sees(tajrish)
    owner_id, neda_id = _user_id(cloud_app_any, "owner"), _user_id(cloud_app_any, "neda")

    def owned() -> list[str]:
        with _engine(cloud_app_any).connect() as conn:
            return list(
                conn.execute(
                    sa.select(user_stores.c.store_id).where(user_stores.c.user_id == owner_id)
                ).scalars()
            )

    path = f"/hq/users/{owner_id}/stores"
    assert admin.post(path, data={"csrf": token}).status_code == 400
    assert admin.post(path, data={"csrf": token, "stores": "nope"}).status_code == 400
    neda_path = f"/hq/users/{neda_id}/stores"
    assert admin.post(neda_path, data={"csrf": token, "stores": vanak}).status_code == 400
    marketer, marketer_token = _log_in(cloud_app_any, "neda")
    assert marketer.post(path, data={"csrf": marketer_token, "stores": tajrish}).status_code == 403
    assert admin.post(path, data={"stores": tajrish}).status_code == 400  # no CSRF
    assert owned() == [vanak]

    assert admin.post(path, data={"csrf": token, "stores": tajrish}).status_code == 302
    assert owned() == [tajrish]
    assert sees(tajrish) and not sees(vanak)  # the same open session, at its next page
    assert "فروشگاه‌های صاحب فروشگاه عوض شد" in admin.get("/hq/users?done=stores").get_data(
        as_text=True
    )


def _user_id(app: Flask, username: str) -> int:
    with _engine(app).connect() as conn:
        return int(
            conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar_one()
        )


def test_a_role_changed_since_login_takes_effect_at_the_next_click(cloud_app: Flask) -> None:
    _users(cloud_app)
    client, _ = _log_in(cloud_app, "neda")
    assert client.get("/hq/sms").status_code == 200
    with _engine(cloud_app).begin() as conn:
        conn.execute(sa.update(users).where(users.c.username == "neda").values(role="store_owner"))
    assert client.get("/hq/sms").status_code == 403


MOBILE = "+989121112233"
NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=TEHRAN)  # 1405/09/10
NOON_UTC = NOON.astimezone(dt.UTC)  # what the cloud stores


def _texts(app: Flask, tmp_path: Path) -> None:
    """Send 55 texts to one member: 53 marketing ones over two days, then 2 one-time codes."""
    context = app.extensions["vafa"]
    vault, provider = context.vault, FileProvider(tmp_path / "sms.jsonl")
    member_id = "m" * 32
    with context.engine.begin() as conn:
        conn.execute(
            sa.insert(members).values(
                id=member_id,
                card_code="2901",
                mobile_hmac=vault.lookup_hash(MOBILE),
                mobile_enc=vault.encrypt(member_id, MOBILE),
                name_enc=vault.encrypt(member_id, "مریم رضایی"),
                home_store_id=conn.execute(sa.select(stores.c.id)).scalar(),
                marketing_consent=True,
                enrolled_at=NOON,
            )
        )
        for index in range(53):
            text = f"پیشنهاد شمارهٔ {index}"
            sent = send_to_member(conn, vault, provider, member_id, text, "yalda", True, NOON)
            day = NOON_UTC - dt.timedelta(days=1 if index < 20 else 0)
            conn.execute(
                sa.update(sms_messages)
                .where(sms_messages.c.id == sent.message_id)
                .values(
                    created_at=day + dt.timedelta(seconds=index),
                    status="delivered" if index % 2 else "sent",
                    status_at=day + dt.timedelta(minutes=5),
                )
            )
        for code in ("۴۸۲۹۱۷", "۱۱۱۲۲۲"):
            send_to_member(conn, vault, provider, member_id, f"کد ورود: {code}", "otp", False, NOON)


def test_the_sms_log_masks_mobiles_filters_and_pages(cloud_app_any: Flask, tmp_path: Path) -> None:
    _users(cloud_app_any)
    _texts(cloud_app_any, tmp_path)
    client, _ = _log_in(cloud_app_any, "neda")
    page = client.get("/hq/sms").get_data(as_text=True)
    assert "۵۵ پیامک" in page and "صفحهٔ ۱ از ۲" in page
    assert page.count("۰۹۱۲***۲۲۳۳") == 50  # one page, every mobile masked
    for whole in ("09121112233", "9121112233", "۰۹۱۲۱۱۱۲۲۳۳", "۹۱۲۱۱۱۲۲۳۳"):
        assert whole not in page
    assert "۴۸۲۹۱۷" not in page and "کد ورود" not in page  # a one-time code stays hidden
    assert "پیشنهاد شمارهٔ 52" in page  # newest first, as it was sent
    second = client.get("/hq/sms?page=2").get_data(as_text=True)
    assert second.count("۰۹۱۲***۲۲۳۳") == 5 and "صفحهٔ ۲ از ۲" in second
    delivered = client.get("/hq/sms?status=delivered").get_data(as_text=True)
    assert "۲۶ پیامک" in delivered and "فرستاده شد</span>" not in delivered
    service = client.get("/hq/sms?purpose=otp").get_data(as_text=True)
    assert "۲ پیامک" in service
    yesterday = client.get("/hq/sms?from=۱۴۰۵/۰۹/۰۹&to=1405-09-09").get_data(as_text=True)
    assert "۲۰ پیامک" in yesterday
    bad = client.get("/hq/sms?from=1405/13/40").get_data(as_text=True)
    assert "تاریخ را به شکل ۱۴۰۵/۰۹/۳۰ بنویسید" in bad


def test_per_event_entries_report_by_month_and_count_in_the_months_budget(
    cloud_app: Flask,
) -> None:
    from cloud.scenarios.engine import period_key
    from cloud.storage import utcnow
    from cloud.tables import scenario_entries
    from common.persian import now_tehran
    from common.protocol import new_id

    _users(cloud_app)
    _texts(cloud_app, Path(cloud_app.instance_path))  # one member to enter
    month = period_key("month", now_tehran().date())
    with _engine(cloud_app).begin() as conn:
        store.save(conn, "referral-thanks", LIBRARY["referral-thanks"])
        for digest in ("a1", "b2"):
            conn.execute(
                sa.insert(scenario_entries).values(
                    id=new_id(),
                    scenario_id="referral-thanks",
                    member_id="m" * 32,
                    period=f"{month}/{digest}",
                    arm="A",
                    outcome="acted",
                    cost_rial=250_000,
                    created_at=utcnow(),
                )
            )
    client, _ = _log_in(cloud_app, "neda")
    page = client.get("/hq/scenarios/referral-thanks").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"', page)
    assert options == [month, month.split("-")[0]]  # no per-event digests offered
    assert re.search(r'id="treated-members">۲<', page)
    listing = client.get("/hq/scenarios").get_data(as_text=True)
    assert "۵۰٬۰۰۰ تومان از" in listing  # both events' cost, in this month's budget


def test_a_stored_scenario_that_no_longer_parses_is_shown_broken_and_fixed_in_the_form(
    cloud_app: Flask,
) -> None:
    from cloud.storage import utcnow

    _users(cloud_app)
    stale = {
        "name_fa": "افت به بخش حذف‌شده",
        "trigger": {"type": "segment_change", "to": ["a-segment-since-removed"]},
        "actions": [{"type": "points", "amount": 100}],
    }
    with _engine(cloud_app).begin() as conn:  # stored before its segment left the map
        conn.execute(
            sa.insert(scenarios).values(
                id="stale", definition=json.dumps(stale), enabled=True, updated_at=utcnow()
            )
        )
    client, token = _log_in(cloud_app, "neda")
    listing = client.get("/hq/scenarios").get_data(as_text=True)
    assert "تعریف نادرست؛ اجرا نمی‌شود" in listing
    page = client.get("/hq/scenarios/stale")
    assert page.status_code == 409 and "(trigger.to)" in page.get_data(as_text=True)
    form = client.get("/hq/scenarios/stale/edit")
    assert form.status_code == 200
    values = _as_form(scenario_form.form_values(stale))
    values.poplist("trigger_to")  # no box for a segment the map no longer has
    values["csrf"] = token
    assert client.post("/hq/scenarios/stale/edit", data=values).status_code == 302
    definition, enabled = _stored(cloud_app, "stale")
    assert definition["trigger"] == {"type": "segment_change"} and enabled is True
    assert client.get("/hq/scenarios/stale").status_code == 200

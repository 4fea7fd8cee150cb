"""Store owners see their own stores only: Member 360 by edited URLs and ids, the CLI's
``--store``, and the scope's SQL on SQLite and PostgreSQL.

``seed_chain`` builds a small chain (two stores, members, sales, feedback) that the
dashboard and browser tests reuse.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cloud.access import Scope, load_scope, set_user_stores
from cloud.cli import main
from cloud.hq import create_user
from cloud.tables import events, feedback, members, sales, stores, terminals, user_stores, users
from common.pii import PiiVault

VANAK, TAJRISH = "store-vanak", "store-tajrish"
PASSWORD = "رمز-آزمایشی-۱۴۰۵"
# 1404-04-01 (Tir) is 2025-06-22 in Tehran; sales run over four Jalali months.
START = dt.datetime(2025, 6, 23, 8, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Chain:
    """Who and what ``seed_chain`` made."""

    vanak_members: tuple[str, ...]
    tajrish_members: tuple[str, ...]
    tajrish_mobile: str  # a Tajrish member's mobile, for searches
    shared_buyer: str  # a Vanak member who also bought at Tajrish


def _member(vault: PiiVault, i: int, store: str, extra: dict[str, Any]) -> dict[str, Any]:
    member_id = f"m{i:02d}"
    mobile = f"+98912{1000000 + i:07d}"
    return {
        "id": member_id,
        "card_code": f"c{i:02d}",
        "mobile_hmac": vault.lookup_hash(mobile),
        "mobile_enc": vault.encrypt(member_id, mobile),
        "name_enc": vault.encrypt(member_id, f"عضو {i}"),
        "home_store_id": store,
        "marketing_consent": True,
        "enrolled_at": START - dt.timedelta(days=3),
        **extra,
    }


def seed_chain(app: Flask) -> Chain:
    """Fill the cloud with two stores, eight members, four months of sales and feedback."""
    vault: PiiVault = app.extensions["vafa"].vault
    people = [
        (VANAK, {"gender": "f", "province": "تهران", "birth_year": 1370}),
        (VANAK, {"gender": "m", "province": "تهران", "birth_year": 1360}),
        (VANAK, {"gender": "f", "province": "البرز", "birth_year": 1380}),
        (VANAK, {"gender": None, "province": None, "birth_year": None}),
        (VANAK, {"gender": "f", "province": "تهران", "birth_year": 1375}),
        (TAJRISH, {"gender": "m", "province": "اصفهان", "birth_year": 1350}),
        (TAJRISH, {"gender": "f", "province": "اصفهان", "birth_year": 1385}),
        (TAJRISH, {"gender": "m", "province": "فارس", "birth_year": 1365}),
    ]
    rows = [_member(vault, i, store, extra) for i, (store, extra) in enumerate(people, 1)]
    with app.extensions["vafa"].engine.begin() as conn:
        conn.execute(
            sa.insert(stores),
            [
                {"id": VANAK, "name": "فروشگاه ونک", "created_at": START},
                {"id": TAJRISH, "name": "فروشگاه تجریش", "created_at": START},
            ],
        )
        conn.execute(
            sa.insert(terminals),
            [
                {"id": f"t-{s}", "store_id": s, "public_key": f"k-{s}", "created_at": START}
                for s in (VANAK, TAJRISH)
            ],
        )
        conn.execute(sa.insert(members), rows)
        _sales(conn, vault)
    return Chain(
        vanak_members=tuple(r["id"] for r in rows if r["home_store_id"] == VANAK),
        tajrish_members=tuple(r["id"] for r in rows if r["home_store_id"] == TAJRISH),
        tajrish_mobile="09121000006",
        shared_buyer="m01",
    )


def _sales(conn: sa.Connection, vault: PiiVault) -> None:
    # (member, store, days after START, Rials, NPS or None)
    plan = [
        ("m01", VANAK, 0, 1_200_000, 10),
        ("m01", VANAK, 35, 800_000, 9),
        ("m01", TAJRISH, 40, 650_000, 3),  # a Vanak member buying at Tajrish
        ("m01", VANAK, 70, 900_000, None),
        ("m02", VANAK, 1, 300_000, 7),
        ("m02", VANAK, 95, 450_000, 8),
        ("m03", VANAK, 33, 2_500_000, 10),
        ("m05", VANAK, 64, 150_000, 2),
        ("m06", TAJRISH, 2, 5_000_000, 6),
        ("m06", TAJRISH, 31, 4_000_000, 9),
        ("m07", TAJRISH, 66, 700_000, 9),
        ("m08", TAJRISH, 96, 1_100_000, None),
    ]
    for n, (member, store, days, rial, nps) in enumerate(plan, 1):
        at = START + dt.timedelta(days=days)
        event_id, sale_id = f"e{n:03d}", f"s{n:03d}"
        conn.execute(
            sa.insert(events).values(
                id=event_id,
                terminal_id=f"t-{store}",
                seq=n,
                kind="sale",
                digest="0" * 64,
                received_at=at,
            )
        )
        conn.execute(
            sa.insert(sales).values(
                id=sale_id,
                event_id=event_id,
                member_id=member,
                store_id=store,
                terminal_id=f"t-{store}",
                receipt_no=n,
                amount_rial=rial,
                points_earned=rial // 10_000,
                points_redeemed=0,
                channel="store",
                terminal_time=at.isoformat(),
                received_at=at,
            )
        )
        if nps is not None:
            conn.execute(
                sa.insert(feedback).values(
                    id=f"f{n:03d}",
                    sale_id=sale_id,
                    terminal_id=f"t-{store}",
                    store_id=store,
                    member_id=member,
                    nps=nps,
                    created_at=at + dt.timedelta(hours=2),
                    **_comment(vault, f"f{n:03d}", nps),
                )
            )


def _comment(vault: PiiVault, feedback_id: str, nps: int) -> dict[str, Any]:
    # A sealed comment with the sentiment the feedback page would have stored with it.
    if nps >= 9:
        text, mood = "خیلی عالی بود", "positive"
    elif nps <= 3:
        text, mood = "خیلی بد بود", "negative"
    elif nps == 7:
        text, mood = "معمولی", "neutral"
    else:
        return {}
    return {"comment_enc": vault.encrypt(feedback_id, text), "sentiment": mood}


def add_users(app: Flask) -> None:
    """Make an admin, a marketer, Vanak's owner and an owner of no store."""
    with app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "admin", PASSWORD, "admin")
        create_user(conn, "marketer", PASSWORD, "marketer")
        create_user(conn, "vanak.owner", PASSWORD, "store_owner")
        set_user_stores(conn, "vanak.owner", [VANAK])
        create_user(conn, "nobody.owner", PASSWORD, "store_owner")


def signed_in(app: Flask, username: str) -> FlaskClient:
    """Return a test client whose session is signed in as ``username``."""
    client = app.test_client()
    role = {"admin": "admin", "marketer": "marketer"}.get(username, "store_owner")
    with client.session_transaction() as session:
        session["user"], session["role"] = username, role
    return client


@pytest.fixture
def chain_app(cloud_app_any: Flask) -> tuple[Flask, Chain]:
    chain = seed_chain(cloud_app_any)
    add_users(cloud_app_any)
    return cloud_app_any, chain


def test_scope_sql_keeps_only_the_owners_store(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN Vanak's owner WHEN their scope filters members, sales and feedback
    THEN only Vanak's rows remain, on SQLite and PostgreSQL."""
    app, chain = chain_app
    with app.extensions["vafa"].engine.connect() as conn:
        owner = load_scope(conn, "vanak.owner")
        admin = load_scope(conn, "admin")
        nobody = load_scope(conn, "nobody.owner")
        assert owner == Scope("vanak.owner", "store_owner", frozenset({VANAK}))
        assert admin is not None and admin.whole_chain
        assert nobody is not None and nobody.store_ids == frozenset()

        def ids(scope: Scope, table: sa.Table, where: sa.ColumnElement[bool]) -> set[str]:
            return set(conn.execute(sa.select(table.c.id).where(where)).scalars())

        assert ids(owner, members, owner.members()) == set(chain.vanak_members)
        assert ids(admin, members, admin.members()) == set(
            chain.vanak_members + chain.tajrish_members
        )
        assert ids(nobody, members, nobody.members()) == set()
        owner_sales = ids(owner, sales, owner.stores(sales.c.store_id))
        # Not s003: m01 is Vanak's member, but that sale was Tajrish's.
        assert owner_sales == {"s001", "s002", "s004", "s005", "s006", "s007", "s008"}
        assert ids(owner, feedback, owner.stores(feedback.c.store_id)) == {
            "f001",
            "f002",
            "f005",
            "f006",
            "f007",
            "f008",
        }
        in_scope = owner.member_ids(sales.c.member_id)
        assert set(conn.execute(sa.select(sales.c.member_id).where(in_scope)).scalars()) == {
            "m01",
            "m02",
            "m03",
            "m05",
        }
        assert owner.sees_member(conn, "m01") and not owner.sees_member(conn, "m06")
        assert not owner.sees_member(conn, "no-such-member")


def test_owner_opens_own_member_but_not_another_stores(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN Vanak's owner WHEN they edit the Member 360 URL to a Tajrish member
    THEN 404 with nothing of the member; their own member opens without Tajrish's sale."""
    app, chain = chain_app
    client = signed_in(app, "vanak.owner")
    other = client.get(f"/hq/members/{chain.tajrish_members[0]}")
    assert other.status_code == 404
    assert "عضو 6" not in other.text and "تجریش" not in other.text
    own = client.get(f"/hq/members/{chain.shared_buyer}")
    assert own.status_code == 200
    assert "عضو 1" in own.text
    assert "خرید در فروشگاه ونک" in own.text
    assert "تجریش" not in own.text  # their member's sale elsewhere is Tajrish's
    assert 'class="give"' not in own.text  # no gift form for owners
    admin = signed_in(app, "admin").get(f"/hq/members/{chain.shared_buyer}")
    assert "خرید در فروشگاه تجریش" in admin.text


def test_owner_search_does_not_find_another_stores_member(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN a Tajrish member's mobile, card code and id WHEN Vanak's owner searches
    THEN each reads "not found", exactly as for a number nobody has."""
    app, chain = chain_app
    client = signed_in(app, "vanak.owner")
    for query in (chain.tajrish_mobile, "c06", chain.tajrish_members[0], "09129999999"):
        page = client.get("/hq/members/", query_string={"q": query})
        assert page.status_code == 200, query
        assert "عضوی با این مشخصات پیدا نشد." in page.text, query
    found = client.get("/hq/members/", query_string={"q": "09121000001"})
    assert found.status_code == 302 and found.headers["Location"].endswith("/hq/members/m01")
    admin = signed_in(app, "admin").get("/hq/members/", query_string={"q": chain.tajrish_mobile})
    assert admin.status_code == 302


def test_owner_cannot_give_points_even_to_own_member(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN Vanak's owner WHEN they post a gift to their own member THEN 403, nothing stored."""
    from cloud.tables import grants

    app, chain = chain_app
    client = signed_in(app, "vanak.owner")
    client.get(f"/hq/members/{chain.shared_buyer}")
    with client.session_transaction() as session:
        token = session["csrf"]
    posted = client.post(
        f"/hq/members/{chain.shared_buyer}",
        data={"csrf": token, "points": "500", "reason": "هدیه"},
    )
    assert posted.status_code == 403
    with app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(grants)).scalar_one() == 0


def test_owner_whose_store_is_taken_away_sees_nothing_at_next_click(
    chain_app: tuple[Flask, Chain],
) -> None:
    """GIVEN an owner signed in WHEN HQ removes their store THEN their member is 404 at once."""
    app, chain = chain_app
    client = signed_in(app, "vanak.owner")
    assert client.get(f"/hq/members/{chain.shared_buyer}").status_code == 200
    with app.extensions["vafa"].engine.begin() as conn:
        set_user_stores(conn, "vanak.owner", [])
    assert client.get(f"/hq/members/{chain.shared_buyer}").status_code == 404


def test_a_deleted_user_session_is_refused(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN a session for a user no longer in the database WHEN it opens a member THEN 403."""
    app, chain = chain_app
    client = signed_in(app, "ghost")
    assert client.get(f"/hq/members/{chain.shared_buyer}").status_code == 403


def test_a_disabled_user_session_is_refused_on_every_page(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN an admin signed in WHEN users admin disables the account (hash prefixed "!")
    THEN the open session is refused at its next request, on the dashboard pages too."""
    app, chain = chain_app
    client = signed_in(app, "admin")
    assert client.get(f"/hq/members/{chain.shared_buyer}").status_code == 200
    with app.extensions["vafa"].engine.begin() as conn:
        conn.execute(
            sa.update(users)
            .where(users.c.username == "admin")
            .values(password_hash="!" + users.c.password_hash)
        )
    assert client.get(f"/hq/members/{chain.shared_buyer}").status_code == 403
    assert client.get("/hq/segments").status_code in (302, 403)


def test_member360_hides_the_text_of_service_sms(chain_app: tuple[Flask, Chain]) -> None:
    """GIVEN a member sent a birthday text and a one-time code WHEN HQ opens their timeline
    THEN the birthday text shows and the code does not (the SMS log hides it too)."""
    from cloud.storage import utcnow
    from cloud.tables import sms_messages

    app, chain = chain_app
    vault = app.extensions["vafa"].vault
    texts = [("m" * 32, "birthday", True, "تولدت مبارک"), ("o" * 32, "otp", False, "کد ۴۸۱۵۱۶")]
    with app.extensions["vafa"].engine.begin() as conn:
        for sms_id, purpose, marketing, body in texts:
            conn.execute(
                sa.insert(sms_messages).values(
                    id=sms_id,
                    member_id=chain.shared_buyer,
                    purpose=purpose,
                    marketing=marketing,
                    provider="file",
                    parts=1,
                    body_enc=vault.encrypt(sms_id, body),
                    status="delivered",
                    created_at=utcnow(),
                )
            )
    page = signed_in(app, "admin").get(f"/hq/members/{chain.shared_buyer}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "تولدت مبارک" in html
    assert "۴۸۱۵۱۶" not in html and "پیامک خدماتی" in html


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_cli_store_owner_gets_the_stores_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """GIVEN two stores WHEN `user create --role store_owner --store A --store B`
    THEN user_stores lists both; a missing --store or an unknown store stores no user."""
    instance = str(tmp_path / "hq")
    base = ("--instance", instance)
    _, a, _ = _cli(capsys, *base, "store", "create", "--name", "ونک")
    _, b, _ = _cli(capsys, *base, "store", "create", "--name", "تجریش")
    user = ("user", "create", "--password", PASSWORD, "--role", "store_owner")
    code, out, _ = _cli(
        capsys, *base, *user, "--username", "o1", "--store", a["store_id"], "--store", b["store_id"]
    )
    assert code == 0
    assert out["stores"] == sorted([a["store_id"], b["store_id"]])
    code, _, err = _cli(capsys, *base, *user, "--username", "o2")
    assert code != 0 and "--store" in err
    code, _, err = _cli(capsys, *base, *user, "--username", "o3", "--store", "nope")
    assert code != 0 and "nope" in err
    code, _, err = _cli(
        capsys, *base, "user", "create", "--username", "a1", "--password", PASSWORD,
        "--store", a["store_id"],
    )  # fmt: skip
    assert code != 0 and "--store" in err
    engine = sa.create_engine(f"sqlite:///{instance}/vafa-cloud.db")
    try:
        with engine.connect() as conn:
            names = set(conn.execute(sa.select(users.c.username)).scalars())
            links = set(conn.execute(sa.select(user_stores.c.store_id)).scalars())
    finally:
        engine.dispose()
    assert names == {"o1"}  # o2, o3 and a1 were refused whole
    assert links == {a["store_id"], b["store_id"]}


def seed_preferences(app: Flask, day: dt.date) -> None:
    """Store category preferences as an analytics run on day ``day`` would from sale lines:
    «زعفران» only Tajrish's members buy (a Vanak owner must never see it)."""
    from cloud.analytics.aggregates import store_preference_sums
    from cloud.tables import member_categories, member_incentives, member_suggestions

    bought = [
        ("m01", "لبنیات", 3, 900_000),
        ("m01", "نوشیدنی", 1, 200_000),
        ("m02", "لبنیات", 2, 500_000),
        ("m03", "پوشاک", 1, 2_500_000),
        ("m06", "زعفران", 2, 8_000_000),
        ("m07", "لبنیات", 1, 700_000),
    ]
    affinities = [
        {"member_id": m, "category": c, "computed_on": day, "purchases": n,
         "amount_rial": a, "share": 0.5, "affinity": 1.2}
        for m, c, n, a in bought
    ]  # fmt: skip
    suggestions = [
        {"member_id": m, "rank": 1, "computed_on": day, "category": c, "lift": 1.5}
        for m, c in (("m02", "نوشیدنی"), ("m03", "لبنیات"), ("m07", "زعفران"))
    ]
    incentives = [
        {"member_id": m, "incentive": i, "computed_on": day, "offers": o,
         "responses": r, "response_rate": r / o}
        for m, i, o, r in (("m01", "sms", 4, 1), ("m02", "coupon", 2, 1),
                           ("m06", "points", 3, 3))
    ]  # fmt: skip
    with app.extensions["vafa"].engine.begin() as conn:
        conn.execute(sa.insert(member_categories), affinities)
        conn.execute(sa.insert(member_suggestions), suggestions)
        conn.execute(sa.insert(member_incentives), incentives)
        # What the run stores for the HQ pages from the same rows.
        store_preference_sums(conn, day, affinities, suggestions, incentives)


def test_owner_editing_urls_to_scenarios_sms_users_and_terminals_is_refused(
    chain_app: tuple[Flask, Chain],
) -> None:
    """GIVEN a stored scenario and Tajrish's terminal WHEN Vanak's owner types their URLs
    (scenario page, switch, edit, SMS log, users, revoke) THEN 403 with nothing of them;
    the fleet page lists Vanak's terminal only, and the scenario stays as it was."""
    from cloud.scenarios import store as scenario_store
    from cloud.scenarios.library import LIBRARY

    app, _ = chain_app
    scenario_id = sorted(LIBRARY)[0]
    with app.extensions["vafa"].engine.begin() as conn:
        scenario_store.save(conn, scenario_id, LIBRARY[scenario_id], enabled=False)
    client = signed_in(app, "vanak.owner")
    client.get("/hq/")
    with client.session_transaction() as session:
        token = session["csrf"]
    for method, path in [
        ("get", "/hq/scenarios"),
        ("get", f"/hq/scenarios/{scenario_id}"),
        ("get", f"/hq/scenarios/{scenario_id}/edit"),
        ("post", f"/hq/scenarios/{scenario_id}/switch"),
        ("get", "/hq/sms"),
        ("get", "/hq/users"),
        ("get", f"/hq/fleet/t-{TAJRISH}/revoke"),
        ("post", f"/hq/fleet/t-{TAJRISH}/revoke"),
    ]:
        answer = getattr(client, method)(path, data={"csrf": token, "enabled": "1"})
        assert answer.status_code in (403, 404), (method, path, answer.status_code)
        assert scenario_id not in answer.text or method == "post", path
        assert "تجریش" not in answer.text, path
    fleet = client.get("/hq/fleet")
    assert fleet.status_code == 200
    assert "فروشگاه ونک" in fleet.text and "تجریش" not in fleet.text
    with app.extensions["vafa"].engine.connect() as conn:
        (kept,) = scenario_store.load(conn, only_enabled=False)
        assert kept.id == scenario_id
        revoked = conn.execute(
            sa.select(terminals.c.revoked_at).where(terminals.c.id == f"t-{TAJRISH}")
        ).scalar()
    assert revoked is None

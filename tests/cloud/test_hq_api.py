"""HQ's JSON API: bearer tokens with roles; stores, codes, terminals, grants and coupons."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.hq import create_user
from cloud.hq_api import create_token
from cloud.tables import api_tokens, coupons, grants, stores, terminals
from tests.cloud.test_sync_api import Signer, enrolment_batch


def _token(app: Flask, role: str, username: str | None = None) -> str:
    with app.extensions["vafa"].engine.begin() as conn:
        name = username or f"user-{role}"
        create_user(conn, name, "a-long-password", role)
        return create_token(conn, name)


def _count(app: Flask, table: sa.Table) -> int:
    with app.extensions["vafa"].engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_creates_a_store_whose_code_enrols_a_terminal(cloud_app_any: Flask) -> None:
    client = cloud_app_any.test_client()
    admin = _auth(_token(cloud_app_any, "admin"))
    made = client.post("/api/v1/hq/stores", json={"name": "شعبه ونک"}, headers=admin)
    assert made.status_code == 201
    store = made.get_json()
    assert store["name"] == "شعبه ونک" and len(store["store_id"]) == 32
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from common.signing import public_key_b64

    key = public_key_b64(Ed25519PrivateKey.generate())
    enrolled = client.post(
        "/api/v1/terminals/enroll", json={"code": store["code"], "public_key": key}
    )
    assert enrolled.status_code == 200
    assert enrolled.get_json()["store_id"] == store["store_id"]

    again = client.post(f"/api/v1/hq/stores/{store['store_id']}/codes", headers=admin)
    assert again.status_code == 201 and again.get_json()["code"] != store["code"]
    listed = client.get("/api/v1/hq/terminals", headers=admin).get_json()["terminals"]
    assert [t["store_name"] for t in listed] == ["شعبه ونک"]
    terminal_id = enrolled.get_json()["terminal_id"]
    revoked = client.post(f"/api/v1/hq/terminals/{terminal_id}/revoke", headers=admin)
    assert revoked.status_code == 200
    with cloud_app_any.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(terminals.c.revoked_at)).scalar_one() is not None
    assert (
        client.post(f"/api/v1/hq/terminals/{terminal_id}/revoke", headers=admin).status_code == 404
    )


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "unauthorized"),
        ({"Authorization": "Bearer vafa_not-a-real-token"}, 401, "unauthorized"),
        ({"Authorization": "Bearer " + "x" * 10_000}, 401, "unauthorized"),
    ],
)
def test_without_a_valid_token_nothing_is_done(
    cloud_app: Flask, headers: dict[str, str], status: int, code: str
) -> None:
    answer = cloud_app.test_client().post("/api/v1/hq/stores", json={"name": "x"}, headers=headers)
    assert (answer.status_code, answer.get_json()["error"]) == (status, code)
    assert answer.get_json()["message_fa"]
    assert _count(cloud_app, stores) == 0


def test_a_marketer_may_give_but_not_run_the_fleet(cloud_app: Flask, enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = enrolled
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    client.drain(terminal.conn, terminal.vault)
    marketer = _auth(_token(app, "marketer"))
    owner = _auth(_token(app, "store_owner"))
    web = app.test_client()

    refused = web.post("/api/v1/hq/stores", json={"name": "x"}, headers=marketer)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "forbidden")
    body = {"member_id": member.id, "kind": "points", "amount": 300, "reason": "review"}
    assert web.post("/api/v1/hq/grants", json=body, headers=owner).status_code == 403
    made = web.post("/api/v1/hq/grants", json=body, headers=marketer)
    assert made.status_code == 201
    coupon = web.post(
        "/api/v1/hq/coupons",
        json={"member_id": member.id, "value_rial": 50_000, "reason": "birthday"},
        headers=marketer,
    )
    assert coupon.status_code == 201 and coupon.get_json()["code"].startswith("CP-")
    with app.extensions["vafa"].engine.connect() as conn:
        row = conn.execute(sa.select(grants)).one()
        assert (row.amount, row.created_by) == (300, "api:user-marketer")
        assert conn.execute(sa.select(coupons.c.created_by)).scalar_one() == "api:user-marketer"
        used = conn.execute(sa.select(api_tokens.c.last_used_at)).scalars().all()
        assert len(used) == 2 and None not in used  # a refused call still shows the token used


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/hq/stores", [], "body"),
        ("/api/v1/hq/stores", {"name": ""}, "name"),
        ("/api/v1/hq/stores", {"name": 7}, "name"),
        ("/api/v1/hq/grants", {"member_id": "m", "kind": "points", "amount": 1}, "reason"),
        ("/api/v1/hq/stores", {"name": "شعبه\x07ونک"}, "name"),
        (
            "/api/v1/hq/grants",
            {"member_id": "m", "kind": "points", "amount": 5, "reason": "r", "note": "a\x00b"},
            "note",
        ),
        (
            "/api/v1/hq/grants",
            {"member_id": "m", "kind": "points", "amount": 2**70, "reason": "r"},
            "amount",
        ),
        ("/api/v1/hq/coupons", {"member_id": "m", "value_rial": "5", "reason": "r"}, "value_rial"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(
    cloud_app: Flask, path: str, body: object, field: str
) -> None:
    answer = cloud_app.test_client().post(
        path, json=body, headers=_auth(_token(cloud_app, "admin"))
    )
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field
    assert _count(cloud_app, stores) == _count(cloud_app, grants) == _count(cloud_app, coupons) == 0


def test_a_grant_for_an_unknown_member_is_a_404(cloud_app: Flask) -> None:
    answer = cloud_app.test_client().post(
        "/api/v1/hq/grants",
        json={"member_id": "0" * 32, "kind": "points", "amount": 5.0, "reason": "review"},
        headers=_auth(_token(cloud_app, "admin")),
    )
    assert (answer.status_code, answer.get_json()["field"]) == (404, "member_id")
    assert answer.get_json()["message_fa"] == "این عضو پیدا نشد"


def test_a_code_for_an_unknown_store_is_a_404(cloud_app: Flask) -> None:
    answer = cloud_app.test_client().post(
        f"/api/v1/hq/stores/{'0' * 32}/codes", headers=_auth(_token(cloud_app, "admin"))
    )
    assert (answer.status_code, answer.get_json()["error"]) == (404, "not_found")


def test_the_signed_terminal_api_ignores_bearer_tokens(cloud_app: Flask) -> None:
    """An HQ token is no key to the terminals' sync API."""
    signer = Signer(cloud_app)
    answer = cloud_app.test_client().post(
        "/api/v1/sync/events", data=enrolment_batch(), headers=_auth(_token(cloud_app, "admin"))
    )
    assert answer.status_code == 401
    assert signer.count(terminals) == 1

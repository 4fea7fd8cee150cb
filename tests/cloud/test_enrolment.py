"""A terminal enrols once with HQ's one-time code; bad codes, bad keys and revoked terminals
are refused with a JSON error and leave nothing behind.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from agent.errors import SyncError
from agent.identity import enroll, load_identity
from agent.offline_queue.sync import SyncClient
from cloud.errors import BadRequest, NotFound
from cloud.fleet import create_enrolment_code, create_store, revoke_terminal
from cloud.tables import enrolment_codes, events, nonces, terminals
from common.protocol import canonical_json, new_id
from common.signing import public_key_b64, sign_request

ENROL = "/api/v1/terminals/enroll"


def _code(app: Flask, store_name: str = "شعبه ونک") -> str:
    with app.extensions["vafa"].engine.begin() as conn:
        return create_enrolment_code(conn, create_store(conn, store_name))


def _count(app: Flask, table: sa.Table) -> int:
    with app.extensions["vafa"].engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _post(app: Flask, body: Any) -> tuple[int, dict[str, Any]]:
    response = app.test_client().post(ENROL, json=body)
    assert response.is_json, response.get_data(as_text=True)
    return response.status_code, response.get_json()


def _key() -> str:
    return public_key_b64(Ed25519PrivateKey.generate())


def test_a_code_enrols_the_real_agent_once(cloud_app: Flask, tmp_path: Path) -> None:
    code = _code(cloud_app, "فروشگاه ونک")
    transport = httpx.WSGITransport(app=cloud_app)
    identity = enroll("http://cloud.test", code, tmp_path / "t1", transport=transport)
    assert identity.store_name == "فروشگاه ونک"
    assert load_identity(tmp_path / "t1").terminal_id == identity.terminal_id
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        row = conn.execute(sa.select(terminals)).one()
        assert row.id == identity.terminal_id
        assert row.public_key == public_key_b64(identity.private_key)
        assert row.revoked_at is None
        assert conn.execute(sa.select(enrolment_codes.c.used_at)).scalar_one() is not None
    with pytest.raises(SyncError, match="401"):
        enroll("http://cloud.test", code, tmp_path / "t2", transport=transport)
    assert _count(cloud_app, terminals) == 1


def test_a_code_is_read_aloud_without_caring_for_case_or_dash(cloud_app: Flask) -> None:
    code = _code(cloud_app)
    assert len(code) == 9 and code[4] == "-"
    status, body = _post(
        cloud_app, {"code": f" {code.replace('-', '').lower()} ", "public_key": _key()}
    )
    assert status == 200, body
    assert set(body) == {"terminal_id", "store_id", "store_name"}


def test_a_reused_code_is_refused_and_creates_nothing(cloud_app: Flask) -> None:
    code = _code(cloud_app)
    assert _post(cloud_app, {"code": code, "public_key": _key()})[0] == 200
    status, body = _post(cloud_app, {"code": code, "public_key": _key()})
    assert status == 401
    assert body["error"] == "bad_code"
    assert body["message_fa"]
    assert _count(cloud_app, terminals) == 1


def test_an_unknown_code_is_refused(cloud_app: Flask) -> None:
    _code(cloud_app)
    status, body = _post(cloud_app, {"code": "AAAA-BBBB", "public_key": _key()})
    assert (status, body["error"]) == (401, "bad_code")
    assert _count(cloud_app, terminals) == 0


def test_an_expired_code_is_refused_and_stays_unspent(cloud_app: Flask) -> None:
    code = _code(cloud_app)
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        conn.execute(sa.update(enrolment_codes).values(expires_at=past))
    status, body = _post(cloud_app, {"code": code, "public_key": _key()})
    assert (status, body["error"]) == (401, "bad_code")
    assert _count(cloud_app, terminals) == 0
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(enrolment_codes.c.used_at)).scalar_one() is None


@pytest.mark.parametrize(
    "public_key",
    [
        "not base64!",
        "QUJD",  # base64 of 3 bytes
        public_key_b64(Ed25519PrivateKey.generate())[:-4],
        "A" * 100,
    ],
    # Fixed ids: the truncated key is new at every import, and pytest-xdist's workers must
    # collect the same test names.
    ids=["not-base64", "three-bytes", "truncated-key", "too-long"],
)
def test_a_malformed_public_key_is_refused_and_the_code_kept(
    cloud_app: Flask, public_key: str
) -> None:
    code = _code(cloud_app)
    status, body = _post(cloud_app, {"code": code, "public_key": public_key})
    assert status in (400, 401)
    assert body["field"] == "public_key"
    assert _count(cloud_app, terminals) == 0
    assert _post(cloud_app, {"code": code, "public_key": _key()})[0] == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"public_key": "x"}, "code"),
        ({"code": "", "public_key": "x"}, "code"),
        ({"code": 12345678, "public_key": "x"}, "code"),
        ({"code": "A" * 101, "public_key": "x"}, "code"),
        ({"code": "AAAA-BBBB"}, "public_key"),
        ({"code": "AAAA-BBBB", "public_key": None}, "public_key"),
        (["AAAA-BBBB"], "body"),
        ("AAAA-BBBB", "body"),
    ],
)
def test_a_malformed_enrolment_body_is_a_400_naming_the_field(
    cloud_app: Flask, body: Any, field: str
) -> None:
    status, answer = _post(cloud_app, body)
    assert (status, answer["error"], answer["field"]) == (400, "bad_request", field)
    assert _count(cloud_app, terminals) == 0


def test_an_enrolment_body_that_is_not_json_is_a_400(cloud_app: Flask) -> None:
    response = cloud_app.test_client().post(
        ENROL, data=b"code=AAAA", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_a_revoked_terminal_is_refused_and_nothing_it_sends_is_stored(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = enrolled
    terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    with app.extensions["vafa"].engine.begin() as conn:
        revoke_terminal(conn, client.identity.terminal_id)
    with pytest.raises(SyncError, match="403"):
        client.drain(terminal.conn, terminal.vault)
    body = canonical_json({"events": []})
    headers = sign_request(
        client.identity.private_key,
        client.identity.terminal_id,
        "POST",
        "/api/v1/sync/events",
        body,
    )
    response = app.test_client().post(
        "/api/v1/sync/events", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "revoked"
    assert _count(app, events) == _count(app, nonces) == 0
    with app.extensions["vafa"].engine.begin() as conn, pytest.raises(NotFound):
        revoke_terminal(conn, client.identity.terminal_id)


def test_revoking_one_terminal_leaves_the_others_working(cloud_app: Flask, tmp_path: Path) -> None:
    transport = httpx.WSGITransport(app=cloud_app)
    first = enroll("http://cloud.test", _code(cloud_app), tmp_path / "a", transport=transport)
    second = enroll("http://cloud.test", _code(cloud_app), tmp_path / "b", transport=transport)
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        revoke_terminal(conn, first.terminal_id)
    client = SyncClient(second, transport=transport)
    try:
        assert client.post_signed("/api/v1/sync/events", {"events": []})["results"] == []
    finally:
        client.close()


def test_an_unknown_terminal_is_unauthorized(cloud_app: Flask) -> None:
    body = canonical_json({"events": []})
    headers = sign_request(
        Ed25519PrivateKey.generate(), new_id(), "POST", "/api/v1/sync/events", body
    )
    response = cloud_app.test_client().post("/api/v1/sync/events", data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_codes_are_only_issued_for_existing_stores(cloud_app: Flask) -> None:
    with cloud_app.extensions["vafa"].engine.begin() as conn, pytest.raises(NotFound):
        create_enrolment_code(conn, new_id())


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "شعبه\x00ونک"])
def test_a_store_needs_a_sensible_name(cloud_app: Flask, name: str) -> None:
    with cloud_app.extensions["vafa"].engine.begin() as conn, pytest.raises(BadRequest):
        create_store(conn, name)


@pytest.mark.postgres
def test_a_hostile_hostname_is_stored_tidied_on_postgresql(
    postgres_engine_url: str, tmp_path: Path
) -> None:
    from cloud.app import create_app

    app = create_app(
        {
            "DATABASE_URL": postgres_engine_url,
            "PII_KEY_FILE": str(tmp_path / "pii.key"),
            "SECRET_KEY": "test",
        }
    )
    try:
        hostname = "till\x00-1\n" + "x" * 500
        status, body = _post(app, {"code": _code(app), "public_key": _key(), "hostname": hostname})
        assert status == 200, body
        with app.extensions["vafa"].engine.connect() as conn:
            stored = conn.execute(sa.select(terminals.c.hostname)).scalar_one()
        assert stored.startswith("till-1xxx") and len(stored) == 200
    finally:
        app.extensions["vafa"].engine.dispose()

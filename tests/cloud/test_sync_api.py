"""The signed sync endpoint refuses replays, forgeries, stale times and malformed bodies with a
JSON error and stores nothing; a terminal whose clock is days off still syncs.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from agent.ledger import book
from agent.offline_queue import outbox
from cloud.fleet import create_enrolment_code, create_store
from cloud.reports import totals
from cloud.tables import events, members, nonces
from common.protocol import MAX_BATCH_EVENTS, MAX_BODY_BYTES, canonical_json, new_id
from common.signing import H_NONCE, H_SIGNATURE, public_key_b64, sign_request

PATH = "/api/v1/sync/events"


class Signer:
    """An enrolled terminal's key, signing raw requests to the app's test client."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.key = Ed25519PrivateKey.generate()
        with app.extensions["vafa"].engine.begin() as conn:
            code = create_enrolment_code(conn, create_store(conn, "شعبه تجریش"))
        answer = app.test_client().post(
            "/api/v1/terminals/enroll", json={"code": code, "public_key": public_key_b64(self.key)}
        )
        self.id: str = answer.get_json()["terminal_id"]

    def headers(self, body: bytes, **kwargs: Any) -> dict[str, str]:
        signed = sign_request(self.key, self.id, "POST", kwargs.pop("path", PATH), body, **kwargs)
        return {**signed, "Content-Type": "application/json"}

    def post(self, body: bytes, headers: dict[str, str]) -> Any:
        return self.app.test_client().post(PATH, data=body, headers=headers)

    def count(self, table: sa.Table) -> int:
        with self.app.extensions["vafa"].engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def enrolment_batch() -> bytes:
    payload = {
        "member_id": new_id(),
        "card_code": new_id()[:12],
        "mobile": "09121234567",
        "name": "مریم رضایی",
        "marketing_consent": True,
    }
    event = {
        "id": new_id(),
        "seq": 1,
        "kind": "member.enrolled",
        "terminal_time": "2026-11-22T10:15:00+03:30",
        "payload": payload,
    }
    return canonical_json({"events": [event]})


def _error(response: Any) -> str:
    assert response.is_json, response.get_data(as_text=True)[:300]
    return str(response.get_json()["error"])


def test_a_replayed_request_is_refused_and_not_applied(cloud_app_any: Flask) -> None:
    signer = Signer(cloud_app_any)
    body = enrolment_batch()
    headers = signer.headers(body)
    first = signer.post(body, headers)
    assert first.status_code == 200
    assert first.get_json()["results"][0]["status"] == "applied"
    again = signer.post(body, headers)
    assert (again.status_code, _error(again)) == (401, "replay")
    assert signer.count(events) == signer.count(members) == 1


def test_a_nonce_spent_by_one_terminal_is_free_for_another(cloud_app_any: Flask) -> None:
    one, two = Signer(cloud_app_any), Signer(cloud_app_any)
    body = canonical_json({"events": []})
    headers = one.headers(body)
    assert one.post(body, headers).status_code == 200
    copied = two.headers(body)
    # The other terminal's signature over the same nonce is a different, valid request.
    import base64
    import hashlib

    from common.signing import _string_to_sign  # the exact line a terminal signs

    copied[H_NONCE] = headers[H_NONCE]
    line = _string_to_sign(
        "POST",
        PATH,
        hashlib.sha256(body).hexdigest(),
        int(copied["X-Vafa-Time"]),
        copied[H_NONCE],
        two.id,
    )
    copied[H_SIGNATURE] = base64.b64encode(two.key.sign(line)).decode()
    assert two.post(body, copied).status_code == 200
    assert one.count(nonces) == 2


def test_a_signature_by_another_key_is_refused(cloud_app_any: Flask) -> None:
    signer = Signer(cloud_app_any)
    body = enrolment_batch()
    forged = sign_request(Ed25519PrivateKey.generate(), signer.id, "POST", PATH, body)
    response = signer.post(body, {**forged, "Content-Type": "application/json"})
    assert (response.status_code, _error(response)) == (401, "bad_signature")
    assert signer.count(events) == signer.count(nonces) == 0


def test_a_request_signed_for_another_path_is_refused(cloud_app: Flask) -> None:
    signer = Signer(cloud_app)
    body = enrolment_batch()
    response = signer.post(body, signer.headers(body, path="/api/v1/terminals/enroll"))
    assert (response.status_code, _error(response)) == (401, "bad_signature")
    assert signer.count(events) == 0


def test_an_unsigned_request_is_refused(cloud_app: Flask) -> None:
    signer = Signer(cloud_app)
    response = cloud_app.test_client().post(PATH, data=enrolment_batch())
    assert (response.status_code, _error(response)) == (401, "bad_signature")
    assert signer.count(events) == 0


@pytest.mark.parametrize("days", [-3, 3])
def test_a_stale_time_is_refused_and_the_server_time_is_sent(cloud_app: Flask, days: int) -> None:
    import time

    signer = Signer(cloud_app)
    body = enrolment_batch()
    response = signer.post(body, signer.headers(body, now=time.time() + days * 86400))
    assert (response.status_code, _error(response)) == (401, "stale_time")
    assert response.get_json()["message_fa"]
    assert abs(float(response.headers["X-Vafa-Server-Time"]) - time.time()) < 60
    assert signer.count(events) == signer.count(nonces) == 0


@pytest.mark.parametrize("offset_days", [-3, 5])
def test_a_terminal_clock_days_off_still_drains(enrolled, offset_days: int) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = enrolled
    member = terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    for index in range(3):
        terminal.flow.sale(member.id, 250_000 * (index + 1))
    client.clock_offset = offset_days * 86400
    result = client.drain(terminal.conn, terminal.vault)
    assert result.acked == 4
    assert outbox.depth(terminal.conn) == 0
    assert abs(client.clock_offset) < 60  # learned from X-Vafa-Server-Time
    with app.extensions["vafa"].engine.connect() as conn:
        assert totals(conn)["points_total"] == book.total_member_points(terminal.conn)


# -- malformed bodies: 400 naming the field, nothing stored --------------------------------


def _bad_bodies() -> list[Any]:
    event = json.loads(enrolment_batch())["events"][0]
    return [
        pytest.param(b"{not json", "body", id="not-json"),
        pytest.param(b"\xff\xfe\x00", "body", id="not-utf8"),
        pytest.param(b"", "body", id="empty"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "body", id="deeply-nested"),
        pytest.param(b"[]", "events", id="array"),
        pytest.param(b'"events"', "events", id="string"),
        pytest.param(b"{}", "events", id="no-events"),
        pytest.param(b'{"events": {"0": {}}}', "events", id="events-object"),
        pytest.param(b'{"events": null}', "events", id="events-null"),
        pytest.param(
            canonical_json({"events": [event] * (MAX_BATCH_EVENTS + 1)}), "events", id="501-events"
        ),
        pytest.param(b" " * (MAX_BODY_BYTES + 1), "body", id="oversized"),
    ]


@pytest.mark.parametrize(("body", "field"), _bad_bodies())
def test_a_malformed_body_is_a_400_naming_the_field(
    cloud_app: Flask, body: bytes, field: str
) -> None:
    signer = Signer(cloud_app)
    response = signer.post(body, signer.headers(body))
    assert response.status_code == 400
    assert (_error(response), response.get_json()["field"]) == ("bad_request", field)
    assert signer.count(events) == signer.count(members) == 0


def test_a_batch_of_exactly_the_limit_is_accepted(cloud_app: Flask) -> None:
    signer = Signer(cloud_app)
    body = canonical_json({"events": [{"not": "an event"}] * MAX_BATCH_EVENTS})
    response = signer.post(body, signer.headers(body))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == MAX_BATCH_EVENTS
    assert {r["status"] for r in results} == {"rejected"}
    assert signer.count(events) == 0


def test_a_body_over_the_app_limit_is_refused_as_json(cloud_app: Flask) -> None:
    signer = Signer(cloud_app)
    body = b" " * (cloud_app.config["MAX_CONTENT_LENGTH"] + 1)
    response = signer.post(body, signer.headers(body))
    assert response.status_code in (400, 413)
    assert response.is_json
    assert signer.count(events) == 0


def test_the_real_client_over_http_semantics(cloud_app: Flask, terminal) -> None:  # type: ignore[no-untyped-def]
    from agent.identity import enroll
    from agent.offline_queue.sync import SyncClient

    with cloud_app.extensions["vafa"].engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, "شعبه تجریش"))
    transport = httpx.WSGITransport(app=cloud_app)
    identity = enroll("http://cloud.test", code, terminal.config.data_dir, transport=transport)
    client = SyncClient(identity, transport=transport)
    try:
        answer = client.post_signed(PATH, {"events": []})
        assert answer == {"results": [], "gaps": []}
    finally:
        client.close()


@pytest.mark.parametrize("key_id", ["a\x00b", "ترمینال", "a" * 64, "' OR 1=1 --"])
def test_a_strange_key_id_is_unauthorized_not_a_crash(cloud_app_any: Flask, key_id: str) -> None:
    signer = Signer(cloud_app_any)
    body = canonical_json({"events": []})
    headers = {**signer.headers(body), "X-Vafa-Key": key_id}
    response = cloud_app_any.test_client().post(PATH, data=body, headers=headers)
    assert response.status_code == 401
    assert _error(response) in ("unauthorized", "bad_signature")
    assert signer.count(nonces) == 0

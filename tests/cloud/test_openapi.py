"""The OpenAPI description is valid, names every API route, and real answers match it."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

from agent.identity import load_identity
from cloud.fleet import create_enrolment_code, create_store, revoke_terminal
from common.protocol import canonical_json, new_id
from common.signing import public_key_b64, sign_request

SPEC_URI = "urn:vafa:openapi"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def spec_of(app: Flask) -> dict[str, Any]:
    """Fetch the document the app serves."""
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.get_json()
    return spec


def check_against_spec(
    spec: dict[str, Any], method: str, path: str, response: TestResponse
) -> None:
    """Assert the spec lists this status for this operation and the body fits its schema."""
    operation = spec["paths"][path][method.lower()]
    described = operation["responses"]
    assert str(response.status_code) in described, f"{method} {path} {response.status_code}"
    schema = described[str(response.status_code)]["content"]["application/json"]["schema"]
    registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator({"$ref": SPEC_URI + schema["$ref"]}, registry=registry)
    errors = [error.message for error in validator.iter_errors(response.get_json())]
    assert not errors, f"{method} {path} {response.status_code}: {errors}"


def signed_post(
    app: Flask, data_dir: Any, path: str, body: Any, *, now: float | None = None
) -> TestResponse:
    """POST a body signed by the enrolled terminal whose files are in data_dir."""
    identity = load_identity(data_dir)
    raw = body if isinstance(body, bytes) else canonical_json(body)
    headers = sign_request(identity.private_key, identity.terminal_id, "POST", path, raw, now=now)
    return app.test_client().post(
        path, data=raw, headers={**headers, "Content-Type": "application/json"}
    )


def new_code(app: Flask) -> str:
    """Make a store and a one-time enrolment code for it."""
    with app.extensions["vafa"].engine.begin() as conn:
        return create_enrolment_code(conn, create_store(conn, "شعبه ونک"))


def enrolment_event(seq: int, member_id: str) -> dict[str, Any]:
    """Return a well-formed member.enrolled event."""
    payload = {
        "member_id": member_id,
        "card_code": new_id()[:12],
        "mobile": "09121234567",
        "name": "مریم رضایی",
        "marketing_consent": True,
    }
    return event(seq, "member.enrolled", payload)


def sale_event(seq: int, member_id: str) -> dict[str, Any]:
    """Return a well-formed sale.completed event earning 5 points."""
    entry = {
        "id": new_id(),
        "kind": "earn",
        "reverses": None,
        "memo": "",
        "postings": [
            {"account": f"member:{member_id}:points", "amount": 5},
            {"account": "system:points_issued", "amount": -5},
        ],
    }
    payload = {
        "sale_id": new_id(),
        "receipt_no": seq,
        "member_id": member_id,
        "amount_rial": 500_000,
        "points_earned": 5,
        "points_redeemed": 0,
        "channel": "in_store",
        "entries": [entry],
    }
    return event(seq, "sale.completed", payload)


def event(seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Wrap a payload in an event."""
    return {
        "id": new_id(),
        "seq": seq,
        "kind": kind,
        "terminal_time": "2026-11-22T10:15:00+03:30",
        "payload": payload,
    }


def test_the_served_document_is_valid_openapi(cloud_app: Flask) -> None:
    """GIVEN the running app WHEN its /openapi.json is read THEN it is valid OpenAPI."""
    spec = spec_of(cloud_app)
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    for name in ("Event", "Posting", "Entry", "BatchResult", "Error", "SaleCompleted"):
        assert name in spec["components"]["schemas"]


def test_every_api_route_is_described_and_nothing_more(cloud_app: Flask) -> None:
    """Each Flask rule under /api/ is in the spec with its methods, and vice versa."""
    spec = spec_of(cloud_app)
    routed = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method)
        for rule in cloud_app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    described = {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "put", "post", "delete", "patch"}
    }
    assert routed == described


def test_health_answer_fits(cloud_app: Flask) -> None:
    """The health check's answer fits its schema."""
    spec = spec_of(cloud_app)
    check_against_spec(spec, "GET", "/api/v1/health", cloud_app.test_client().get("/api/v1/health"))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (json.dumps({"public_key": "x"}).encode(), 400),
        (json.dumps({"code": "AAAA-BBBB", "public_key": "x" * 101}).encode(), 400),
    ],
)
def test_enrolment_refusals_fit(cloud_app: Flask, body: bytes, status: int) -> None:
    """Malformed enrolment bodies get a 400 that fits the Error schema."""
    spec = spec_of(cloud_app)
    path = "/api/v1/terminals/enroll"
    response = cloud_app.test_client().post(path, data=body)
    assert response.status_code == status
    check_against_spec(spec, "POST", path, response)


def test_enrolment_answers_fit(cloud_app: Flask) -> None:
    """An enrolment, a spent code and an unknown code all answer as the spec says."""
    spec = spec_of(cloud_app)
    path = "/api/v1/terminals/enroll"
    client = cloud_app.test_client()
    code = new_code(cloud_app)
    key = public_key_b64(Ed25519PrivateKey.generate())
    enrolled = client.post(path, json={"code": code, "public_key": key, "hostname": "till-1"})
    assert enrolled.status_code == 200
    check_against_spec(spec, "POST", path, enrolled)
    other = public_key_b64(Ed25519PrivateKey.generate())
    for refused in (
        client.post(path, json={"code": code, "public_key": other}),
        client.post(path, json={"code": "ZZZZ-ZZZZ", "public_key": other}),
    ):
        assert refused.status_code == 401
        assert refused.get_json()["error"] == "bad_code"
        check_against_spec(spec, "POST", path, refused)


def test_enrolment_with_a_malformed_key_is_a_400(cloud_app: Flask) -> None:
    """A public key that is not base64 Ed25519 is refused naming public_key, not a crash."""
    spec = spec_of(cloud_app)
    path = "/api/v1/terminals/enroll"
    bad = base64.b64encode(b"short").decode()
    for key in (bad, "not base64!"):
        response = cloud_app.test_client().post(
            path, json={"code": new_code(cloud_app), "public_key": key}
        )
        assert response.status_code == 400
        assert response.get_json()["field"] == "public_key"
        check_against_spec(spec, "POST", path, response)


def test_enrolling_the_same_key_twice_is_a_409(cloud_app: Flask) -> None:
    """A second terminal with an already-enrolled key is a conflict, and its code stays unspent."""
    spec = spec_of(cloud_app)
    path = "/api/v1/terminals/enroll"
    client = cloud_app.test_client()
    key = public_key_b64(Ed25519PrivateKey.generate())
    assert (
        client.post(path, json={"code": new_code(cloud_app), "public_key": key}).status_code == 200
    )
    code = new_code(cloud_app)
    again = client.post(path, json={"code": code, "public_key": key})
    assert again.status_code == 409
    check_against_spec(spec, "POST", path, again)
    fresh = public_key_b64(Ed25519PrivateKey.generate())
    assert client.post(path, json={"code": code, "public_key": fresh}).status_code == 200


def test_sync_answers_fit(enrolled: Any) -> None:
    """Applied, duplicate and rejected events, and a gap, answer as the spec says."""
    terminal, _client, app = enrolled
    spec = spec_of(app)
    path = "/api/v1/sync/events"
    member_id = new_id()
    first = [enrolment_event(1, member_id), sale_event(2, member_id)]
    response = signed_post(app, terminal.config.data_dir, path, {"events": first})
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["applied", "applied"]
    check_against_spec(spec, "POST", path, response)
    bad = sale_event(9, member_id)
    bad["payload"]["amount_rial"] = -1
    batch = {"events": [first[1], bad, 42, sale_event(5, member_id)]}
    response = signed_post(app, terminal.config.data_dir, path, batch)
    answer = response.get_json()
    assert [r["status"] for r in answer["results"]] == [
        "duplicate",
        "rejected",
        "rejected",
        "applied",
    ]
    assert answer["gaps"] == [[3, 4]]
    check_against_spec(spec, "POST", path, response)


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{oops", "bad_request"), (b"[]", "bad_request"), (b'{"events": 1}', "bad_request")],
)
def test_sync_refuses_bad_bodies_as_described(enrolled: Any, body: bytes, code: str) -> None:
    """A signed body that is not a batch is a 400 Error."""
    terminal, _client, app = enrolled
    path = "/api/v1/sync/events"
    response = signed_post(app, terminal.config.data_dir, path, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == code
    check_against_spec(spec_of(app), "POST", path, response)


def test_sync_refusals_fit(enrolled: Any) -> None:
    """Unsigned, stale, replayed and revoked requests are 401/403 Errors as described."""
    terminal, _client, app = enrolled
    spec = spec_of(app)
    path = "/api/v1/sync/events"
    data_dir = terminal.config.data_dir
    client = app.test_client()
    unsigned = client.post(path, json={"events": []})
    stale = signed_post(app, data_dir, path, {"events": []}, now=time.time() - 3600)
    identity = load_identity(data_dir)
    raw = canonical_json({"events": []})
    headers = sign_request(identity.private_key, identity.terminal_id, "POST", path, raw)
    assert client.post(path, data=raw, headers=headers).status_code == 200
    replayed = client.post(path, data=raw, headers=headers)
    for response, code in (
        (unsigned, "bad_signature"),
        (stale, "stale_time"),
        (replayed, "replay"),
    ):
        assert response.status_code == 401
        assert response.get_json()["error"] == code
        check_against_spec(spec, "POST", path, response)
    with app.extensions["vafa"].engine.begin() as conn:
        revoke_terminal(conn, identity.terminal_id)
    revoked = signed_post(app, data_dir, path, {"events": []})
    assert revoked.status_code == 403
    check_against_spec(spec, "POST", path, revoked)


def test_pull_answers_fit(enrolled: Any) -> None:
    """A pull and a pull with a bad cursor answer as the spec says."""
    terminal, _client, app = enrolled
    spec = spec_of(app)
    data_dir = terminal.config.data_dir
    member_id = new_id()
    signed_post(app, data_dir, "/api/v1/sync/events", {"events": [enrolment_event(1, member_id)]})
    path = "/api/v1/sync/pull"
    pulled = signed_post(app, data_dir, path, {"members_cursor": 0})
    assert pulled.status_code == 200
    assert [m["member_id"] for m in pulled.get_json()["members"]] == [member_id]
    check_against_spec(spec, "POST", path, pulled)
    refused = signed_post(app, data_dir, path, {"members_cursor": -1})
    assert refused.status_code == 400
    check_against_spec(spec, "POST", path, refused)

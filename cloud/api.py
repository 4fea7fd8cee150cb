"""The cloud's JSON API for terminals: enrolment and event sync."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request

from cloud.context import ctx
from cloud.errors import BadRequest, Conflict
from cloud.fleet import enroll_terminal, record_report
from cloud.ingest import ingest_batch
from cloud.metrics import count_events
from cloud.mobile_codes import answer_request, answer_verify
from cloud.scenarios.events import run_after_ingest
from cloud.snapshots import pull
from cloud.terminal_auth import authenticate
from common.errors import SignatureError
from common.protocol import MAX_BODY_BYTES

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body() -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", field="body")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}", field="body") from exc
    except RecursionError as exc:  # [[[[…]]]] a few thousand deep: refuse, do not crash
        raise BadRequest("body is nested too deeply", field="body") from exc


@bp.get("/health")
def health() -> Response:
    """Say the cloud is up."""
    return jsonify(status="ok")


@bp.post("/terminals/enroll")
def enroll() -> Response:
    """Register a terminal's public key in exchange for a one-time enrolment code."""
    body = _json_body()
    if not isinstance(body, dict):
        raise BadRequest("body must be an object", field="body")
    fields = {}
    for name in ("code", "public_key"):
        value = body.get(name)
        if not isinstance(value, str) or not value or len(value) > 100:
            raise BadRequest(f"{name} must be a short string", field=name)
        fields[name] = value
    hostname = body.get("hostname", "")
    try:
        with ctx().engine.begin() as conn:
            identity = enroll_terminal(conn, fields["code"], fields["public_key"], str(hostname))
    except SignatureError as exc:
        raise BadRequest(str(exc), field="public_key") from exc
    except sa.exc.IntegrityError as exc:
        # The code is not spent: the transaction that would have spent it rolled back.
        raise Conflict(
            "this public key is already enrolled",
            fa="این پایانه قبلاً ثبت شده است",
            field="public_key",
        ) from exc
    return jsonify(identity)


@bp.post("/sync/events")
def sync_events() -> Response:
    """Apply a signed batch of terminal events, each exactly once."""
    raw = request.get_data(cache=True)
    body = _json_body()
    headers = dict(request.headers)
    with ctx().engine.begin() as conn:
        terminal = authenticate(conn, headers, "POST", request.path, raw)
        record_report(conn, terminal.id, body)
    triggered: list[tuple[str, str]] = []
    try:
        with ctx().engine.begin() as conn:
            answer = ingest_batch(conn, ctx().vault, terminal, body, triggered)
    except sa.exc.IntegrityError:
        # A resend raced its own first delivery; the second look sees the first's rows.
        triggered.clear()
        with ctx().engine.begin() as conn:
            answer = ingest_batch(conn, ctx().vault, terminal, body, triggered)
    run_after_ingest(triggered)  # committed: purchase and enrolment scenarios run now
    kinds = {
        e["id"]: str(e.get("kind"))
        for e in body["events"]
        if isinstance(e, dict) and isinstance(e.get("id"), str)  # a hostile id may be a list
    }
    count_events(answer["results"], kinds)
    return jsonify(answer)


@bp.post("/sync/pull")
def sync_pull() -> Response:
    """Send a signed terminal the rules (if changed) and the member snapshots past its cursor."""
    raw = request.get_data(cache=True)
    body = _json_body()
    with ctx().engine.begin() as conn:
        terminal = authenticate(conn, dict(request.headers), "POST", request.path, raw)
        record_report(conn, terminal.id, body)
        answer = pull(conn, ctx().vault, terminal, body)
    return jsonify(answer)


def _signed_terminal() -> Any:
    """Return the terminal that signed this request (its nonce spent in its own commit)."""
    raw = request.get_data(cache=True)
    with ctx().engine.begin() as conn:
        return authenticate(conn, dict(request.headers), "POST", request.path, raw)


@bp.post("/mobile-codes")
def mobile_code() -> Response:
    """Text a one-time code to the mobile a new member gives at a signed terminal."""
    return jsonify(answer_request(_signed_terminal().id, _json_body()))


@bp.post("/mobile-codes/verify")
def mobile_code_verify() -> Response:
    """Check the code a new member read out; a verified code is spent."""
    return jsonify(answer_verify(_signed_terminal().id, _json_body()))

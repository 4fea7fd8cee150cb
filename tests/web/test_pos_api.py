"""The local JSON API for the store's POS software, through Flask's test client."""

from __future__ import annotations

import stat
from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def api(terminal) -> tuple[FlaskClient, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Return a client of the local app and the POS token header."""
    from agent.web.app import create_app
    from agent.web.pos_api import TOKEN_FILE

    app = create_app(terminal, {"TESTING": True})
    token = (terminal.config.data_dir / TOKEN_FILE).read_text().strip()
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def _counts(terminal: Any) -> tuple[int, int, int]:
    conn = terminal.conn
    return (
        conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
    )


def test_token_file_is_private_and_stable(terminal, api) -> None:  # type: ignore[no-untyped-def]
    """The token is made once, readable by the agent's user only, and kept across restarts."""
    from agent.web.pos_api import TOKEN_FILE, load_or_create_token

    path = terminal.config.data_dir / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(terminal.config.data_dir) == path.read_text().strip()
    assert len(path.read_text().strip()) >= 40


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer ", "bearer {token}"])
def test_wrong_or_missing_token_is_refused(terminal, api, header) -> None:  # type: ignore[no-untyped-def]
    """Without the exact bearer token nothing is read or stored."""
    client, auth = api
    terminal.flow.enrol("09125554433", "علی محمدی", True)
    before = _counts(terminal)
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(token=auth["Authorization"][7:])
    for path, body in (
        ("/pos/v1/members/lookup", {"code": "09125554433"}),
        ("/pos/v1/sales", {"member": "09125554433", "amount_rial": 100_000}),
    ):
        reply = client.post(path, json=body, headers=headers)
        assert reply.status_code == 401
        assert reply.json is not None and reply.json["error_fa"]
        assert "علی" not in reply.get_data(as_text=True)
    assert _counts(terminal) == before


def test_lookup_sale_with_items_and_refund(terminal, api) -> None:  # type: ignore[no-untyped-def]
    """A POS finds a member by any mobile spelling, sells with items, prints, then refunds."""
    client, auth = api
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    found = client.post("/pos/v1/members/lookup", json={"code": "+98 912 555 4433"}, headers=auth)
    assert found.status_code == 200
    assert found.json is not None
    assert found.json["member_id"] == member.id and found.json["name"] == "علی محمدی"
    assert found.json["points"] == 0

    items = [
        {"sku": "A1", "category": "drinks", "quantity": 2, "amount_rial": 300_000},
        {"sku": "B2", "category": "snacks", "amount_rial": 200_000},
    ]
    sold = client.post(
        "/pos/v1/sales",
        json={"member": member.card_code, "amount_rial": 500_000, "items": items},
        headers=auth,
    )
    assert sold.status_code == 201, sold.json
    assert sold.json is not None
    assert sold.json["printed"] is True and sold.json["points_earned"] > 0
    assert sold.json["points"] == sold.json["points_earned"] == terminal.flow.balance(member.id)
    assert len(terminal.printer.jobs) == 1

    refunded = client.post("/pos/v1/refunds", json={"sale_id": sold.json["sale_id"]}, headers=auth)
    assert refunded.status_code == 201 and refunded.json is not None
    assert refunded.json["points"] == 0
    again = client.post("/pos/v1/refunds", json={"sale_id": sold.json["sale_id"]}, headers=auth)
    assert again.status_code == 400 and again.json is not None
    assert again.json["error_fa"] == "این خرید قبلاً برگشت خورده است"


BAD_LINE = {"sku": "A1", "quantity": "x", "amount_rial": 100_000}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [1, 2],
        {"member": "09125554433"},
        {"member": "09125554433", "amount_rial": -5},
        {"member": "09125554433", "amount_rial": "100000"},
        {"member": "09125554433", "amount_rial": True},
        {"member": "09125554433", "amount_rial": 10**15},
        {"member": "0912", "amount_rial": 100_000},
        {"member": "09125554433", "amount_rial": 100_000, "redeem_points": 10**6},
        {"member": "09125554433", "amount_rial": 100_000, "items": "milk"},
        {"member": "09125554433", "amount_rial": 100_000, "items": [BAD_LINE]},
    ],
)
def test_bad_sale_is_a_400_in_both_languages_and_stores_nothing(terminal, api, body) -> None:  # type: ignore[no-untyped-def]
    """Malformed, negative, absurd or unknown input: 400 with error and error_fa, nothing stored."""
    client, auth = api
    terminal.flow.enrol("09125554433", "علی محمدی", True)
    before = _counts(terminal)
    if body is None:
        reply = client.post("/pos/v1/sales", data="{not json", headers=auth)
    else:
        reply = client.post("/pos/v1/sales", json=body, headers=auth)
    assert reply.status_code == 400
    assert reply.json is not None
    assert reply.json["error"].isascii() and reply.json["error"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in reply.json["error_fa"])
    assert _counts(terminal) == before
    assert not terminal.printer.jobs


def test_oversized_body_is_refused(terminal, api) -> None:  # type: ignore[no-untyped-def]
    """A body over 64 KiB is refused before it is parsed."""
    client, auth = api
    reply = client.post(
        "/pos/v1/sales",
        data='{"member": "' + "9" * 70_000 + '"}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert reply.status_code == 413
    assert _counts(terminal)[0] == 0


def test_documented_examples_work(terminal, api) -> None:  # type: ignore[no-untyped-def]
    """The request bodies in docs/pos-api.md are accepted as written."""
    import json
    import re
    from pathlib import Path

    client, auth = api
    doc = (Path(__file__).resolve().parents[2] / "docs" / "pos-api.md").read_text()
    bodies = [json.loads(b) for b in re.findall(r"-d '(\{.*?\})'", doc, flags=re.S)]
    lookup, sale = bodies[0], bodies[1]
    member = terminal.flow.enrol(lookup["code"], "علی محمدی", True)
    assert client.post("/pos/v1/members/lookup", json=lookup, headers=auth).status_code == 200
    sale["member"] = member.card_code
    sold = client.post("/pos/v1/sales", json=sale, headers=auth)
    assert sold.status_code == 201 and sold.json is not None
    assert set(sold.json) == set(
        json.loads(re.findall(r'(\{"sale_id".*?\})', doc, re.S)[0].replace("…", ""))
    )
    refund = client.post("/pos/v1/refunds", json={"sale_id": sold.json["sale_id"]}, headers=auth)
    assert refund.status_code == 201
    assert "401" in doc and "0600" in doc and "error_fa" in doc

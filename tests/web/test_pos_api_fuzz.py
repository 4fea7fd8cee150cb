"""Hypothesis against the local POS API: no crash, no server error, nothing half-stored.

Bodies are drawn both as any JSON at all and as near-valid requests with hostile values
(huge and negative numbers, floats, booleans, odd strings, junk item lines), aimed at a
terminal with a real member and real sales. After every request the ledger verifies, and
a refused request has changed no table.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agent.ledger import book

TABLES = ("sales", "entries", "postings", "outbox", "lots", "receipts", "members")
MOBILE = "09125554433"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
hostile_ints = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, 10**12]),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    """Draw from ``valid`` about 8 times in 10, else from ``hostile``: enough requests get
    through for sales, redemptions and refunds to pile up while the rest probe the edges."""
    return st.integers(0, 9).flatmap(lambda n: valid if n < 8 else hostile)


member_codes = mostly(
    st.sampled_from([MOBILE, "+989125554433", "۰۹۱۲۵۵۵۴۴۳۳", "9125554433"]),
    st.one_of(st.sampled_from(["", " ", "0912"]), st.text(max_size=70), hostile_ints),
)
amounts = mostly(st.integers(0, 50_000_000), hostile_ints)
redeems = mostly(st.integers(0, 40), hostile_ints)


@st.composite
def sales(draw: st.DrawFn) -> dict[str, Any]:
    """A sale request: usually near-valid (item lines adding up), with hostile values mixed in."""
    body: dict[str, Any] = {"member": draw(member_codes), "amount_rial": draw(amounts)}
    if draw(st.booleans()):
        body["redeem_points"] = draw(redeems)
    if draw(st.integers(0, 3)) == 0:
        body["redeem_credit_rial"] = draw(mostly(st.integers(0, 100_000), hostile_ints))
    if draw(st.booleans()):
        shares = draw(st.lists(st.integers(0, 10_000_000), min_size=1, max_size=4))
        lines: list[Any] = [
            {
                "sku": draw(st.text(min_size=1, max_size=70)),
                "category": draw(st.text(max_size=70)),
                "quantity": draw(mostly(st.integers(0, 20), hostile_ints)),
                "amount_rial": share,
            }
            for share in shares
        ]
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(json_values))  # a junk line
        body["items"] = lines
        if draw(st.booleans()):
            body["amount_rial"] = sum(shares)  # lines that add up
    for key in ("print", "open_drawer"):
        if draw(st.booleans()):
            body[key] = draw(json_values)
    return body


sale_ids = mostly(st.just("LAST_SALE"), json_values)
requests = st.one_of(
    st.tuples(st.just("/pos/v1/sales"), sales()),
    st.tuples(st.just("/pos/v1/members/lookup"), st.fixed_dictionaries({"code": member_codes})),
    st.tuples(st.just("/pos/v1/refunds"), st.fixed_dictionaries({"sale_id": sale_ids})),
    st.tuples(st.sampled_from(["/pos/v1/sales", "/pos/v1/refunds"]), json_values),
)


def _snapshot(terminal: Any) -> dict[str, int]:
    return {
        table: terminal.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in TABLES
    }


@pytest.fixture
def api(terminal) -> tuple[FlaskClient, dict[str, str]]:  # type: ignore[no-untyped-def]
    from agent.web.app import create_app
    from agent.web.pos_api import TOKEN_FILE

    terminal.flow.enrol(MOBILE, "علی محمدی", True)
    app = create_app(terminal, {"TESTING": True})  # an exception would surface here, not as 500
    token = (terminal.config.data_dir / TOKEN_FILE).read_text().strip()
    return app.test_client(), {"Authorization": f"Bearer {token}"}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
def test_any_request_is_answered_cleanly_and_stores_all_or_nothing(
    terminal, api, request: tuple[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    client, headers = api
    path, body = request
    if isinstance(body, dict) and body.get("sale_id") == "LAST_SALE":  # refund a real sale
        last = terminal.conn.execute("SELECT id FROM sales ORDER BY rowid DESC").fetchone()
        body = {"sale_id": last[0] if last else "no-sale-yet"}
    before = _snapshot(terminal)
    reply = client.post(
        path, data=json.dumps(body), headers=headers, content_type="application/json"
    )
    event(
        f"{path} {reply.status_code} {str(reply.get_json().get('error'))[:40]}"
    )  # --hypothesis-show-statistics: how many got through
    assert reply.status_code in (200, 201, 400, 404, 413), (path, body, reply.status_code)
    data = reply.get_json()
    assert isinstance(data, dict)
    after = _snapshot(terminal)
    if reply.status_code >= 400:
        assert data["error"] and data["error_fa"], data
        assert after == before, f"refused {path} still stored something: {before} -> {after}"
    elif path.endswith("/sales"):
        assert after["sales"] == before["sales"] + 1
    elif path.endswith("/refunds"):
        assert after["sales"] == before["sales"]
    else:
        assert after == before  # a lookup stores nothing
    assert book.verify(terminal.conn) == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded"]
    ),
    path=st.sampled_from(["/pos/v1/sales", "/pos/v1/members/lookup", "/pos/v1/refunds"]),
)
def test_raw_bytes_are_refused_in_both_languages(
    terminal, api, raw: bytes, content_type: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    client, headers = api
    before = _snapshot(terminal)
    reply = client.post(path, data=raw, headers=headers, content_type=content_type)
    assert reply.status_code in (200, 201, 400, 404, 413), (raw, reply.status_code)
    if reply.status_code >= 400:
        data = reply.get_json()
        assert data["error"] and data["error_fa"]
        assert _snapshot(terminal) == before

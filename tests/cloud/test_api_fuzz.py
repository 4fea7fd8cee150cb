"""Fuzz the cloud API against its own OpenAPI description, unsigned and signed.

Schemathesis drives every operation through the in-process WSGI app: no answer may be a
server error and every answer must match the description. Signed endpoints mostly answer
401 to it, so a hypothesis test also sends fuzzed batches that are correctly signed by an
enrolled terminal and checks that each event is applied, a duplicate, or rejected whole.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from agent.identity import TerminalIdentity, load_identity
from cloud.openapi import SPEC
from cloud.tables import events, ledger_entries, sales
from common.protocol import EVENT_KINDS, canonical_json
from common.signing import sign_request

SYNC_PATH = "/api/v1/sync/events"


# Negative data needs something to break: an operation with no inputs gets positive only.
OPERATIONS = [
    (method.upper(), path, mode)
    for path, operations in SPEC["paths"].items()
    for method, operation in operations.items()
    for mode in GenerationMode
    if mode.is_positive or "requestBody" in operation
]


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_no_operation_fails_or_strays_from_its_description(
    cloud_app: Flask, method: str, path: str, mode: GenerationMode
) -> None:
    """Every operation, fed data from its description and beyond it, answers as described."""
    # Strategies straight from the loaded schema, under plain hypothesis: schemathesis'
    # lazy pytest loader (``from_fixture``) does not work with pytest 9.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", cloud_app)
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate()

    check()


# Fuzzed events: mostly well-formed envelopes with plausible or hostile payload fields.
hexid = st.text("0123456789abcdef", min_size=32, max_size=32)
small_ids = st.sampled_from(["m1", "m2", "s1", "s2", "e1", "e2"]) | hexid
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def postings(draw: st.DrawFn, member_id: str) -> list[dict[str, Any]]:
    """Draw postings that usually balance and usually name this member's account."""
    amount = draw(st.integers(-(2**70), 2**70) | st.integers(-1000, 1000))
    account = draw(st.just(f"member:{member_id}:points") | st.text(max_size=12))
    other = draw(st.just("system:points_issued") | st.just(account))
    legs = [{"account": account, "amount": amount}, {"account": other, "amount": -amount}]
    return draw(
        st.just(legs)
        | st.lists(
            st.fixed_dictionaries({"account": st.text(max_size=5), "amount": anything}), max_size=2
        )
    )


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a payload with every field any kind uses, some of them wrong."""
    member_id = draw(small_ids)
    entry = st.fixed_dictionaries(
        {
            "id": small_ids,
            "kind": st.sampled_from(["earn", "redeem"]),
            "postings": postings(member_id),
        },
        optional={"reverses": anything, "memo": anything},
    )
    fields = {
        "member_id": st.just(member_id) | anything,
        "sale_id": small_ids | anything,
        "card_code": st.sampled_from(["c1", "c2"]) | small_ids,
        "mobile": st.integers(0, 99).map("0912000{:04}".format) | st.just("0912"),
        "name": st.text(max_size=10),
        "marketing_consent": st.booleans() | anything,
        "receipt_no": st.integers() | anything,
        "amount_rial": st.integers(-10, 2**70) | anything,
        "points_earned": st.integers(),
        "points_redeemed": st.integers(),
        "channel": st.text(max_size=10),
        "tier": st.sampled_from(["normal", "gold", "diamond"]),
        "entries": st.lists(entry | anything, max_size=3) | anything,
    }
    return draw(st.fixed_dictionaries({}, optional=fields))


@st.composite
def fuzzed_events(draw: st.DrawFn) -> Any:
    """Draw one event: usually a well-formed envelope, sometimes garbage."""
    envelope = st.fixed_dictionaries(
        {
            "id": hexid | anything,
            "seq": st.integers(1, 20) | st.integers() | anything,
            "kind": st.sampled_from(sorted(EVENT_KINDS)) | anything,
            "terminal_time": st.text(max_size=30) | anything,
            "payload": payloads() | anything,
        }
    )
    return draw(envelope | envelope | envelope | anything)


def post_signed(app: Flask, identity: TerminalIdentity, body: Any) -> Any:
    """POST a body to the sync endpoint, correctly signed by the terminal."""
    raw = canonical_json(body)
    headers = sign_request(identity.private_key, identity.terminal_id, "POST", SYNC_PATH, raw)
    return app.test_client().post(
        SYNC_PATH, data=raw, headers={**headers, "Content-Type": "application/json"}
    )


def rows_carrying(app: Flask, event_id: Any) -> int:
    """Count the event, sale and ledger rows written for one event id."""
    if not isinstance(event_id, str):
        return 0
    with app.extensions["vafa"].engine.connect() as conn:
        return sum(
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(column == event_id)
            ).scalar_one()
            for table, column in (
                (events, events.c.id),
                (sales, sales.c.event_id),
                (ledger_entries, ledger_entries.c.event_id),
            )
        )


def test_signed_fuzzed_batches_never_crash_or_store_half(enrolled: Any) -> None:
    """GIVEN an enrolled terminal WHEN it sends fuzzed, correctly signed batches
    THEN no answer is a server error, each event is applied, a duplicate or rejected,
    and a rejected event leaves no row carrying its id."""
    terminal, _client, app = enrolled
    identity = load_identity(terminal.config.data_dir)

    @given(batch=st.lists(fuzzed_events(), max_size=6))
    @settings(
        max_examples=int(os.environ.get("VAFA_FUZZ_EXAMPLES", "300")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(batch: list[Any]) -> None:
        before = {id(event): rows_carrying(app, _id_of(event)) for event in batch}
        response = post_signed(app, identity, {"events": batch})
        assert response.status_code == 200, response.get_data(as_text=True)
        results = response.get_json()["results"]
        assert len(results) == len(batch)
        for event, result in zip(batch, results, strict=True):
            assert result["status"] in {"applied", "duplicate", "rejected"}
            if result["status"] == "rejected" and before[id(event)] == 0:
                assert rows_carrying(app, _id_of(event)) == 0, result

    check()


def _id_of(event: Any) -> Any:
    return event.get("id") if isinstance(event, dict) else None

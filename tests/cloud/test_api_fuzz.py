"""Fuzz the cloud API against its own OpenAPI description, unsigned and signed.

Schemathesis drives every operation through the in-process WSGI app: no answer may be a
server error and every answer must match the description. Signed endpoints mostly answer
401 to it, so a hypothesis test also sends fuzzed batches that are correctly signed by an
enrolled terminal and checks that each event is applied, a duplicate, or rejected whole.
"""

from __future__ import annotations

import itertools
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
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate()

    check()


HQ_OPERATIONS = [op for op in OPERATIONS if op[1].startswith("/api/v1/hq/")]


@pytest.mark.parametrize(("method", "path", "mode"), HQ_OPERATIONS)
def test_hq_operations_with_an_admin_token_answer_as_described(
    cloud_app: Flask, method: str, path: str, mode: GenerationMode
) -> None:
    """With a real admin token the HQ operations get past the door and still never fail."""
    from cloud.hq import create_user
    from cloud.hq_api import create_token

    with cloud_app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "fuzz-admin", "a-long-password", "admin")
        token = create_token(conn, "fuzz-admin")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", cloud_app)
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"})

    check()


# Fuzzed events: mostly well formed, so that many are applied and later ones build on them
# (members, sales, refunds), with hostile values mixed into every field.
hexid = st.uuids().map(lambda u: u.hex)  # varied: hypothesis' own text repeats 000…0
fresh_seq = st.builds(next, st.just(itertools.count(1)))  # so seq clashes are the exception
small_ids = st.sampled_from(["m1", "m2", "s1", "s2", "e1", "e2"]) | hexid
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Draw from good nine times in ten, else from bad."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 0 else good)


@st.composite
def postings(draw: st.DrawFn, member_id: str) -> list[dict[str, Any]]:
    """Draw postings that usually balance and usually name this member's account."""
    amount = draw(mostly(st.integers(-1000, 1000), st.integers(-(2**70), 2**70)))
    account = draw(mostly(st.just(f"member:{member_id}:points"), st.text(max_size=12)))
    other = draw(mostly(st.just("system:points_issued"), st.just(account)))
    legs = [{"account": account, "amount": amount}, {"account": other, "amount": -amount}]
    hostile = st.lists(
        st.fixed_dictionaries({"account": st.text(max_size=5), "amount": anything}), max_size=2
    )
    return draw(mostly(st.just(legs), hostile))


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a payload with every field any kind uses, a few of them wrong or missing."""
    member_id = draw(mostly(st.sampled_from(["m1", "m2", "m3", "m4"]), small_ids))
    entry = st.fixed_dictionaries(
        {
            "id": mostly(hexid, small_ids),
            "kind": st.sampled_from(["earn", "redeem", "expire"]),
            "postings": postings(member_id),
        },
        optional={"reverses": mostly(st.none() | hexid, anything), "memo": anything},
    )
    fields = {
        "member_id": mostly(st.just(member_id), anything),
        "sale_id": mostly(hexid | st.sampled_from(["s1", "s2"]), anything),
        "card_code": mostly(hexid | st.sampled_from(["c1", "c2"]), anything),
        "mobile": mostly(st.integers(0, 99).map("0912000{:04}".format), st.text(max_size=14)),
        "name": mostly(st.text(max_size=10), anything),
        "marketing_consent": mostly(st.booleans(), anything),
        "receipt_no": mostly(st.integers(1, 10**6), st.integers() | anything),
        "amount_rial": mostly(st.integers(0, 10**9), st.integers() | anything),
        "points_earned": mostly(st.integers(0, 1000), st.integers() | anything),
        "points_redeemed": mostly(st.integers(0, 1000), st.integers() | anything),
        "channel": mostly(st.just("in_store"), st.text(max_size=30)),
        "tier": st.sampled_from(["normal", "gold", "diamond"]),
        "grant_id": mostly(hexid, anything),
        "kind": st.sampled_from(["points", "credit", "gift"]),
        "amount": mostly(st.integers(1, 1000), anything),
        "credit_redeemed_rial": mostly(st.integers(0, 10**6), st.integers() | anything),
        "coupon": mostly(
            st.none(),
            st.fixed_dictionaries({"code": st.text(max_size=12), "value_rial": anything})
            | anything,
        ),
        "entries": mostly(st.lists(mostly(entry, anything), max_size=3), anything),
    }
    payload = draw(st.fixed_dictionaries(fields))
    for name in draw(mostly(st.just([]), st.lists(st.sampled_from(sorted(fields))))):
        payload.pop(name, None)
    return payload


@st.composite
def fuzzed_events(draw: st.DrawFn) -> Any:
    """Draw one event: usually a well-formed envelope, sometimes garbage."""
    envelope = st.fixed_dictionaries(
        {
            "id": mostly(hexid, anything),
            "seq": mostly(fresh_seq, st.integers() | anything),
            "kind": mostly(st.sampled_from(sorted(EVENT_KINDS)), anything),
            "terminal_time": mostly(st.text(max_size=30), anything),
            "payload": mostly(payloads(), anything),
        }
    )
    return draw(mostly(envelope, anything))


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
        max_examples=int(os.environ.get("VAFA_FUZZ_EXAMPLES", "200")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(batch: list[Any]) -> None:
        before = {id(event): rows_carrying(app, _id_of(event)) for event in batch}
        response = post_signed(app, identity, {"events": batch})
        assert response.status_code == 200, response.get_data(as_text=True)
        results = response.get_json()["results"]
        assert len(results) == len(batch)
        assert {result["status"] for result in results} <= {"applied", "duplicate", "rejected"}
        applied = {result["id"] for result in results if result["status"] == "applied"}
        for event, result in zip(batch, results, strict=True):
            if result["status"] == "applied":
                assert rows_carrying(app, result["id"]) >= 1, result
            # A rejected resend of a stored id (or of one applied earlier in this batch)
            # rightly finds that id's rows; any other rejected id must have none.
            elif before[id(event)] == 0 and _id_of(event) not in applied:
                assert rows_carrying(app, _id_of(event)) == 0, result

    check()


def _id_of(event: Any) -> str | None:
    event_id = event.get("id") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) else None

"""The sync wire format: events and postings are refused naming the field; digests are stable."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import ProtocolError
from common.protocol import (
    Event,
    Posting,
    canonical_json,
    differing_field,
    new_id,
    parse_event,
    parse_postings,
)


def _event(**changes: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": "9f0c" + "0" * 28,
        "seq": 42,
        "kind": "sale.completed",
        "terminal_time": "2026-11-22T10:15:00+03:30",
        "payload": {"amount_rial": 1_000_000, "items": [{"sku": "A", "qty": 2}]},
    }
    wire.update(changes)
    return wire


def test_a_good_event_parses_and_keeps_its_wire_form() -> None:
    wire = _event()
    event = parse_event(wire)
    assert event == Event(**wire)
    assert event.to_dict() == wire


def test_new_ids_are_128_bit_lowercase_hex_and_parse() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    for event_id in ids:
        assert parse_event(_event(id=event_id)).id == event_id


@pytest.mark.parametrize("name", ["id", "seq", "kind", "terminal_time", "payload"])
def test_a_missing_field_is_named(name: str) -> None:
    wire = _event()
    del wire[name]
    with pytest.raises(ProtocolError, match=f"missing field {name}") as refused:
        parse_event(wire)
    assert refused.value.field == name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("id", 123),
        ("id", "9F0C" + "0" * 28),  # upper case
        ("id", "0" * 31),
        ("id", "0" * 33),
        ("id", "g" * 32),
        ("id", "0" * 31 + "\n"),
        ("seq", "42"),
        ("seq", 0),
        ("seq", -1),
        ("seq", True),
        ("seq", 4.0),
        ("kind", "sale.deleted"),
        ("kind", None),
        ("terminal_time", 1700000000),
        ("payload", []),
        ("payload", "{}"),
    ],
)
def test_a_wrong_field_is_named(name: str, value: Any) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_event(_event(**{name: value}))
    assert refused.value.field == name


@pytest.mark.parametrize("wire", [None, [], "event", 42])
def test_an_event_that_is_not_an_object_is_refused(wire: Any) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_event(wire)
    assert refused.value.field == "event"


def test_balanced_postings_parse() -> None:
    legs = [{"account": "member:m:points", "amount": 50}, {"account": "system:i", "amount": -50}]
    assert parse_postings(legs) == [Posting("member:m:points", 50), Posting("system:i", -50)]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (None, "payload.postings"),
        ([], "payload.postings"),
        ({"account": "a", "amount": 1}, "payload.postings"),
        ([{"account": "a", "amount": 5}, {"account": "b", "amount": -4}], "payload.postings"),
        ([{"account": "a", "amount": 5}], "payload.postings"),
        (["a", 5], "payload.postings[0]"),
        ([{"amount": 5}, {"account": "b", "amount": -5}], "payload.postings[0].account"),
        ([{"account": "a", "amount": 5}, {"account": "b"}], "payload.postings[1].amount"),
        (
            [{"account": "a", "amount": 5.0}, {"account": "b", "amount": -5}],
            "payload.postings[0].amount",
        ),
        (
            [{"account": "a", "amount": True}, {"account": "b", "amount": -1}],
            "payload.postings[0].amount",
        ),
        (
            [{"account": 7, "amount": 5}, {"account": "b", "amount": -5}],
            "payload.postings[0].account",
        ),
    ],
)
def test_bad_postings_are_refused_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_postings(raw)
    assert refused.value.field == field


def test_the_field_prefix_of_postings_is_the_callers() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_postings([{"account": "a", "amount": 1}], "payload.entries[2].postings")
    assert refused.value.field == "payload.entries[2].postings"


def test_differing_field_finds_nested_differences() -> None:
    stored = _event()
    assert differing_field(stored, copy.deepcopy(stored)) == ""
    changed = copy.deepcopy(stored)
    changed["payload"]["amount_rial"] = 2_000_000
    assert differing_field(stored, changed) == "payload.amount_rial"
    changed = copy.deepcopy(stored)
    changed["payload"]["note"] = "extra"
    assert differing_field(stored, changed) == "payload.note"
    changed = copy.deepcopy(stored)
    changed["payload"]["items"][0]["qty"] = 3
    assert differing_field(stored, changed) == "payload.items"
    assert differing_field(stored, _event(seq=43)) == "seq"


def test_differing_field_tells_an_integer_from_a_float_or_a_bool() -> None:
    assert differing_field({"a": 1}, {"a": 1.0}) == "a"
    assert differing_field({"a": 1}, {"a": True}) == "a"
    assert differing_field({"a": {"b": None}}, {"a": {}}) == ""  # null and absent read alike


def test_canonical_json_ignores_key_order_and_keeps_persian_as_utf8() -> None:
    one = {"b": 1, "a": {"y": [1, 2], "x": "زهرا"}}
    two = {"a": {"x": "زهرا", "y": [1, 2]}, "b": 1}
    assert canonical_json(one) == canonical_json(two)
    assert canonical_json(one) == '{"a":{"x":"زهرا","y":[1,2]},"b":1}'.encode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=6), JSON, max_size=5), st.randoms())
def test_canonical_json_is_the_same_for_any_key_order(payload: dict[str, Any], rnd: Any) -> None:
    keys = list(payload)
    rnd.shuffle(keys)
    assert canonical_json({key: payload[key] for key in keys}) == canonical_json(payload)


@given(
    st.dictionaries(st.text(max_size=6), JSON, max_size=5),
    st.dictionaries(st.text(max_size=6), JSON, max_size=5),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=1, max_value=3),
)
def test_digest_changes_if_and_only_if_content_changes(
    one: dict[str, Any], two: dict[str, Any], seq_one: int, seq_two: int
) -> None:
    base = {"id": "a" * 32, "kind": "sale.completed", "terminal_time": "t"}
    first = Event(seq=seq_one, payload=one, **base)
    second = Event(seq=seq_two, payload=two, **base)
    same_content = canonical_json(first.to_dict()) == canonical_json(second.to_dict())
    assert (first.digest() == second.digest()) == same_content
    assert first.digest() == Event(seq=seq_one, payload=copy.deepcopy(one), **base).digest()
    named = differing_field(first.to_dict(), second.to_dict())
    if same_content:
        assert named == ""
    elif named:
        assert named == "seq" or named.startswith("payload.")

"""Ed25519 request signatures: any tampered part, a stale time or a malformed header is refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import SignatureError
from common.signing import (
    H_DIGEST,
    H_KEY,
    H_NONCE,
    H_SIGNATURE,
    H_TIME,
    MAX_SKEW_SECONDS,
    SignedRequest,
    load_public_key,
    public_key_b64,
    read_key_id,
    sign_request,
    verify_request,
)

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()
KEY_ID = "a" * 32
PATH = "/api/v1/sync/events"
BODY = b'{"events":[]}'
NOW = 1_790_000_000.0


def _signed(**overrides: str) -> dict[str, str]:
    headers = sign_request(KEY, KEY_ID, "POST", PATH, BODY, now=NOW)
    headers.update(overrides)
    return headers


def _verify(headers: dict[str, str], method: str = "POST", path: str = PATH, body: bytes = BODY):  # type: ignore[no-untyped-def]
    return verify_request(PUBLIC, headers, method, path, body, now=NOW)


def test_a_signed_request_verifies_and_says_who_sent_it() -> None:
    headers = _signed()
    assert _verify(headers) == SignedRequest(KEY_ID, int(NOW), headers[H_NONCE])


def test_every_request_spends_a_fresh_nonce() -> None:
    assert len({_signed()[H_NONCE] for _ in range(50)}) == 50


def test_the_public_key_round_trips_through_base64() -> None:
    loaded = load_public_key(public_key_b64(KEY))
    headers = _signed()
    assert verify_request(loaded, headers, "POST", PATH, BODY, now=NOW).key_id == KEY_ID


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", PATH, BODY),
        ("PUT", PATH, BODY),
        ("POST", "/api/v1/terminals/enroll", BODY),
        ("POST", PATH + "?x=1", BODY),
        ("POST", PATH, b'{"events":[1]}'),
        ("POST", PATH, b""),
    ],
)
def test_a_request_changed_after_signing_is_refused(method: str, path: str, body: bytes) -> None:
    with pytest.raises(SignatureError):
        _verify(_signed(), method, path, body)


def test_a_body_with_its_digest_replaced_still_fails_the_signature() -> None:
    import hashlib

    other = b'{"events":[{"forged":true}]}'
    headers = _signed(**{H_DIGEST: hashlib.sha256(other).hexdigest()})
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(headers, body=other)


@pytest.mark.parametrize(
    "changes",
    [
        {H_TIME: str(int(NOW) + 1)},
        {H_NONCE: "b" * 32},
        {H_KEY: "b" * 32},
        {H_SIGNATURE: base64.b64encode(b"\0" * 64).decode()},
        {H_DIGEST: "0" * 64},
    ],
)
def test_each_tampered_header_is_refused(changes: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        _verify(_signed(**changes))


def test_a_signature_made_by_another_key_is_refused() -> None:
    forged = sign_request(Ed25519PrivateKey.generate(), KEY_ID, "POST", PATH, BODY, now=NOW)
    with pytest.raises(SignatureError, match="does not verify"):
        _verify(forged)


def test_the_method_is_signed_case_insensitively() -> None:
    assert _verify(_signed(), method="post").key_id == KEY_ID


@pytest.mark.parametrize("skew", [MAX_SKEW_SECONDS + 1, -MAX_SKEW_SECONDS - 1, 3 * 86400])
def test_a_time_outside_the_window_is_refused_as_stale(skew: int) -> None:
    headers = sign_request(KEY, KEY_ID, "POST", PATH, BODY, now=NOW - skew)
    with pytest.raises(SignatureError, match="from the cloud clock") as refused:
        _verify(headers)
    assert "ساعت" in refused.value.fa


@pytest.mark.parametrize("skew", [MAX_SKEW_SECONDS, -MAX_SKEW_SECONDS, 0])
def test_a_time_inside_the_window_is_accepted(skew: int) -> None:
    headers = sign_request(KEY, KEY_ID, "POST", PATH, BODY, now=NOW - skew)
    assert _verify(headers).timestamp == int(NOW - skew)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {H_KEY: ""},
        {H_KEY: "k" * 65},
        {H_KEY: "a\x00b"},
        {H_KEY: "ترمینال"},
        {H_KEY: "two words"},
    ],
)
def test_a_missing_or_oversized_key_id_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        read_key_id(headers)


@pytest.mark.parametrize(
    "changes",
    [
        {H_TIME: ""},
        {H_TIME: "yesterday"},
        {H_TIME: "9" * 400},
        {H_TIME: "-" + "9" * 400},
        {H_TIME: "1e9"},
        {H_SIGNATURE: "not base64!"},
        {H_SIGNATURE: "زهرا"},
        {H_SIGNATURE: ""},
        {H_NONCE: ""},
        {H_NONCE: "short"},
        {H_NONCE: "Z" * 32},
        {H_NONCE: "0" * 31 + "\n"},
        {H_TIME: " " + str(int(NOW))},
        {H_TIME: "+" + str(int(NOW))},
        {H_TIME: "۱۷۹۰۰۰۰۰۰۰"},
        {H_DIGEST: ""},
    ],
)
def test_malformed_headers_are_a_signature_error(changes: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        _verify(_signed(**changes))


@pytest.mark.parametrize("b64", ["", "not base64", base64.b64encode(b"x" * 31).decode(), "زهرا"])
def test_a_malformed_public_key_is_a_signature_error(b64: str) -> None:
    with pytest.raises(SignatureError):
        load_public_key(b64)


HEADER_NAMES = st.sampled_from([H_KEY, H_TIME, H_NONCE, H_DIGEST, H_SIGNATURE, "X-Other"])
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.integers().map(str),
    st.binary(max_size=64).map(lambda raw: base64.b64encode(raw).decode()),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)


@settings(max_examples=300)
@given(st.dictionaries(HEADER_NAMES, HEADER_VALUES), st.binary(max_size=64))
def test_arbitrary_headers_never_raise_anything_but_signature_error(
    headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(SignatureError):
        verify_request(PUBLIC, headers, "POST", PATH, body, now=NOW)


@settings(max_examples=200)
@given(st.sampled_from([H_KEY, H_TIME, H_NONCE, H_DIGEST, H_SIGNATURE]), HEADER_VALUES)
def test_changing_any_one_signed_header_never_verifies(name: str, value: str) -> None:
    headers = _signed()
    if headers[name] == value:
        return
    headers[name] = value
    with pytest.raises(SignatureError):
        _verify(headers)

"""Classifying scanned and typed codes: every kind accepted, every bad or hostile input refused."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from agent.codes import MAX_CODE, Code, parse_code
from agent.errors import InputError
from common.cards import ean13_check_digit, new_card_code
from common.member_qr import make_member_qr

NOW = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)
CLOUD_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBLIC = CLOUD_KEY.public_key()


def qr(member_id: str = "m-0001", valid_for: timedelta = timedelta(minutes=5)) -> str:
    return make_member_qr(CLOUD_KEY, member_id, NOW + valid_for)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2900012345671", Code("member_card", "2900012345671")),
        ("  2900012345671\n", Code("member_card", "2900012345671")),
        ("۲۹۰۰۰۱۲۳۴۵۶۷۱", Code("member_card", "2900012345671")),  # typed on a Persian keyboard
        ("VAFA:1234567", Code("member_card", "1234567")),
        ("09123456789", Code("mobile", "+989123456789")),
        ("9123456789", Code("mobile", "+989123456789")),
        ("+98 912 345 6789", Code("mobile", "+989123456789")),
        ("0098-912-345-6789", Code("mobile", "+989123456789")),
        ("۰۹۱۲۳۴۵۶۷۸۹", Code("mobile", "+989123456789")),
        ("٠٩١٢٣٤٥٦٧٨٩", Code("mobile", "+989123456789")),  # Arabic-Indic digits
        ("\u200e09123456789\u200f", Code("mobile", "+989123456789")),  # marks from a copy
        (
            "%B6037991234567890^REZAEI/ALI^2912101000000000000?",
            Code("mag_stripe", "6037991234567890"),
        ),
        (";6037991234567890=29121010000000000000?", Code("mag_stripe", "6037991234567890")),
        ("0012345678", Code("rfid", "00BC614E")),  # decimal UID from a wedge reader
        ("04a1b2c3d4e5f6", Code("rfid", "04A1B2C3D4E5F6")),
        ("DEADBEEF", Code("rfid", "DEADBEEF")),
        ("CP-NOWRUZ1405", Code("coupon", "CP-NOWRUZ1405")),
        ("CP-A1B2C3", Code("coupon", "CP-A1B2C3")),
    ],
)
def test_each_kind_is_recognised(raw: str, expected: Code) -> None:
    assert parse_code(raw, now=NOW, qr_key=PUBLIC) == expected


def test_fresh_cards_parse_as_member_cards() -> None:
    for _ in range(50):
        card = new_card_code()
        assert parse_code(card) == Code("member_card", card)


def test_signed_qr_is_a_member() -> None:
    """GIVEN a token the cloud signed WHEN the terminal scans it before expiry THEN the member."""
    assert parse_code(qr("m-0001"), now=NOW, qr_key=PUBLIC) == Code("member_qr", "m-0001")


def _refused(raw: str, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        parse_code(raw, **kwargs)  # type: ignore[arg-type]
    assert info.value.fa  # always something to show the cashier
    return info.value


def test_wrong_ean13_check_digit_is_refused() -> None:
    body = "290001234567"
    wrong = str((int(ean13_check_digit(body)) + 1) % 10)
    error = _refused(body + wrong)
    assert "check digit" in str(error)
    assert error.fa == "رقم کنترل کارت عضویت درست نیست"


def test_product_barcode_is_not_a_member_card() -> None:
    body = "626000000001"  # a product EAN-13 (GS1 Iran range), valid check digit
    assert "member range" in str(_refused(body + ean13_check_digit(body)))


def test_expired_qr_is_refused() -> None:
    error = _refused(qr(valid_for=timedelta(seconds=-1)), now=NOW, qr_key=PUBLIC)
    assert "expired" in str(error)
    assert error.fa == "کد QR عضویت منقضی شده است"


def test_qr_expiry_is_checked_against_the_given_time() -> None:
    token = qr(valid_for=timedelta(minutes=5))
    assert parse_code(token, now=NOW + timedelta(minutes=4), qr_key=PUBLIC).kind == "member_qr"
    _refused(token, now=NOW + timedelta(minutes=5), qr_key=PUBLIC)


def test_qr_signed_by_another_key_is_refused() -> None:
    forged = make_member_qr(OTHER_KEY, "m-0001", NOW + timedelta(minutes=5))
    assert "signature" in str(_refused(forged, now=NOW, qr_key=PUBLIC))


def test_qr_checked_with_the_wrong_public_key_is_refused() -> None:
    _refused(qr(), now=NOW, qr_key=OTHER_KEY.public_key())


def test_tampered_qr_payload_is_refused() -> None:
    """GIVEN a valid token WHEN its payload is swapped for another member's THEN refused."""
    version, _, signature = qr("m-0001").split(".")
    claims = {"exp": int((NOW + timedelta(days=1)).timestamp()), "member_id": "m-9999"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _refused(f"{version}.{payload}.{signature}", now=NOW, qr_key=PUBLIC)


def test_qr_with_a_flipped_signature_bit_is_refused() -> None:
    token = qr()
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    _refused(flipped, now=NOW, qr_key=PUBLIC)


def test_qr_without_a_configured_key_is_refused() -> None:
    assert "no QR key" in str(_refused(qr(), now=NOW, qr_key=None))


@pytest.mark.parametrize(
    "broken", ["VQ1.", "VQ1.abc", "VQ1.abc.def", "VQ1..", "VQ1.!!!." + "A" * 86]
)
def test_malformed_qr_is_refused(broken: str) -> None:
    _refused(broken, now=NOW, qr_key=PUBLIC)


def test_signed_but_ill_formed_claims_are_refused() -> None:
    for claims in ([1, 2], {"member_id": "m"}, {"member_id": "", "exp": 2**40}, {"exp": True}):
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        signed = f"VQ1.{payload}"
        signature = base64.urlsafe_b64encode(CLOUD_KEY.sign(signed.encode())).rstrip(b"=")
        _refused(f"{signed}.{signature.decode()}", now=NOW, qr_key=PUBLIC)


@pytest.mark.parametrize(
    "hostile",
    [
        "2" * 10_240,  # 10 KB
        "2900012345671" + "\x00",
        "29000\x0012345675",
        "\u202e1765432100092",  # RTL override: looks like a card, is not
        "0912\u202d3456789",
        "'; DROP TABLE members; --",
        "1 OR 1=1",
        "CP-ABC123' OR '1'='1",
        "🎉🎉🎉",
        "29000123456🙂",
        "",
        "   ",
        "\t\r\n",
        "CP-abc123",  # coupons are upper case
        "CP-ABC12",  # too short
        "VAFA:",
        "VAFA:12ab",
        "1234567",  # too short for anything
        "09801234567",  # looks like a mobile, is not a valid one
        "%B1234^NAME^?",  # track 1 with too short a number
    ],
)
def test_hostile_and_bad_inputs_are_refused_cleanly(hostile: str) -> None:
    error = _refused(hostile, now=NOW, qr_key=PUBLIC)
    assert "DROP" not in str(error) and "0912" not in str(error)  # no content in the log


def test_oversized_input_names_the_limit() -> None:
    assert str(MAX_CODE) in str(_refused("9" * (MAX_CODE + 1)))


def test_refusal_speaks_persian() -> None:
    assert _refused("hello").fa == "کد اسکن‌شده معتبر نیست"


@given(st.text(max_size=600))
def test_arbitrary_text_raises_only_input_error(raw: str) -> None:
    try:
        code = parse_code(raw, now=NOW, qr_key=PUBLIC)
    except InputError:
        return
    assert code.kind in {"member_card", "mobile", "mag_stripe", "rfid", "member_qr", "coupon"}


@given(st.text(alphabet="0123456789۰۱۲۳۴۵۶۷۸۹+-: %;=?^BVQAFCP.", max_size=40))
def test_code_like_text_raises_only_input_error(raw: str) -> None:
    with contextlib.suppress(InputError):
        parse_code(raw, now=NOW, qr_key=PUBLIC)


def test_member_qr_token_has_the_documented_form() -> None:
    version, payload, signature = qr("m-0001").split(".")
    assert version == "VQ1" and len(signature) == 86  # 64 bytes, base64url without padding
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims == {"exp": int((NOW + timedelta(minutes=5)).timestamp()), "member_id": "m-0001"}


@pytest.mark.parametrize("member_id", ["", "m" * 65])
def test_member_qr_refuses_to_sign_a_bad_member_id(member_id: str) -> None:
    with pytest.raises(ValueError, match="member_id"):
        make_member_qr(CLOUD_KEY, member_id, NOW)

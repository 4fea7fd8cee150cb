"""Personal data at rest: AES-GCM bound to its row, keyed lookups, and a key file kept private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.pii import NONCE_BYTES, PiiError, PiiVault, load_or_create_key

MASTER = bytes(range(32))


@pytest.fixture
def vault() -> PiiVault:
    return PiiVault(MASTER)


def test_a_field_round_trips(vault: PiiVault) -> None:
    blob = vault.encrypt("row-1", "+989123456789")
    assert vault.decrypt("row-1", blob) == "+989123456789"
    assert b"989123456789" not in blob


def test_persian_text_round_trips_and_is_not_readable(vault: PiiVault) -> None:
    blob = vault.encrypt("row-1", "زهرا محمدی")
    assert vault.decrypt("row-1", blob) == "زهرا محمدی"
    assert "زهرا".encode() not in blob


def test_the_same_plaintext_encrypts_differently_each_time(vault: PiiVault) -> None:
    assert vault.encrypt("row-1", "x") != vault.encrypt("row-1", "x")


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(vault: PiiVault) -> None:
    blob = vault.encrypt("row-1", "+989123456789")
    with pytest.raises(PiiError, match="row-2"):
        vault.decrypt("row-2", blob)


def test_a_ciphertext_under_another_key_does_not_decrypt(vault: PiiVault) -> None:
    blob = PiiVault(b"\xff" * 32).encrypt("row-1", "secret")
    with pytest.raises(PiiError):
        vault.decrypt("row-1", blob)


@settings(max_examples=60)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_altered_byte_is_detected(position: int, flip: int) -> None:
    vault = PiiVault(MASTER)
    blob = bytearray(vault.encrypt("row-1", "+989123456789"))
    blob[position % len(blob)] ^= flip
    with pytest.raises(PiiError):
        vault.decrypt("row-1", bytes(blob))


@pytest.mark.parametrize("length", [0, 1, 5, 1 + NONCE_BYTES, 1 + NONCE_BYTES + 15])
def test_a_truncated_ciphertext_is_a_pii_error(vault: PiiVault, length: int) -> None:
    blob = vault.encrypt("row-1", "+989123456789")[:length]
    with pytest.raises(PiiError):
        vault.decrypt("row-1", blob)


def test_lookup_hash_is_deterministic_per_key_and_differs_across_keys(vault: PiiVault) -> None:
    same = PiiVault(MASTER)
    other = PiiVault(b"\x01" * 32)
    mobile = "+989123456789"
    assert vault.lookup_hash(mobile) == same.lookup_hash(mobile)
    assert len(vault.lookup_hash(mobile)) == 32
    assert vault.lookup_hash(mobile) != other.lookup_hash(mobile)
    assert vault.lookup_hash(mobile) != vault.lookup_hash("+989123456788")


def test_the_key_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pii.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    assert PiiVault(load_or_create_key(path)).decrypt("r", PiiVault(key).encrypt("r", "x")) == "x"


def test_the_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_key(tmp_path / "pii.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "pii.key").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "pii.key"
    path.write_bytes(os.urandom(32))
    path.chmod(mode)
    with pytest.raises(PiiError, match="0600"):
        load_or_create_key(path)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_key_of_the_wrong_length_is_refused(tmp_path: Path, length: int) -> None:
    path = tmp_path / "pii.key"
    path.write_bytes(b"k" * length)
    path.chmod(0o600)
    with pytest.raises(PiiError, match=f"{length} bytes"):
        load_or_create_key(path)

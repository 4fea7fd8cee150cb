"""Password hashes, and the limiter that slows down guessing at the login form."""

from __future__ import annotations

import time

import pytest

from common.webauth import LoginLimiter, hash_password, verify_password


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("رمز-عبور-۱۲۳")


def test_the_right_password_verifies(stored: str) -> None:
    assert stored.startswith("scrypt$")
    assert "رمز" not in stored
    assert verify_password("رمز-عبور-۱۲۳", stored)


@pytest.mark.parametrize("attempt", ["", "رمز-عبور-123", "رمز-عبور-۱۲۳ ", "password"])
def test_a_wrong_password_does_not(stored: str, attempt: str) -> None:
    assert not verify_password(attempt, stored)


def test_two_hashes_of_one_password_differ_by_salt() -> None:
    assert hash_password("same-password") != hash_password("same-password")


@pytest.mark.parametrize(
    "broken",
    [
        "",
        "plain-text-password",
        "md5$abc",
        "bcrypt$16384$8$1$YQ==$YQ==",
        "scrypt$x$8$1$YQ==$YQ==",
        "scrypt$16384$8$1$!!$YQ==",
        "scrypt$16384$8$1$YQ==$not base64",
        "scrypt$3$8$1$YQ==$YQ==",  # n not a power of two
        "scrypt$1073741824$8$1$YQ==$YQ==",  # would need 1 TiB
        "scrypt$16384$8$1$YQ==",
        "scrypt$16384$8$1$YQ==$YQ==$extra",
        "scrypt$-1$8$1$YQ==$YQ==",
    ],
)
def test_a_malformed_stored_hash_is_false_not_an_exception(broken: str) -> None:
    assert verify_password("whatever", broken) is False


def test_limiter_blocks_after_n_failures_and_forgets_on_success() -> None:
    limiter = LoginLimiter(max_failures=3, window_s=60)
    for _ in range(2):
        limiter.failed("10.0.0.1")
    assert not limiter.blocked("10.0.0.1")
    limiter.failed("10.0.0.1")
    assert limiter.blocked("10.0.0.1")
    assert not limiter.blocked("10.0.0.2")  # another client is not punished
    limiter.succeeded("10.0.0.1")
    assert not limiter.blocked("10.0.0.1")


def test_limiter_forgets_failures_older_than_the_window() -> None:
    limiter = LoginLimiter(max_failures=2, window_s=0.2)
    limiter.failed("c")
    limiter.failed("c")
    assert limiter.blocked("c")
    time.sleep(0.25)
    assert not limiter.blocked("c")


def test_asking_about_clients_that_never_failed_keeps_no_state() -> None:
    limiter = LoginLimiter(max_failures=2, window_s=60)
    for index in range(1000):
        assert not limiter.blocked(f"10.1.{index // 256}.{index % 256}")
    assert limiter._failures == {}

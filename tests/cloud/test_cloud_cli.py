"""``vafa-cloud``: every command prints JSON, refuses bad input with a message, and documents
its options in --help.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud.app import create_app
from cloud.cli import build_parser, main
from cloud.tables import stores, terminals, users
from common.signing import public_key_b64
from common.webauth import verify_password


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run the CLI; return its exit code, its JSON output (or None) and its stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


@pytest.fixture
def instance(tmp_path: Path) -> str:
    return str(tmp_path / "hq")


def _engine(instance: str) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{instance}/vafa-cloud.db")


def _rows(instance: str, table: sa.Table) -> list[Any]:
    engine = _engine(instance)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(table)))
    finally:
        engine.dispose()


def test_store_create_prints_the_store_and_a_code_that_enrols(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    code, out, err = run(capsys, "--instance", instance, "store", "create", "--name", "شعبه ونک")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"[0-9a-f]{32}", out["store_id"])
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", out["enrolment_code"])
    assert [(row.id, row.name) for row in _rows(instance, stores)] == [
        (out["store_id"], "شعبه ونک")
    ]
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{instance}/vafa-cloud.db",
            "PII_KEY_FILE": f"{instance}/pii.key",
            "SECRET_KEY": "test",
        }
    )
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://hq") as client:
            key = public_key_b64(Ed25519PrivateKey.generate())
            body = {"code": out["enrolment_code"], "public_key": key}
            answer = client.post("/api/v1/terminals/enroll", json=body)
        assert answer.status_code == 200
        assert answer.json()["store_id"] == out["store_id"]
    finally:
        app.extensions["vafa"].engine.dispose()


def test_store_code_issues_a_fresh_code_each_time(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    _, created, _ = run(capsys, "--instance", instance, "store", "create", "--name", "ونک")
    codes = set()
    for _ in range(3):
        code, out, _ = run(
            capsys, "--instance", instance, "store", "code", "--store", created["store_id"]
        )
        assert code == 0
        codes.add(out["enrolment_code"])
    assert len(codes | {created["enrolment_code"]}) == 4


def test_store_code_for_an_unknown_store_fails_with_a_message(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    code, out, err = run(capsys, "--instance", instance, "store", "code", "--store", "0" * 32)
    assert (code, out) == (1, None)
    assert err.startswith("error:") and "0" * 32 in err


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_store_create_refuses_a_bad_name(
    capsys: pytest.CaptureFixture[str], instance: str, name: str
) -> None:
    code, out, err = run(capsys, "--instance", instance, "store", "create", "--name", name)
    assert (code, out) == (1, None)
    assert "store name" in err
    assert _rows(instance, stores) == []


def test_user_create_stores_a_slow_hash(capsys: pytest.CaptureFixture[str], instance: str) -> None:
    argv = ["--instance", instance, "user", "create", "--username", "maryam"]
    code, out, _ = run(capsys, *argv, "--password", "s3cret-pass", "--role", "marketer")
    assert (code, out) == (0, {"user": "maryam", "role": "marketer"})
    (row,) = _rows(instance, users)
    assert (row.username, row.role) == ("maryam", "marketer")
    assert row.password_hash.startswith("scrypt$") and "s3cret" not in row.password_hash
    assert verify_password("s3cret-pass", row.password_hash)


def test_user_create_refuses_a_short_password_and_a_taken_name(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    argv = ["--instance", instance, "user", "create", "--username", "ali"]
    code, _, err = run(capsys, *argv, "--password", "short")
    assert code == 1 and "8 characters" in err
    assert run(capsys, *argv, "--password", "long-enough")[0] == 0
    code, out, err = run(capsys, *argv, "--password", "another-one")
    assert (code, out) == (1, None)
    assert "ali" in err and "exists" in err
    assert len(_rows(instance, users)) == 1


@pytest.mark.parametrize("username", ["", "   ", "u" * 81, "bad\x00name"])
def test_user_create_refuses_a_bad_username(
    capsys: pytest.CaptureFixture[str], instance: str, username: str
) -> None:
    argv = ["--instance", instance, "user", "create", "--username", username]
    code, out, err = run(capsys, *argv, "--password", "long-enough")
    assert (code, out) == (1, None)
    assert "username" in err
    assert _rows(instance, users) == []


def test_user_create_refuses_an_unknown_role(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    argv = ["--instance", instance, "user", "create", "--username", "a", "--password", "x" * 8]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--role", "god"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_terminal_revoke(capsys: pytest.CaptureFixture[str], instance: str, tmp_path: Path) -> None:
    from agent.identity import enroll

    _, created, _ = run(capsys, "--instance", instance, "store", "create", "--name", "ونک")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{instance}/vafa-cloud.db",
            "PII_KEY_FILE": f"{instance}/pii.key",
            "SECRET_KEY": "test",
        }
    )
    try:
        identity = enroll(
            "http://hq",
            created["enrolment_code"],
            tmp_path / "till",
            transport=httpx.WSGITransport(app=app),
        )
    finally:
        app.extensions["vafa"].engine.dispose()
    code, out, _ = run(capsys, "--instance", instance, "terminal", "revoke", identity.terminal_id)
    assert (code, out) == (0, {"revoked": identity.terminal_id})
    (row,) = _rows(instance, terminals)
    assert row.revoked_at is not None
    code, out, err = run(capsys, "--instance", instance, "terminal", "revoke", identity.terminal_id)
    assert (code, out) == (1, None)
    assert "no active terminal" in err


def test_totals_prints_the_chain_figures(capsys: pytest.CaptureFixture[str], instance: str) -> None:
    run(capsys, "--instance", instance, "store", "create", "--name", "ونک")
    run(capsys, "--instance", instance, "store", "create", "--name", "تجریش")
    code, out, _ = run(capsys, "--instance", instance, "totals")
    assert code == 0
    assert out["stores"] == 2
    assert {
        "terminals": 0,
        "members": 0,
        "sales": 0,
        "revenue_rial": 0,
        "points_total": 0,
    }.items() <= out.items()


def test_migrate_is_idempotent(capsys: pytest.CaptureFixture[str], instance: str) -> None:
    assert run(capsys, "--instance", instance, "migrate") == (0, {"migrated": True}, "")
    assert run(capsys, "--instance", instance, "migrate") == (0, {"migrated": True}, "")


def test_database_overrides_the_instance_database(
    capsys: pytest.CaptureFixture[str], instance: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    argv = ["--instance", instance, "--database", f"sqlite:///{elsewhere}"]
    assert run(capsys, *argv, "store", "create", "--name", "ونک")[0] == 0
    engine = sa.create_engine(f"sqlite:///{elsewhere}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(stores)).scalar_one() == 1
    finally:
        engine.dispose()
    assert not Path(instance, "vafa-cloud.db").exists()
    assert Path(instance, "pii.key").exists()  # the key still lives in the instance folder


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[Any]:
    """Return (argv prefix, parser) for every command and sub-command, depth first."""
    found = [(prefix, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*prefix, name))
    return found


@pytest.mark.parametrize(
    ("argv", "parser"),
    [
        pytest.param(argv, sub, id=" ".join(argv) or "vafa-cloud")
        for argv, sub in _commands(build_parser())
    ],
)
def test_every_help_exits_zero_and_names_its_options(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for action in parser._actions:
        for option in action.option_strings:
            assert option in text
        if isinstance(action, argparse._SubParsersAction):
            assert all(name in text for name in action.choices)
        elif not action.option_strings:
            assert action.dest in text


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["store"],
        ["store", "create"],
        ["store", "code"],
        ["terminal", "revoke"],
        ["user", "create", "--username", "x"],
        ["serve", "--port", "eighty"],
        ["no-such-command"],
    ],
)
def test_bad_usage_exits_non_zero_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: vafa-cloud" in err and "error:" in err


def test_sms_send_and_poll_through_the_file_provider(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    from cloud.tables import members

    code, made, _ = run(capsys, "--instance", instance, "store", "create", "--name", "ونک")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{instance}/vafa-cloud.db",
            "PII_KEY_FILE": f"{instance}/pii.key",
        }
    )
    vault, member_id = app.extensions["vafa"].vault, "a" * 32
    with app.extensions["vafa"].engine.begin() as conn:
        conn.execute(
            sa.insert(members).values(
                id=member_id,
                card_code="2911",
                mobile_hmac=vault.lookup_hash("+989121112233"),
                mobile_enc=vault.encrypt(member_id, "+989121112233"),
                name_enc=vault.encrypt(member_id, "مریم"),
                home_store_id=made["store_id"],
                marketing_consent=False,
                enrolled_at=sa.func.now(),
            )
        )
    app.extensions["vafa"].engine.dispose()
    base = ["--instance", instance, "sms"]

    code, _, err = run(capsys, *base, "send", "--member", member_id, "--text", "تخفیف ویژه")
    assert code == 1 and "not consented" in err and "خطا:" in err  # consent is checked first
    code, sent, _ = run(
        capsys,
        *base,
        "send",
        "--member",
        member_id,
        "--text",
        "کد: ۱۲۳۴",
        "--service",
        "--purpose",
        "otp",
    )
    assert code == 0 and sent["parts"] == 1
    outbox = Path(instance, "sms-outbox.jsonl").read_text().splitlines()
    assert json.loads(outbox[0])["to"] == "+989121112233"
    Path(instance, "sms-outbox.replies").write_text("09121112233 ۱۲\n")
    code, polled, _ = run(capsys, *base, "poll")
    assert polled == {"delivery_updates": 1, "replies": {"opt_out": 0, "opt_in": 1, "ignored": 0}}
    code, sent, err = run(capsys, *base, "send", "--member", member_id, "--text", "تخفیف ویژه")
    # Consented now by replying 12; only the sending window (the wall clock) may hold it back.
    assert code == 0 or ("sending window" in err and "consented" not in err)


def test_scenarios_install_list_preview_and_switch(
    capsys: pytest.CaptureFixture[str], instance: str
) -> None:
    base = ["--instance", instance, "scenarios"]
    code, installed, _ = run(capsys, *base, "install-library")
    assert code == 0 and set(installed["installed"]) >= {"birthday", "win-back", "vip-thanks"}
    assert installed["occasions"] >= 4
    assert run(capsys, *base, "install-library")[1]["installed"] == []
    code, listed, _ = run(capsys, *base, "list")
    assert {s["id"]: s["enabled"] for s in listed}["birthday"] is True
    code, decisions, _ = run(capsys, *base, "preview", "--date", "2026-11-22", "--json")
    assert code == 0 and decisions == []  # no members yet
    code, _, err = run(capsys, *base, "preview", "--date", "22/11/2026", "--json")
    assert code == 1 and "YYYY-MM-DD" in err
    code, lift, _ = run(capsys, *base, "uplift", "birthday", "--period", "1405")
    assert code == 0 and lift["treated"]["members"] == lift["control"]["members"] == 0
    assert run(capsys, *base, "disable", "birthday")[1] == {"birthday": False}
    code, _, err = run(capsys, *base, "enable", "no-such")
    assert code == 1 and "no scenario" in err

"""`vafa-agent` as scripts and POS software call it: JSON out, clear errors, no half-writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.drivers.escpos_decoder import decode, drawer_kicks, receipt_image


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_member_add_then_sale_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    code, out, _ = _run(
        capsys, *data, "member", "add", "--mobile", "0912 345 6789", "--name", "زهرا"
    )
    assert code == 0
    card = json.loads(out)["card_code"]
    code, out, _ = _run(capsys, *data, "sale", "--member", card, "--amount", "1250000", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["points_earned"] == 125 and result["balance"] == 125
    assert len(result["entry_ids"]) == 1 and len(result["entry_ids"][0]) == 32
    code, out, _ = _run(capsys, *data, "ledger", "verify")
    assert code == 0 and json.loads(out) == {"ok": True, "points_total": 125}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--member", "09350000000", "--amount", "1000"], "no member"),
        (["--member", "0912345", "--amount", "1000"], "no member"),
        (["--member", "09123456789", "--amount", "-5"], "negative"),
        (["--member", "09123456789", "--amount", "999999999999999"], "absurd"),
        (["--member", "09123456789", "--amount", "100000", "--redeem", "10"], "balance"),
        (["--member", "09123456789", "--amount", "5000", "--redeem", "10"], "exceed the purchase"),
    ],
)
def test_bad_sales_exit_non_zero_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    data = ["--data-dir", str(tmp_path)]
    _run(capsys, *data, "member", "add", "--mobile", "09123456789", "--name", "علی")
    code, out, err = _run(capsys, *data, "sale", *args, "--json")
    assert code != 0 and out == ""
    assert message in err and "خطا:" in err  # English for logs, Persian for people
    code, out, _ = _run(capsys, *data, "ledger", "verify")
    assert json.loads(out)["points_total"] == 0


def test_print_test_writes_a_receipt_with_cut_and_kick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "receipt.bin"
    code, out, _ = _run(capsys, "print-test", "--profile", "xprinter-xp58", "--output", str(target))
    assert code == 0 and json.loads(out)["dots"] == 384
    data = target.read_bytes()
    image = receipt_image(data)
    assert image is not None and image.width == 384
    commands = decode(data)
    assert len(drawer_kicks(commands)) == 1
    assert not any(c.name == "GS V" for c in commands)  # the XP-58 has no cutter


def test_print_test_refuses_a_scanner_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, "print-test", "--profile", "zebra-ds2208", "--output", str(tmp_path / "x")
    )
    assert code != 0 and "not a printer" in err


def test_backup_then_restore_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "t")]
    _run(capsys, *data, "member", "add", "--mobile", "09123456789", "--name", "علی")
    _run(capsys, *data, "sale", "--member", "09123456789", "--amount", "500000", "--json")
    code, out, _ = _run(capsys, *data, "backup", "--output", str(tmp_path / "b"))
    assert code == 0
    taken = json.loads(out)
    assert (taken["sales"], taken["outbox_seq"]) == (1, 2)
    _run(capsys, *data, "sale", "--member", "09123456789", "--amount", "500000", "--json")

    code, _, err = _run(capsys, *data, "restore", "--input", taken["backup"])
    assert code != 0 and "newer than" in err and "خطا:" in err
    code, out, _ = _run(capsys, *data, "restore", "--input", taken["backup"], "--force")
    assert code == 0 and json.loads(out)["sales"] == 1
    code, out, _ = _run(capsys, *data, "ledger", "verify")
    assert json.loads(out) == {"ok": True, "points_total": 50}


def test_doctor_exits_non_zero_naming_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "t")]
    _run(capsys, *data, "member", "add", "--mobile", "09123456789", "--name", "علی")
    (tmp_path / "t").chmod(0o700)
    code, out, err = _run(capsys, *data, "doctor", "--json")
    assert code == 2
    findings = {f["check"]: f for f in json.loads(out)}
    assert findings["ledger"]["level"] == "ok" and findings["enrolment"]["level"] == "fail"
    assert "enrolment" in err and "پایانه آماده کار نیست" in err
    code, out, _ = _run(capsys, *data, "doctor")
    assert "✗ enrolment" in out and "fix: vafa-agent enroll" in out

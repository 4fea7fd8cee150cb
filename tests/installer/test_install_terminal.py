"""installer/install-terminal.sh into a throwaway root: files, modes, owners, units, upgrade."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main as agent_main
from agent.config import AgentConfig, load_config
from agent.drivers.profiles import load_profiles
from agent.udev_rules import render_rules
from tests.installer.systemd_units import verify_units

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "installer" / "install-terminal.sh"
UNINSTALL = REPO / "installer" / "uninstall-terminal.sh"

# Every file the installer lays down without --kiosk, and its mode.
EXPECTED_MODES = {
    "etc/vafa": 0o755,
    "etc/vafa/agent.toml": 0o640,
    "etc/vafa/agent.toml.example": 0o644,
    "etc/systemd/system/vafa-agent.service": 0o644,
    "etc/udev/rules.d/70-vafa.rules": 0o644,
    "opt/vafa": 0o755,
    "opt/vafa/uninstall-terminal.sh": 0o755,
    "var/lib/vafa": 0o700,
    "vafa-root-actions": 0o644,
}


def run_script(script: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an installer script into ``root`` without a venv, with this Python."""
    env = {**os.environ, "DESTDIR": str(root), "VAFA_PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def actions(root: Path) -> list[str]:
    """Return what the last run would have done as root on a real system."""
    return (root / "vafa-root-actions").read_text().splitlines()


def installed_files(root: Path) -> set[str]:
    """Return every path under ``root``, relative, leaving out bare parent folders."""
    found = {str(p.relative_to(root)) for p in root.rglob("*")}
    parents = {"etc", "etc/systemd", "etc/systemd/system", "etc/udev", "etc/udev/rules.d"}
    return found - parents - {"opt", "var", "var/lib"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Install once into a fresh throwaway root."""
    target = tmp_path / "root"
    run_script(INSTALL, target, "--no-venv")
    return target


def test_every_file_and_mode(root: Path) -> None:
    """GIVEN a fresh root WHEN installed THEN exactly the expected files exist, with their modes."""
    assert installed_files(root) == set(EXPECTED_MODES)
    for path, mode in EXPECTED_MODES.items():
        assert stat.S_IMODE((root / path).stat().st_mode) == mode, path


def test_root_actions_make_the_user_and_give_it_the_data(root: Path) -> None:
    """GIVEN DESTDIR WHEN installed THEN the user, groups and owners are recorded for root."""
    done = actions(root)
    assert any(re.match(r"useradd --system .*--shell /usr/sbin/nologin vafa$", a) for a in done)
    assert "usermod --append --groups dialout,input,lp vafa" in done
    assert "chown -R vafa:vafa /var/lib/vafa" in done
    assert "chgrp vafa /etc/vafa/agent.toml" in done
    assert "bash " + str(REPO / "installer/system-packages.sh") + " terminal" in done
    assert done[-2:] == [
        "systemctl enable vafa-agent.service",
        "systemctl restart vafa-agent.service",
    ]
    assert not any("kiosk" in a for a in done)


def test_config_documents_every_setting_and_loads() -> None:
    """GIVEN the template WHEN read THEN every AgentConfig field is set and explained."""
    template = REPO / "installer" / "agent.toml"
    text = template.read_text()
    for field in dataclasses.fields(AgentConfig):
        assert re.search(rf"^# {field.name}: \S", text, re.M), f"{field.name} not explained"
        assert re.search(rf"^(# )?{field.name} = ", text, re.M), f"{field.name} not listed"
    assert load_config(template) == AgentConfig()


def test_installed_config_is_the_template(root: Path) -> None:
    """GIVEN a fresh install THEN /etc/vafa/agent.toml is the documented template."""
    template = (REPO / "installer" / "agent.toml").read_text()
    assert (root / "etc/vafa/agent.toml").read_text() == template
    assert load_config(root / "etc/vafa/agent.toml").data_dir == Path("/var/lib/vafa")


def test_udev_rules_are_generated_from_the_profiles(root: Path) -> None:
    """GIVEN the profiles WHEN installed THEN the rules are theirs and every line parses."""
    profiles = load_profiles()
    text = (root / "etc/udev/rules.d/70-vafa.rules").read_text()
    assert text == render_rules(profiles)
    rules = parse_udev_rules(text)
    with_ids = [p for p in profiles.values() if p.usb_vid]
    assert with_ids, "no profile has USB ids"
    for profile in with_ids:
        mine = [r for r in rules if f'"vafa/{profile.name}-%n"' in r.get("SYMLINK+=", [])]
        assert mine, profile.name
        for rule in mine:
            assert rule["ATTRS{idVendor}=="] == [f'"{profile.usb_vid}"']
            assert rule["MODE="] == ['"0660"']
            expected = {"usbmisc": "lp", "tty": "dialout", "input": "input"}[
                rule["SUBSYSTEM=="][0].strip('"')
            ]
            assert rule["GROUP="] == [f'"{expected}"']
    # A model whose units share one serial number is never linked by serial.
    no_serial = [p.name for p in with_ids if "no_usb_serial" in p.quirks]
    assert no_serial and not any(f"by-serial/{name}-" in text for name in no_serial)


UDEV_TOKEN = re.compile(r'\s*([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
UDEV_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ATTR", "ATTRS", "ENV", "GROUP", "MODE"}
UDEV_KEYS |= {"SYMLINK", "GOTO", "LABEL", "IMPORT"}


def parse_udev_rules(text: str) -> list[dict[str, list[str]]]:
    """Parse rules lines (udev(7) syntax) into key+operator -> values; fail on anything else."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        rule: dict[str, list[str]] = {}
        position = 0
        while position < len(line):
            match = UDEV_TOKEN.match(line, position)
            assert match, f"line {number}: cannot parse at {line[position:]!r}"
            key, operator, value = match.group(1), match.group(2), match.group(3)
            assert key.split("{")[0] in UDEV_KEYS, f"line {number}: unknown key {key}"
            rule.setdefault(key + operator, []).append(f'"{value}"')
            position = match.end()
        rules.append(rule)
    labels = {r["LABEL="][0] for r in rules if "LABEL=" in r}
    assert all(r["GOTO="][0] in labels for r in rules if "GOTO=" in r), "GOTO without LABEL"
    return rules


def test_the_udev_parser_refuses_a_broken_line() -> None:
    """GIVEN a rule with an unquoted value WHEN parsed THEN the parser fails."""
    with pytest.raises(AssertionError, match="cannot parse"):
        parse_udev_rules('SUBSYSTEM=="tty", GROUP=dialout\n')


def test_units_say_what_the_brief_asks(root: Path) -> None:
    """GIVEN the agent unit THEN it restarts, is watched, runs as vafa and is hardened."""
    unit = (root / "etc/systemd/system/vafa-agent.service").read_text()
    for line in [
        "Type=notify",
        "Restart=on-failure",
        "WatchdogSec=60",
        "User=vafa",
        "ExecStart=/opt/vafa/venv/bin/vafa-agent --config /etc/vafa/agent.toml run",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/vafa",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=",
        "WantedBy=multi-user.target",
    ]:
        assert line in unit.splitlines(), line


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """GIVEN an install with the kiosk WHEN systemd-analyze verifies THEN it finds nothing."""
    root = tmp_path / "root"
    run_script(INSTALL, root, "--no-venv", "--kiosk")
    result = verify_units(root, ["vafa-agent.service", "vafa-kiosk.service"])
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_systemd_analyze_catches_a_broken_unit(root: Path) -> None:
    """GIVEN a unit with a misspelt directive WHEN verified THEN systemd-analyze says so."""
    unit = root / "etc/systemd/system/vafa-agent.service"
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    result = verify_units(root, ["vafa-agent.service"])
    assert "Failed to parse service restart specifier, ignoring: sometimes" in result.stderr


def test_kiosk_adds_its_unit_user_and_packages(tmp_path: Path) -> None:
    """GIVEN --kiosk WHEN installed THEN the kiosk unit, its own user and cage+chromium come too."""
    root = tmp_path / "root"
    run_script(INSTALL, root, "--no-venv", "--kiosk")
    unit = (root / "etc/systemd/system/vafa-kiosk.service").read_text()
    assert "User=vafa-kiosk" in unit and "--kiosk" in unit
    assert "Environment=VAFA_KIOSK_URL=http://127.0.0.1:8300/cashier/" in unit.splitlines()
    # Found under real systemd: ProtectHome= hides /run/user, where cage makes its Wayland
    # socket; a console-booting system never reaches graphical.target.
    assert not any(line.startswith("ProtectHome=") for line in unit.splitlines())
    assert "WantedBy=multi-user.target" in unit.splitlines()
    done = actions(root)
    kiosk_packages = "apt-get install -y --no-install-recommends cage xwayland chromium"
    assert any(a.endswith(kiosk_packages) for a in done)
    assert "usermod --append --groups video,render,input vafa-kiosk" in done
    assert "systemctl enable vafa-agent.service vafa-kiosk.service" in done


def sell(config: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    """Enrol a member and ring up two sales with the real agent; return the ledger check."""
    common = ["--config", str(config), "--data-dir", str(data)]
    assert agent_main([*common, "member", "add", "--mobile", "09123456789", "--name", "مریم"]) == 0
    card = json.loads(capsys.readouterr().out)["card_code"]
    for amount in ("1250000", "800000"):
        assert agent_main([*common, "sale", "--member", card, "--amount", amount, "--json"]) == 0
    capsys.readouterr()
    assert agent_main([*common, "ledger", "verify"]) == 0
    result: dict[str, int] = json.loads(capsys.readouterr().out)
    return result


def count_sales(database: Path) -> int:
    """Count the sales rows in a ledger file."""
    with sqlite3.connect(database) as conn:
        (count,) = conn.execute("SELECT count(*) FROM sales").fetchone()
    return int(count)


def test_upgrade_keeps_sales_and_config_and_verifies_the_ledger(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN an install with sales and an edited config WHEN rerun THEN both survive, checked."""
    config, data = root / "etc/vafa/agent.toml", root / "var/lib/vafa"
    config.write_text(config.read_text().replace('money_unit = "toman"', 'money_unit = "rial"'))
    before = sell(config, data, capsys)
    assert before == {"ok": True, "points_total": 205}
    edited = config.read_text()

    upgrade = run_script(INSTALL, root, "--no-venv")

    assert config.read_text() == edited and load_config(config).money_unit == "rial"
    assert "keeping /etc/vafa/agent.toml" in upgrade.stdout
    assert "vafa-agent ledger verify" in upgrade.stdout
    assert json.loads(upgrade.stdout.splitlines()[-2]) == before
    assert count_sales(data / "ledger.sqlite3") == 2
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_upgrade_refuses_a_ledger_that_does_not_verify(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a kept ledger that is not a database WHEN upgrading THEN the installer fails."""
    (root / "var/lib/vafa/ledger.sqlite3").write_bytes(b"not a database" * 100)
    env = {**os.environ, "DESTDIR": str(root), "VAFA_PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(INSTALL), "--no-venv"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "systemctl restart vafa-agent.service" not in actions(root)


def test_uninstall_keeps_the_data_and_config(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN an install with sales WHEN uninstalled THEN code, units, rules go; data stays."""
    sell(root / "etc/vafa/agent.toml", root / "var/lib/vafa", capsys)
    result = run_script(UNINSTALL, root)
    assert "kept /var/lib/vafa" in result.stdout
    assert installed_files(root) >= {"var/lib/vafa/ledger.sqlite3", "etc/vafa/agent.toml"}
    for gone in [
        "opt/vafa",
        "etc/systemd/system/vafa-agent.service",
        "etc/udev/rules.d/70-vafa.rules",
    ]:
        assert not (root / gone).exists(), gone
    assert count_sales(root / "var/lib/vafa/ledger.sqlite3") == 2
    assert "systemctl disable --now vafa-agent.service" in actions(root)
    assert not any(a.startswith("userdel vafa") and a.endswith(" vafa") for a in actions(root))
    # Installing again brings the terminal back with every sale.
    run_script(INSTALL, root, "--no-venv")
    assert count_sales(root / "var/lib/vafa/ledger.sqlite3") == 2


def test_uninstall_purge_removes_everything(root: Path) -> None:
    """GIVEN an install WHEN uninstalled with --purge THEN data, config and the user go."""
    run_script(UNINSTALL, root, "--purge")
    assert installed_files(root) == {"vafa-root-actions"}
    assert "userdel vafa" in actions(root)


def test_a_real_venv_runs_the_agent(tmp_path: Path) -> None:
    """GIVEN a real install (venv built by pip) WHEN run THEN its vafa-agent works on a ledger."""
    root = tmp_path / "root"
    env = {**os.environ, "DESTDIR": str(root), "VAFA_PYTHON": sys.executable}
    env.pop("VAFA_SKIP_VENV", None)
    result = subprocess.run(
        ["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    agent = root / "opt/vafa/venv/bin/vafa-agent"
    common = [str(agent), "--config", str(root / "etc/vafa/agent.toml")]
    common += ["--data-dir", str(root / "var/lib/vafa")]
    added = subprocess.run(
        [*common, "member", "add", "--mobile", "09351234567", "--name", "علی"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    card = json.loads(added.stdout)["card_code"]
    subprocess.run(
        [*common, "sale", "--member", card, "--amount", "2000000"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    checked = subprocess.run(
        [*common, "ledger", "verify"], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(checked.stdout) == {"ok": True, "points_total": 200}
    # The unit's ExecStart is the real program now, not a stub.
    verified = verify_units(root, ["vafa-agent.service"])
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr

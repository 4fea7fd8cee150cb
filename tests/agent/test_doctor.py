"""`vafa-agent doctor`: each fault a technician meets is found, with its fix."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import pytest

from agent.config import AgentConfig
from agent.doctor import Finding, run_checks
from agent.terminal import Terminal


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


@pytest.fixture
def installed(agent_config: AgentConfig) -> AgentConfig:
    """Return a terminal's configuration as the installer leaves it (folder 0700, ledger)."""
    Terminal(agent_config).close()
    agent_config.data_dir.chmod(0o700)
    return agent_config


def test_an_enrolled_healthy_terminal_passes(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, _client, cloud_app = enrolled
    terminal.config.data_dir.chmod(0o700)
    findings = _by_check(run_checks(terminal.config, transport=httpx.WSGITransport(app=cloud_app)))
    for name in ("data_folder", "pii_key", "ledger", "disk", "font", "terminal_key", "cloud"):
        assert findings[name].level == "ok", findings[name]
    assert findings["clock"].level == "ok"
    assert findings["printer"].level == "warn"  # the test terminal's printer is simulated


def test_a_fresh_machine_is_told_to_enrol(installed: AgentConfig) -> None:
    findings = _by_check(run_checks(installed))
    assert findings["enrolment"].level == "fail"
    assert "vafa-agent enroll" in findings["enrolment"].fix
    assert findings["enrolment"].fa == "پایانه ثبت نشده است"


def test_loose_modes_are_failures_with_the_chmod_that_fixes_them(installed: AgentConfig) -> None:
    installed.key_file.chmod(0o644)
    installed.data_dir.chmod(0o755)
    findings = _by_check(run_checks(installed))
    assert findings["pii_key"].level == findings["data_folder"].level == "fail"
    assert findings["pii_key"].fix == f"chmod 600 {installed.key_file}"
    assert "mode 644" in findings["pii_key"].message


def test_a_damaged_ledger_points_to_restore(installed: AgentConfig) -> None:
    raw = bytearray(installed.database.read_bytes())
    raw[4096 : 4096 + 1024] = b"\xff" * 1024
    installed.database.write_bytes(bytes(raw))
    finding = _by_check(run_checks(installed))["ledger"]
    assert finding.level == "fail" and "vafa-agent restore" in finding.fix


def test_low_disk_missing_devices_and_a_dead_network_printer(installed: AgentConfig) -> None:
    config = dataclasses.replace(
        installed,
        printer_transport="network",
        printer_target="127.0.0.1:9",
        scanner_url="/dev/ttyVAFA-missing",
        drawer_transport="serial",
        drawer_url="/dev/ttyVAFA-drawer-missing",
    )
    findings = _by_check(run_checks(config, min_free=2**62))
    assert findings["drawer"].level == "fail" and "agent.toml" in findings["drawer"].fix
    assert findings["disk"].level == "fail"
    assert findings["printer"].level == "fail" and "IP address" in findings["printer"].fix
    assert findings["scanner"].level == "fail" and "agent.toml" in findings["scanner"].fix


def test_a_revoked_terminal_and_a_wrong_clock_are_reported(enrolled, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cloud.fleet import revoke_terminal

    terminal, client, cloud_app = enrolled
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        revoke_terminal(conn, client.identity.terminal_id)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3 * 86_400)  # the terminal's clock
    findings = _by_check(run_checks(terminal.config, transport=httpx.WSGITransport(app=cloud_app)))
    assert findings["cloud"].level == "fail" and "enroll again" in findings["cloud"].fix
    assert findings["clock"].level == "fail" and "+259" in findings["clock"].message


def test_every_event_node_of_a_keyboard_wedge_scanner_is_checked(
    installed: AgentConfig, tmp_path: Path
) -> None:
    node = tmp_path / "dev/input/by-id/usb-Zebra-event-kbd"
    node.parent.mkdir(parents=True)
    node.touch(mode=0o600)
    config = dataclasses.replace(installed, scanner_url=f"{node},{node.parent}/usb-Zebra-if01")
    finding = _by_check(run_checks(config))["scanner"]
    assert finding.level == "fail" and "usb-Zebra-if01 not found" in finding.message
    config = dataclasses.replace(installed, scanner_url=str(node))
    assert _by_check(run_checks(config))["scanner"].level == "ok"


def test_a_drawer_setting_that_cannot_work_is_reported(installed: AgentConfig) -> None:
    config = dataclasses.replace(installed, drawer_transport="serial")  # no drawer_url
    finding = _by_check(run_checks(config))["drawer"]
    assert finding.level == "fail" and "drawer_url" in finding.fix
    assert _by_check(run_checks(installed))["drawer"].level == "ok"  # on the printer


def test_an_unreachable_cloud_is_reported(installed: AgentConfig) -> None:
    import json

    from agent.identity import IDENTITY_FILE, load_or_create_key

    load_or_create_key(installed.data_dir)
    (installed.data_dir / IDENTITY_FILE).write_text(
        json.dumps(
            {
                "terminal_id": "t" * 32,
                "store_id": "s" * 32,
                "store_name": "x",
                "cloud_url": "http://127.0.0.1:9",
            }
        )
    )
    findings = _by_check(run_checks(installed))
    assert findings["cloud"].level == "fail" and "network" in findings["cloud"].fix
    assert Path(installed.data_dir / "terminal_ed25519.pem").exists()

"""The cloud's deployment files: systemd units, gunicorn settings, the environment example."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.installer.systemd_units import verify_units

CLOUD = Path(__file__).resolve().parents[2] / "installer" / "cloud"
CONF = CLOUD / "gunicorn.conf.py"
UNITS = ["vafa-cloud.service", "vafa-cloud-scheduler.service"]


def test_systemd_analyze_verifies_the_cloud_units(tmp_path: Path) -> None:
    """GIVEN the cloud units in a root WHEN systemd-analyze verifies them THEN it finds nothing."""
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(CLOUD / unit, tmp_path / "etc/systemd/system" / unit)
    result = verify_units(tmp_path, UNITS)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_web_unit_migrates_first_and_reads_the_environment_file() -> None:
    """GIVEN vafa-cloud.service THEN it migrates once before gunicorn and is hardened."""
    lines = (CLOUD / "vafa-cloud.service").read_text().splitlines()
    pre = [line for line in lines if line.startswith("ExecStartPre=")]
    assert pre[-1] == "ExecStartPre=/opt/vafa/venv/bin/vafa-cloud migrate"
    for line in [
        "EnvironmentFile=/etc/vafa/cloud.env",
        "Environment=VAFA_CLOUD_AUTO_MIGRATE=false",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "User=vafa-cloud",
    ]:
        assert line in lines, line


def test_environment_example_names_only_settings_the_cloud_reads() -> None:
    """GIVEN cloud.env.example THEN each VAFA_CLOUD_ setting is one the code or gunicorn reads."""
    text = (CLOUD / "cloud.env.example").read_text()
    names = {
        line.lstrip("# ").split("=")[0]
        for line in text.splitlines()
        if line.lstrip("# ").startswith("VAFA_CLOUD_")
    }
    sources = "".join(p.read_text() for p in (CLOUD.parents[1] / "cloud").rglob("*.py"))
    sources += CONF.read_text()
    for name in names:
        setting = name.removeprefix("VAFA_CLOUD_")
        assert (
            f'"{setting}"' in sources
            or f'"{name}"' in sources
            or setting.startswith("SESSION_COOKIE_")
        ), name
    assert {"VAFA_CLOUD_SECRET_KEY", "VAFA_CLOUD_DATABASE_URL"} <= names


def gunicorn(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start gunicorn with the project's settings on the cloud app."""
    command = [sys.executable, "-m", "gunicorn", "--config", str(CONF), *args]
    return subprocess.Popen(
        [*command, "cloud.app:create_app()"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def cloud_env(tmp_path: Path, port: int) -> dict[str, str]:
    """Return a cloud environment on SQLite in ``tmp_path`` with two workers."""
    (tmp_path / "prometheus").mkdir(exist_ok=True)
    return {
        **os.environ,
        "VAFA_CLOUD_DATABASE_URL": f"sqlite:///{tmp_path / 'cloud.db'}",
        "VAFA_CLOUD_PII_KEY_FILE": str(tmp_path / "pii.key"),
        "VAFA_CLOUD_WORKERS": "2",
        "VAFA_CLOUD_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }


def free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_several_workers_without_a_secret_key_refuse_to_start(tmp_path: Path) -> None:
    """GIVEN two workers and no SECRET_KEY WHEN gunicorn starts THEN it stops and says why."""
    env = cloud_env(tmp_path, free_port())
    env.pop("VAFA_CLOUD_SECRET_KEY", None)
    server = gunicorn(tmp_path, env)
    output, _ = server.communicate(timeout=60)
    assert server.returncode != 0
    assert "set VAFA_CLOUD_SECRET_KEY" in output


def test_gunicorn_serves_the_cloud_with_two_workers(tmp_path: Path) -> None:
    """GIVEN the settings of docs/deploy.md WHEN gunicorn runs THEN the API answers."""
    database = ["--database", f"sqlite:///{tmp_path / 'cloud.db'}"]
    subprocess.run(
        [sys.executable, "-m", "cloud", *database, "--instance", str(tmp_path / "i"), "migrate"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    env = cloud_env(tmp_path, port) | {"VAFA_CLOUD_SECRET_KEY": "a" * 64}
    env["VAFA_CLOUD_AUTO_MIGRATE"] = "false"
    server = gunicorn(tmp_path, env)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, "gunicorn did not answer"
        assert answer.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert output.count("Booting worker with pid") == 2, output

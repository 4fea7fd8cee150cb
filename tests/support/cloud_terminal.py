"""A fresh cloud served on loopback with a terminal enrolled to it over HTTP (tests, benches)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from flask import Flask

from agent.config import AgentConfig
from agent.identity import enroll
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.app import create_app as create_cloud
from cloud.fleet import create_enrolment_code, create_store
from tests.support.live_server import live_server


def cloud_and_terminal(tmp_path: Path, mode: str) -> tuple[Any, Terminal, Path, ExitStack]:
    """Serve a fresh cloud on loopback (texts to a file) and enrol a terminal with it over
    HTTP; return the cloud app, the terminal, the texts' file and the stack that stops it."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    sms_file = tmp_path / "sms.jsonl"
    cloud = create_cloud(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cloud.db'}",
            "PII_KEY_FILE": str(tmp_path / "cloud-keys" / "pii.key"),
            "SECRET_KEY": "test",
            "TESTING": True,
            "SMS_FILE": str(sms_file),
        }
    )
    with cloud.extensions["vafa"].engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, "شعبه ونک"))
    stack = ExitStack()
    url = stack.enter_context(live_server(cloud))
    data_dir = tmp_path / "terminal"
    enroll(url, code, data_dir)
    terminal = Terminal(AgentConfig(data_dir=data_dir, printer_transport="memory", enrol_otp=mode))
    return cloud, terminal, sms_file, stack


def open_terminal(
    cloud_app: Flask, data_dir: Path, store_name: str, store_id: str | None = None
) -> tuple[Terminal, SyncClient]:
    """Enrol a terminal of a new store (or of the store ``store_id``, another till) with the
    cloud app in this process (WSGI transport)."""
    engine = cloud_app.extensions["vafa"].engine
    with engine.begin() as conn:
        code = create_enrolment_code(conn, store_id or create_store(conn, store_name))
    terminal = Terminal(AgentConfig(data_dir=data_dir, printer_transport="memory"), store_name)
    transport = httpx.WSGITransport(app=cloud_app)
    identity = enroll("http://cloud.test", code, data_dir, transport=transport)
    return terminal, SyncClient(identity, transport=transport)

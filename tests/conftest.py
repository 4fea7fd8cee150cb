"""Fixtures every test may use; real PostgreSQL and Chromium come from tests/support."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

pytest_plugins = ["tests.support.postgres", "tests.support.browser"]


@pytest.fixture
def agent_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Return an agent configuration on a fresh data folder with an in-memory printer."""
    from agent.config import AgentConfig

    return AgentConfig(data_dir=tmp_path / "terminal", printer_transport="memory")


@pytest.fixture
def terminal(agent_config):  # type: ignore[no-untyped-def]
    """Yield a terminal on a real SQLite file in a temp folder."""
    from agent.terminal import Terminal

    term = Terminal(agent_config, store_name="فروشگاه آزمایشی")
    yield term
    term.close()


@pytest.fixture
def cloud_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Return the cloud app on a fresh SQLite file."""
    from cloud.app import create_app

    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cloud.db'}",
            "PII_KEY_FILE": str(tmp_path / "cloud-keys" / "pii.key"),
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )


@pytest.fixture
def enrolled(terminal, cloud_app, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Yield (terminal, sync client, cloud app): a terminal enrolled with an in-process cloud.

    The client talks real HTTP semantics through httpx's WSGI transport to the real app.
    """
    import httpx

    from agent.identity import enroll
    from agent.offline_queue.sync import SyncClient
    from cloud.fleet import create_enrolment_code, create_store

    engine = cloud_app.extensions["vafa"].engine
    with engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, "فروشگاه آزمایشی"))
    transport = httpx.WSGITransport(app=cloud_app)
    identity = enroll("http://cloud.test", code, terminal.config.data_dir, transport=transport)
    client = SyncClient(identity, transport=transport)
    yield terminal, client, cloud_app
    client.close()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url_any(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cloud-any.db'}"
    return str(request.getfixturevalue("postgres_engine_url"))


@pytest.fixture
def cloud_app_any(database_url_any: str, tmp_path: Path) -> Iterator[Flask]:
    """Yield the cloud app on a fresh SQLite file or a fresh PostgreSQL database."""
    from cloud.app import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url_any,
            "PII_KEY_FILE": str(tmp_path / "cloud-any-keys" / "pii.key"),
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )
    yield app
    app.extensions["vafa"].engine.dispose()

"""Fixtures every test may use; real PostgreSQL and Chromium come from tests/support."""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an SQLite file brought to the newest cloud migration, once a session.

    Running the migrations costs a quarter of a second per cloud; copying the file does not.
    """
    from cloud.storage import make_engine, migrate

    path = tmp_path_factory.mktemp("migrated-cloud") / "cloud.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    assert not path.with_name("cloud.db-wal").exists()
    return path


def migrated_sqlite_url(template: Path, path: Path) -> str:
    """Copy the migrated ``template`` to ``path``; return its URL, a fresh cloud database."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def cloud_app(tmp_path: Path, migrated_sqlite_template: Path):  # type: ignore[no-untyped-def]
    """Return the cloud app on a fresh SQLite file (a copy of the migrated template: the
    app's own migrate() at start-up then finds nothing to do)."""
    from cloud.app import create_app

    return create_app(
        {
            "DATABASE_URL": migrated_sqlite_url(migrated_sqlite_template, tmp_path / "cloud.db"),
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


@pytest.fixture(params=BACKENDS)
def migrated_database_url_any(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file or a fresh PostgreSQL database, either already at
    the newest cloud migration (a copy of a template migrated once a session)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("migrated_sqlite_template")
        return migrated_sqlite_url(template, tmp_path / "cloud-any.db")
    return str(request.getfixturevalue("postgres_migrated_url"))


@pytest.fixture
def cloud_app_any(migrated_database_url_any: str, tmp_path: Path) -> Iterator[Flask]:
    """Yield the cloud app on a fresh SQLite file or a fresh PostgreSQL database."""
    from cloud.app import create_app

    app = create_app(
        {
            "DATABASE_URL": migrated_database_url_any,
            "PII_KEY_FILE": str(tmp_path / "cloud-any-keys" / "pii.key"),
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )
    yield app
    app.extensions["vafa"].engine.dispose()


# The longest tests (tens of seconds to minutes each, measured with --durations), longest
# first. Under pytest-xdist they start first, one worker each, and the short tests fill in
# around them; in file order they came last and one worker ran them while the other idled.
LONGEST_FIRST = (
    "tests/test_sync_chaos.py::",
    "tests/installer/test_install_terminal.py::test_a_real_venv_runs_the_agent",
    "tests/test_reliability_harness.py::",
    "tests/cloud/test_api_fuzz.py::",
    "tests/test_end_to_end.py::",
    "tests/agent/test_crash_kill9.py::",
    "tests/installer/test_cloud_deploy.py::",
    "tests/cloud/scenarios/test_scenario_triggers.py::test_cli_preview_json",
    "tests/agent/test_ledger_stateful.py::",
    "tests/installer/test_nginx_proxy.py::",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a pytest-xdist worker, move the longest tests to the front (same order in every
    worker, as xdist requires); a run without workers keeps file order."""
    if not hasattr(config, "workerinput"):
        return

    def rank(item: pytest.Item) -> int:
        found = (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix))
        return next(found, len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: file order within each rank

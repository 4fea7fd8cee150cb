"""A real, throwaway PostgreSQL cluster for tests and benchmarks.

pytest fixtures:
    postgres_url         (session)  URL of database ``vafa_test`` on a fresh cluster
    postgres_engine_url  (function) URL of a brand-new empty database, dropped afterwards
    postgres_migrated_url (function) URL of a brand-new database already at the newest cloud
                         migration (a copy of a template migrated once a session), dropped
                         afterwards

Under pytest-xdist every worker is its own session, so each starts its own cluster.

Outside pytest, ``start_postgres(tmp_dir)`` returns ``(url, stop)``.

The server binaries come from Debian's ``postgresql`` package
(``bash installer/system-packages.sh test``). PostgreSQL refuses to run as root, so under
root the cluster belongs to the ``postgres`` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

USER = "vafa"
DATABASE = "vafa_test"
MIGRATED_TEMPLATE = "vafa_migrated_template"
DEBIAN_PG_LIB = Path("/usr/lib/postgresql")
INSTALL_HINT = "run `bash installer/system-packages.sh test` to install Debian's postgresql"

# Durability is worthless for a cluster that lives for one test session.
SERVER_SETTINGS: dict[str, str | int] = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
PG_CTL_FAST_STOP = ["--mode=fast", "--wait", "--silent"]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found or started."""


def find_bin_dir() -> Path:
    """Return the directory of the newest installed PostgreSQL server binaries."""
    versions = sorted(
        DEBIAN_PG_LIB.glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}"
    )


def start_postgres(tmp_dir: Path) -> tuple[str, Callable[[], None]]:
    """Start a new cluster in ``tmp_dir`` and return its ``vafa_test`` URL and a stop function.

    Under root, ``tmp_dir`` is handed to the ``postgres`` user, so every parent must be
    searchable by it (``tempfile.mkdtemp()`` is; pytest's ``tmp_path`` is not).
    """
    bin_dir = find_bin_dir()
    owner = _cluster_owner()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(tmp_dir, owner.pw_uid, owner.pw_gid)
    data_dir = tmp_dir / "data"
    initdb = [f"--pgdata={data_dir}", f"--username={USER}", "--auth=trust", "--encoding=UTF8"]
    _run(owner, tmp_dir, bin_dir / "initdb", *initdb, "--locale=C.UTF-8", "--no-sync")
    port = _start_server(owner, bin_dir, tmp_dir, data_dir)

    def stop() -> None:
        _run(owner, tmp_dir, bin_dir / "pg_ctl", "stop", f"--pgdata={data_dir}", *PG_CTL_FAST_STOP)

    try:
        admin_execute(port, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    except psycopg.Error:
        stop()
        raise
    return database_url(port, DATABASE), stop


def database_url(port: int, database: str) -> str:
    """Return the SQLAlchemy URL of ``database`` on the cluster listening on ``port``."""
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{database}"


def admin_execute(port: int, statement: sql.Composed) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    conninfo = f"host=127.0.0.1 port={port} user={USER} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement)


def _cluster_owner() -> pwd.struct_passwd | None:
    """Return the system user to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            f"running as root but there is no `postgres` system user: {INSTALL_HINT}"
        ) from None


def _start_server(
    owner: pwd.struct_passwd | None, bin_dir: Path, tmp_dir: Path, data_dir: Path
) -> int:
    """Start the server on a free loopback port, retrying if another process took the port."""
    log = tmp_dir / "server.log"
    start: list[str | Path] = [bin_dir / "pg_ctl", "start", f"--pgdata={data_dir}", f"--log={log}"]
    failure = PostgresUnavailable("PostgreSQL did not start")
    for _attempt in range(3):
        port = _free_port()
        settings = {**SERVER_SETTINGS, "port": port, "unix_socket_directories": f"'{tmp_dir}'"}
        with (data_dir / "postgresql.auto.conf").open("w") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        try:
            _run(owner, tmp_dir, *start, "--wait", "--silent")
            return port
        except PostgresUnavailable as exc:
            failure = exc
    log_tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise PostgresUnavailable(f"PostgreSQL did not start: {failure}\n{log_tail}")


def _run(owner: pwd.struct_passwd | None, cwd: Path, *command: str | Path) -> None:
    """Run a PostgreSQL tool as the cluster owner; fail with its output."""
    done = subprocess.run(
        [*_as(owner), *map(str, command)], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PostgresUnavailable(f"{Path(command[0]).name} failed:\n{done.stdout}{done.stderr}")


def _as(owner: pwd.struct_passwd | None) -> list[str]:
    return [] if owner is None else ["runuser", "-u", owner.pw_name, "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_or_fail(tmp_dir: Path) -> tuple[str, Callable[[], None]]:
    try:
        return start_postgres(tmp_dir)
    except PostgresUnavailable as exc:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        message = str(exc)
    # Outside the except block, so the report shows the message alone, not a chained trace.
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Yield the URL of ``vafa_test`` on a throwaway cluster that lives for the session."""
    # Not pytest's tmp_path: its parent is mode 0700, unreachable for the postgres user.
    tmp_dir = Path(tempfile.mkdtemp(prefix="vafa-pg-"))
    url, stop = _start_or_fail(tmp_dir)
    try:
        yield url
    finally:
        stop()
        shutil.rmtree(tmp_dir, ignore_errors=True)


@contextmanager
def _throwaway_database(postgres_url: str, template: str | None = None) -> Iterator[str]:
    """Create a database of its own (empty, or a copy of ``template``); drop it afterwards."""
    port = make_url(postgres_url).port
    assert port is not None
    name = f"test_{uuid.uuid4().hex}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    admin_execute(port, create)
    try:
        yield database_url(port, name)
    finally:
        # FORCE: a test that forgot to dispose its engine must not break the next one.
        admin_execute(port, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_engine_url(postgres_url: str) -> Iterator[str]:
    """Yield the URL of a new empty database of its own for one test; drop it afterwards."""
    with _throwaway_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_migrated_template(postgres_url: str) -> str:
    """Return the name of a database brought to the newest cloud migration, once a session.

    Migrating PostgreSQL takes about two seconds; copying this template takes a tenth of that.
    """
    from cloud.storage import make_engine, migrate

    port = make_url(postgres_url).port
    assert port is not None
    admin_execute(port, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(MIGRATED_TEMPLATE)))
    engine = make_engine(database_url(port, MIGRATED_TEMPLATE))
    try:
        migrate(engine)
    finally:
        engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the template without sessions
    return MIGRATED_TEMPLATE


@pytest.fixture
def postgres_migrated_url(postgres_url: str, postgres_migrated_template: str) -> Iterator[str]:
    """Yield the URL of a new database of its own at the newest cloud migration; drop it
    afterwards. The cloud's own migrate() at start-up then finds nothing to do."""
    with _throwaway_database(postgres_url, postgres_migrated_template) as url:
        yield url

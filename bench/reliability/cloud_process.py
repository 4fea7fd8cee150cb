"""A real cloud in a process of its own on loopback, so killing a terminal never touches it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cloud_command(folder: Path, *args: str) -> dict[str, object]:
    """Run one ``vafa-cloud`` command on the instance folder and return its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "cloud", "--instance", str(folder), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@contextmanager
def running_cloud(folder: Path) -> Iterator[str]:
    """Serve ``vafa-cloud`` (waitress, SQLite in ``folder``) and yield its base URL."""
    port = free_port()
    log = (folder / "cloud.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "cloud", "--instance", str(folder), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"the cloud did not start; see {folder / 'cloud.log'}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()

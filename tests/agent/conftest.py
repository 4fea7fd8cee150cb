"""Fixtures of the terminal's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cloud_terminal import open_terminal


@pytest.fixture
def two_stores(cloud_app, tmp_path: Path) -> Iterator[tuple]:  # type: ignore[type-arg]
    """Yield ((terminal, client) of store A, (terminal, client) of store B) on one cloud."""
    a = open_terminal(cloud_app, tmp_path / "a", "شعبه ونک")
    b = open_terminal(cloud_app, tmp_path / "b", "شعبه تجریش")
    yield a, b
    for terminal, client in (a, b):
        client.close()
        terminal.close()

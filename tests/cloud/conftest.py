"""Fixtures of the cloud tests: the app on either back-end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from cloud.app import create_app

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def cloud_app_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """Yield the cloud app on a fresh SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cloud.db'}"
    else:
        url = request.getfixturevalue("postgres_engine_url")
    app = create_app(
        {
            "DATABASE_URL": url,
            "PII_KEY_FILE": str(tmp_path / "cloud-keys" / "pii.key"),
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )
    yield app
    app.extensions["vafa"].engine.dispose()

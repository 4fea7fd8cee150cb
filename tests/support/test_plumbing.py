"""The test plumbing itself works: a real PostgreSQL, a real Chromium, a real HTTP server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page

from tests.support.live_server import live_server

PERSIAN_PAGE = """<!doctype html>
<html lang="fa" dir="rtl">
<head><meta charset="utf-8"><title>وفا</title></head>
<body style="font-size: 32px">
<h1>باشگاه مشتریان وفا</h1>
<p id="points">امتیاز شما: ۱۲۳</p>
</body>
</html>
"""


@pytest.mark.postgres
def test_postgres_runs_transactions(postgres_engine_url: str) -> None:
    """GIVEN a fresh database WHEN rows are written in a transaction THEN they are read back."""
    engine = sa.create_engine(postgres_engine_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE member (id serial PRIMARY KEY, name text)"))
            conn.execute(
                sa.text("INSERT INTO member (name) VALUES (:name)"),
                [{"name": "مریم"}, {"name": "رضا"}],
            )
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version()")).scalar_one()
            names = conn.execute(sa.text("SELECT name FROM member ORDER BY id")).scalars().all()
    finally:
        engine.dispose()
    assert "PostgreSQL" in version
    assert names == ["مریم", "رضا"]


@pytest.mark.postgres
def test_postgres_databases_are_isolated(postgres_url: str, postgres_engine_url: str) -> None:
    """GIVEN a table in one test database THEN another database does not see it."""
    first = sa.create_engine(postgres_engine_url)
    second = sa.create_engine(postgres_url)
    try:
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_here (id int)"))
        assert sa.inspect(first).has_table("only_here")
        assert not sa.inspect(second).has_table("only_here")
        assert postgres_engine_url != postgres_url
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.browser
def test_browser_renders_persian_rtl(page: Page, shot: Callable[[str], Path]) -> None:
    """GIVEN a Persian page served over HTTP WHEN Chromium opens it THEN it reads right-to-left."""
    app = Flask(__name__)
    app.add_url_rule("/", "home", lambda: PERSIAN_PAGE)
    with live_server(app) as base_url:
        page.goto(base_url + "/")
        assert page.locator("h1").inner_text() == "باشگاه مشتریان وفا"
        assert "۱۲۳" in page.locator("#points").inner_text()
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tehran"
        path = shot("home")
    assert path.stat().st_size > 0

"""Web security of HQ's pages and the owner page: CSRF, login limits, cookies, PII on disk."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

HQ_USER, HQ_PASSWORD = "reza.hq", "ستاد-امن-۱۴۰۵"
OWNER_PASSWORD = "مالک-امن-۱۴۰۵"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
EVIL_ORIGIN = {"Origin": "https://evil.example", "Referer": "https://evil.example/trap.html"}


@dataclass
class Site:
    """One of the two web apps, seen from a browser that knows only its URLs."""

    client: FlaskClient
    login_path: str
    home_path: str
    logout_path: str
    credentials: Callable[[str], dict[str, str]]
    password: str

    def csrf(self) -> str:
        """Open the login page and return the CSRF token it carries."""
        page = self.client.get(self.login_path)
        assert page.status_code == 200
        match = CSRF_FIELD.search(page.get_data(as_text=True))
        assert match, "login page has no CSRF field"
        return match.group(1)

    def post_login(self, password: str, csrf: str | None) -> TestResponse:
        """Post the login form with this password and CSRF token (None: leave it out)."""
        form = self.credentials(password)
        if csrf is not None:
            form["csrf"] = csrf
        return self.client.post(self.login_path, data=form)

    def log_in(self) -> None:
        """Sign in the right way."""
        response = self.post_login(self.password, self.csrf())
        assert response.status_code == 302
        assert self.signed_in()

    def signed_in(self) -> bool:
        """Tell whether the home page opens rather than sending us to the login page."""
        response = self.client.get(self.home_path)
        if response.status_code == 302:
            assert self.login_path in response.headers["Location"]
            return False
        assert response.status_code == 200
        return True


@pytest.fixture(params=["hq", "owner"])
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """Yield HQ's pages (with one admin) or a terminal's owner page (with its password)."""
    if request.param == "hq":
        from cloud.hq import create_user

        cloud_app = request.getfixturevalue("cloud_app")
        with cloud_app.extensions["vafa"].engine.begin() as conn:
            create_user(conn, HQ_USER, HQ_PASSWORD, "admin")
        with cloud_app.test_client() as client:
            yield Site(
                client,
                "/hq/login",
                "/hq/",
                "/hq/logout",
                lambda pw: {"username": HQ_USER, "password": pw},
                HQ_PASSWORD,
            )
    else:
        from agent.web.app import create_app, set_owner_password

        terminal = request.getfixturevalue("terminal")
        set_owner_password(terminal, OWNER_PASSWORD)
        with create_app(terminal).test_client() as client:
            yield Site(
                client, "/login", "/", "/logout", lambda pw: {"password": pw}, OWNER_PASSWORD
            )


def test_home_needs_a_login(site: Site) -> None:
    """GIVEN no session WHEN the dashboard is asked for THEN it redirects to the login page."""
    response = site.client.get(site.home_path)
    assert response.status_code == 302
    assert response.headers["Location"].split("?")[0].endswith(site.login_path)


def test_login_without_csrf_token_is_refused(site: Site) -> None:
    """GIVEN the right password but no CSRF token WHEN posted THEN 400 and no session."""
    site.csrf()  # the session exists and has a token; the form just does not carry it
    response = site.post_login(site.password, csrf=None)
    assert response.status_code == 400
    assert not site.signed_in()


def test_login_with_wrong_csrf_token_is_refused(site: Site) -> None:
    """GIVEN the right password and a forged CSRF token WHEN posted THEN 400 and no session."""
    real = site.csrf()
    response = site.post_login(site.password, csrf=real[::-1])
    assert response.status_code == 400
    assert not site.signed_in()


def test_login_from_a_fresh_browser_without_session_is_refused(site: Site) -> None:
    """GIVEN a cross-site form that never loaded the login page THEN 400 even with a token."""
    response = site.client.post(
        site.login_path, data={**site.credentials(site.password), "csrf": "x" * 43}
    )
    assert response.status_code == 400
    assert not site.signed_in()


def test_cross_site_logout_is_refused(site: Site) -> None:
    """GIVEN a signed-in user WHEN another site posts to logout without the token THEN 400."""
    site.log_in()
    response = site.client.post(site.logout_path, headers=EVIL_ORIGIN)
    assert response.status_code == 400
    response = site.client.post(site.logout_path, data={"csrf": "guess"}, headers=EVIL_ORIGIN)
    assert response.status_code == 400
    assert site.signed_in()


def test_logout_with_token_ends_the_session(site: Site) -> None:
    """GIVEN a signed-in user WHEN they log out with the page's token THEN the session ends."""
    site.log_in()
    page = site.client.get(site.home_path).get_data(as_text=True)
    match = CSRF_FIELD.search(page)
    assert match, "dashboard has no logout form with a CSRF token"
    response = site.client.post(site.logout_path, data={"csrf": match.group(1)})
    assert response.status_code == 302
    assert not site.signed_in()


def test_password_storm_is_stopped(site: Site) -> None:
    """GIVEN five wrong passwords WHEN the sixth try has the right one THEN 429, no session."""
    for attempt in range(5):
        response = site.post_login(f"guess-{attempt}-wrong", site.csrf())
        assert response.status_code == 200, f"attempt {attempt + 1}"
        assert 'role="alert"' in response.get_data(as_text=True)
    response = site.post_login(site.password, site.csrf())
    assert response.status_code == 429
    assert "تلاش‌های ناموفق زیاد بود" in response.get_data(as_text=True)
    assert not site.signed_in()


def test_session_cookie_is_httponly_and_samesite(site: Site) -> None:
    """GIVEN a login THEN its session cookie is HttpOnly and SameSite (Lax or Strict)."""
    site.client.get(site.login_path)
    response = site.post_login(site.password, site.csrf())
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "a login must set the session cookie"
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookies[-1].split(";")}
    assert "httponly" in flags
    assert flags.get("samesite", "").lower() in {"samesite=lax", "samesite=strict"}


# --- PII at rest -------------------------------------------------------------------------

MOBILE_TYPED = "۰۹۱۷-۸۶۵-۴۳۲۱"
MOBILE_FORMS = (MOBILE_TYPED, "۰۹۱۷۸۶۵۴۳۲۱", "+989178654321", "09178654321", "9178654321")
NAME_TYPED = "كيانا نيك‌نام"  # typed with Arabic kaf and yeh; stored as Persian letters
NAME_FORMS = (NAME_TYPED, "کیانا نیک‌نام", "کیانا", "نیک‌نام")


def sqlite_files(database: Path) -> list[Path]:
    """Return a SQLite file and its -wal (and -shm) companions that exist."""
    paths = [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))]
    return [path for path in paths if path.exists()]


def leaks(paths: list[Path], needles: tuple[str, ...]) -> list[str]:
    """Return 'file: needle' for every UTF-8 needle found in the raw bytes of the files."""
    found = []
    for path in paths:
        raw = path.read_bytes()
        found += [f"{path.name}: {n}" for n in needles if n.encode("utf-8") in raw]
    return found


@pytest.fixture
def synced_member(enrolled, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Return (terminal, cloud db path, member) after she joined, bought twice and synced."""
    terminal, client, cloud_app = enrolled
    member = terminal.flow.enrol(MOBILE_TYPED, NAME_TYPED, True)
    assert member.mobile == "+989178654321" and member.name == "کیانا نیک‌نام"
    terminal.flow.sale(member.id, 5_600_000)
    terminal.flow.sale(member.id, 1_200_000, redeem_points=100)
    client.drain(terminal.conn, terminal.vault)
    assert (
        terminal.conn.execute("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL").fetchone()[0]
        == 0
    )
    return terminal, cloud_app, tmp_path / "cloud.db", member


def test_no_pii_in_plain_text_on_the_terminal(synced_member) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a member enrolled, buying and synced WHEN the terminal's SQLite files are read raw
    THEN neither her mobile (in any form) nor her name is found, before or after a checkpoint."""
    terminal, _cloud_app, _cloud_db, member = synced_member
    files = sqlite_files(terminal.config.database)
    assert Path(f"{terminal.config.database}-wal") in files
    assert leaks(files, (member.card_code,)), "the grep must see what is stored in clear"
    assert leaks(files, MOBILE_FORMS + NAME_FORMS) == []
    terminal.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert leaks(sqlite_files(terminal.config.database), MOBILE_FORMS + NAME_FORMS) == []


def test_no_pii_in_plain_text_in_the_cloud(synced_member) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a member synced to the cloud WHEN the cloud's SQLite files are read raw
    THEN neither her mobile (in any form) nor her name is found, before or after a checkpoint."""
    _terminal, cloud_app, cloud_db, _member = synced_member
    files = sqlite_files(cloud_db)
    assert files and cloud_db in files
    assert leaks(files, ("فروشگاه آزمایشی",)), "the grep must see what is stored in clear"
    assert leaks(files, MOBILE_FORMS + NAME_FORMS) == []
    cloud_app.extensions["vafa"].engine.dispose()  # the last connection checkpoints the WAL
    assert leaks(sqlite_files(cloud_db), MOBILE_FORMS + NAME_FORMS) == []

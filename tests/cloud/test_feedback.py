"""The feedback page behind the receipt's QR: signed by the terminal, one answer per sale."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.identity import load_identity
from cloud.scenarios import store
from cloud.scenarios.library import LIBRARY
from cloud.sms.providers import FileProvider
from cloud.tables import coupons, feedback
from common.persian import TEHRAN, now_tehran
from common.tokens import feedback_link


@pytest.fixture
def sold(enrolled, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Return (cloud app, receipt link, member id) for a sale synced to the cloud."""
    terminal, client, app = enrolled
    app.config["SMS_FILE"] = str(tmp_path / "sms.jsonl")
    terminal.config = terminal.config.__class__(
        **{**terminal.config.__dict__, "feedback_base_url": "http://cloud.test"}
    )
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    sale = terminal.flow.sale(member.id, 1_000_000)
    client.drain(terminal.conn, terminal.vault)
    link = terminal.receipt_data(sale).feedback_url
    assert link.startswith("http://cloud.test/f/VF1.")
    return app, link.removeprefix("http://cloud.test"), member.id


def _rows(app) -> list:  # type: ignore[no-untyped-def, type-arg]
    with app.extensions["vafa"].engine.connect() as conn:
        return list(conn.execute(sa.select(feedback)))


def test_a_member_answers_once_and_the_comment_is_sealed(sold) -> None:  # type: ignore[no-untyped-def]
    app, path, member_id = sold
    web = app.test_client()
    form = web.get(path)
    assert form.status_code == 200 and "پیشنهاد" in form.get_data(as_text=True)
    done = web.post(path, data={"nps": "9", "comment": "فروشنده خیلی مهربان بود"})
    assert done.status_code == 200 and "سپاسگزاریم" in done.get_data(as_text=True)
    (row,) = _rows(app)
    assert (row.nps, row.member_id) == (9, member_id)
    assert "مهربان".encode() not in row.comment_enc  # sealed, not stored as typed
    vault = app.extensions["vafa"].vault
    assert vault.decrypt(row.id, row.comment_enc) == "فروشنده خیلی مهربان بود"
    again = web.post(path, data={"nps": "2"})
    assert "پیش‌تر ثبت شده" in again.get_data(as_text=True)
    assert len(_rows(app)) == 1


@pytest.mark.parametrize(("nps", "status"), [("11", 400), ("-1", 400), ("", 400), ("نه", 400)])
def test_a_bad_score_is_refused_in_persian_and_nothing_stored(sold, nps: str, status: int) -> None:  # type: ignore[no-untyped-def]
    app, path, _ = sold
    answer = app.test_client().post(path, data={"nps": nps})
    assert answer.status_code == status
    assert "۰ تا ۱۰" in answer.get_data(as_text=True)
    assert _rows(app) == []


def test_forged_expired_and_mangled_links_are_refused(sold) -> None:  # type: ignore[no-untyped-def]
    app, path, _ = sold
    token = path.removeprefix("/f/")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    forged = feedback_link("", Ed25519PrivateKey.generate(), claims["t"], claims["s"], now_tehran())
    web = app.test_client()
    for bad in (forged, "/f/VF1.x.y", path[:-3] + "AAA"):
        answer = web.get(bad if bad.startswith("/f/") else "/f/" + bad)
        assert answer.status_code == 404 and "معتبر نیست" in answer.get_data(as_text=True)
    stale = now_tehran() - dt.timedelta(days=31)
    identity = load_identity(Path(app.config["SMS_FILE"]).parent / "terminal")  # agent_config
    old = feedback_link("", identity.private_key, claims["t"], claims["s"], stale)
    answer = web.get(old)
    assert answer.status_code == 404 and "مهلت" in answer.get_data(as_text=True)


def test_a_low_score_runs_the_apology_at_once(sold) -> None:  # type: ignore[no-untyped-def]
    app, path, member_id = sold
    with app.extensions["vafa"].engine.begin() as conn:
        store.save(conn, "apology", LIBRARY["apology"])
    noon = dt.datetime.now(TEHRAN).replace(hour=12)
    in_window = 8 <= dt.datetime.now(TEHRAN).hour < 21
    app.test_client().post(path, data={"nps": "3", "comment": "صف خیلی طولانی بود"})
    with app.extensions["vafa"].engine.connect() as conn:
        coupon = conn.execute(sa.select(coupons).where(coupons.c.member_id == member_id)).first()
    sms = Path(app.config["SMS_FILE"])
    if in_window:  # the apology goes out now, with its coupon
        assert coupon is not None and coupon.code in sms.read_text()
    else:  # outside the sending window it waits, and nothing is half done
        assert coupon is None and not sms.exists()
        done = store.run_triggered(
            app.extensions["vafa"].engine,
            app.extensions["vafa"].vault,
            FileProvider(sms),
            noon,
            "feedback",
            member_id,
        )
        assert done == {"apology": "acted"} and sms.exists()

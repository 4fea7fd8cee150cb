"""One-time codes at enrolment, cloud side: texted, verified once, limited, claimed at ingest.

Each test runs on SQLite and on PostgreSQL through the signed API of the real app; the
SMS goes to the file provider (the demo's phone) or to a local Kavenegar-speaking server.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.test import TestResponse

from cloud.fleet import create_enrolment_code, create_store
from cloud.mobile_codes import CodeRefused, Limits, is_verified, verify
from cloud.sms.text import OPT_OUT_LINE, parts
from cloud.tables import members, mobile_codes
from common.persian import to_persian_digits
from common.protocol import canonical_json, new_id
from common.signing import public_key_b64, sign_request
from tests.cloud.test_openapi import check_against_spec, enrolment_event, spec_of
from tests.support.live_server import live_server
from tests.support.sms_servers import Phone, kavenegar_app

MOBILE, E164 = "0912 345 6789", "+989123456789"
MOBILE_FORMS = ("09123456789", "9123456789", "+989123456789", "3456789")
SEND, VERIFY = "/api/v1/mobile-codes", "/api/v1/mobile-codes/verify"


@dataclass
class Till:
    """One enrolled terminal of a store, signing its own requests to the app."""

    app: Flask
    terminal_id: str
    key: Ed25519PrivateKey
    sms_file: Path

    def post(self, path: str, body: Any) -> TestResponse:
        """POST a body signed by this terminal."""
        raw = canonical_json(body)
        headers = sign_request(self.key, self.terminal_id, "POST", path, raw)
        return self.app.test_client().post(
            path, data=raw, headers={**headers, "Content-Type": "application/json"}
        )

    def texts(self) -> list[dict[str, str]]:
        """Return the SMS the file provider wrote, oldest first."""
        if not self.sms_file.exists():
            return []
        return [json.loads(line) for line in self.sms_file.read_text("utf-8").splitlines()]

    def code_sent(self) -> str:
        """Return the code in the latest SMS."""
        found = re.search(r"\b(\d{6})\b", self.texts()[-1]["text"])
        assert found, self.texts()[-1]
        return found.group(1)

    def rows(self) -> list[sa.Row[Any]]:
        """Return the stored codes, oldest first."""
        with self.app.extensions["vafa"].engine.connect() as conn:
            return list(conn.execute(sa.select(mobile_codes).order_by(mobile_codes.c.created_at)))


def enrol_till(app: Flask, store: str = "شعبه ونک") -> Till:
    """Enrol a terminal with a fresh key through the API."""
    with app.extensions["vafa"].engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, store))
    key = Ed25519PrivateKey.generate()
    answer = app.test_client().post(
        "/api/v1/terminals/enroll", json={"code": code, "public_key": public_key_b64(key)}
    )
    assert answer.status_code == 200, answer.get_json()
    return Till(app, answer.get_json()["terminal_id"], key, Path(app.config["SMS_FILE"]))


@pytest.fixture
def till(cloud_app_any: Flask, tmp_path: Path) -> Till:
    """An enrolled terminal on either back-end; texts go to a file in the test's folder."""
    cloud_app_any.config["SMS_FILE"] = str(tmp_path / "sms-outbox.jsonl")
    return enrol_till(cloud_app_any)


def test_a_code_is_texted_as_a_service_sms_and_only_its_hmac_is_kept(till: Till) -> None:
    """GIVEN a terminal WHEN it asks a code for a mobile THEN one single-part SMS without the
    opt-out line goes to the E.164 number, and the row holds neither the code nor the mobile."""
    sent = till.post(SEND, {"mobile": MOBILE})
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json() == {"expires_in_s": 300, "resend_after_s": 60}
    check_against_spec(spec_of(till.app), "POST", SEND, sent)
    (text,) = till.texts()
    assert text["to"] == E164
    assert "کد عضویت" in text["text"] and "۵ دقیقه" in text["text"]
    assert OPT_OUT_LINE not in text["text"] and parts(text["text"]) == 1
    code = till.code_sent()
    (row,) = till.rows()
    assert row.attempts == 0 and row.verified_at is None and row.member_id is None
    stored = b"".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row
    )
    for secret in (code, "9123456789", E164):
        assert secret.encode() not in stored


def test_the_right_code_verifies_once(till: Till) -> None:
    """GIVEN a code texted WHEN the terminal sends it back (Persian digits welcome) THEN the
    answer names the code's row; WHEN it is sent again THEN it is refused as used."""
    till.post(SEND, {"mobile": MOBILE})
    code = till.code_sent()
    verified = till.post(VERIFY, {"mobile": "09123456789", "code": to_persian_digits(code)})
    assert verified.status_code == 200, verified.get_json()
    check_against_spec(spec_of(till.app), "POST", VERIFY, verified)
    assert verified.get_json()["check_id"] == till.rows()[0].id
    again = till.post(VERIFY, {"mobile": MOBILE, "code": code})
    assert again.status_code == 422
    assert again.get_json()["error"] == "code_used"
    assert "قبلاً" in again.get_json()["message_fa"]
    check_against_spec(spec_of(till.app), "POST", VERIFY, again)


def test_wrong_codes_count_and_the_fifth_kills_the_code(till: Till) -> None:
    """GIVEN a code WHEN four wrong codes are tried THEN each is refused telling the tries
    left; the fifth wrong one ends the code, and then even the right code is refused."""
    till.post(SEND, {"mobile": MOBILE})
    code = till.code_sent()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        answer = till.post(VERIFY, {"mobile": MOBILE, "code": wrong})
        assert answer.status_code == 422
        assert answer.get_json()["error"] == "wrong_code"
        assert to_persian_digits(str(left)) in answer.get_json()["message_fa"]
    assert till.rows()[0].attempts == 4
    fifth = till.post(VERIFY, {"mobile": MOBILE, "code": wrong})
    assert fifth.get_json()["error"] == "too_many_attempts"
    right = till.post(VERIFY, {"mobile": MOBILE, "code": code})
    assert right.status_code == 422
    assert right.get_json()["error"] == "too_many_attempts"
    assert till.rows()[0].verified_at is None and till.rows()[0].attempts == 5


def test_an_expired_code_is_refused(till: Till) -> None:
    """GIVEN a code texted WHEN it is checked five minutes later THEN it is refused as expired
    (the try is not counted), while a minute before that it would still have been good."""
    till.post(SEND, {"mobile": MOBILE})
    code = till.code_sent()
    context = till.app.extensions["vafa"]
    created = till.rows()[0].created_at
    created = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
    with pytest.raises(CodeRefused) as late:
        verify(
            context.engine,
            context.vault,
            till.terminal_id,
            E164,
            code,
            Limits(),
            now=created + dt.timedelta(minutes=5),
        )
    assert late.value.code == "code_expired" and "مهلت" in late.value.fa
    assert till.rows()[0].attempts == 0
    check_id = verify(
        context.engine,
        context.vault,
        till.terminal_id,
        E164,
        code,
        Limits(),
        now=created + dt.timedelta(minutes=4),
    )
    assert check_id == till.rows()[0].id


def test_codes_are_per_terminal_and_a_new_code_replaces_the_old(
    cloud_app_any: Flask, tmp_path: Path
) -> None:
    """GIVEN a code asked by one terminal WHEN another terminal sends it THEN it has no code;
    WHEN the first asks again after the pause THEN only the newest code counts."""
    cloud_app_any.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"), MOBILE_CODE_RESEND_S=0)
    one, other = enrol_till(cloud_app_any), enrol_till(cloud_app_any, "شعبه تجریش")
    one.post(SEND, {"mobile": MOBILE})
    first = one.code_sent()
    stranger = other.post(VERIFY, {"mobile": MOBILE, "code": first})
    assert stranger.status_code == 422 and stranger.get_json()["error"] == "no_code"
    one.post(SEND, {"mobile": MOBILE})
    second = one.code_sent()
    if first != second:  # one chance in a million that they are the same
        old = one.post(VERIFY, {"mobile": MOBILE, "code": first})
        assert old.get_json()["error"] == "wrong_code"
    assert one.post(VERIFY, {"mobile": MOBILE, "code": second}).status_code == 200


def test_codes_are_limited_per_mobile_and_per_terminal(
    cloud_app_any: Flask, tmp_path: Path
) -> None:
    """GIVEN a code just sent WHEN the same mobile asks again THEN it is refused (429, Persian,
    nothing texted); GIVEN a terminal's hourly cap WHEN it is reached THEN it is refused."""
    cloud_app_any.config.update(
        SMS_FILE=str(tmp_path / "sms.jsonl"), MOBILE_CODE_PER_TERMINAL_HOUR=3
    )
    till = enrol_till(cloud_app_any)
    assert till.post(SEND, {"mobile": MOBILE}).status_code == 200
    again = till.post(SEND, {"mobile": "+98 912 345 6789"})
    assert again.status_code == 429
    assert again.get_json()["error"] == "rate_limited"
    assert "ثانیه" in again.get_json()["message_fa"]
    check_against_spec(spec_of(cloud_app_any), "POST", SEND, again)
    for n in (1, 2):
        assert till.post(SEND, {"mobile": f"0935000000{n}"}).status_code == 200
    capped = till.post(SEND, {"mobile": "09350000003"})
    assert capped.status_code == 429 and "پایانه" in capped.get_json()["message_fa"]
    assert "۶۰ دقیقه دیگر" in capped.get_json()["message_fa"]  # the first code leaves the hour
    assert len(till.texts()) == 3 and len(till.rows()) == 3
    fresh = enrol_till(cloud_app_any, "شعبه دیگر")  # another terminal is not held back
    assert fresh.post(SEND, {"mobile": "09350000003"}).status_code == 200


def test_a_mobile_gets_at_most_five_codes_an_hour(cloud_app_any: Flask, tmp_path: Path) -> None:
    """GIVEN no pause between codes WHEN a mobile asks a sixth code within the hour THEN no."""
    cloud_app_any.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"), MOBILE_CODE_RESEND_S=0)
    till = enrol_till(cloud_app_any)
    assert [till.post(SEND, {"mobile": MOBILE}).status_code for _ in range(5)] == [200] * 5
    sixth = till.post(SEND, {"mobile": MOBILE})
    assert sixth.status_code == 429 and "۶۰ دقیقه دیگر" in sixth.get_json()["message_fa"]
    assert len(till.texts()) == 5
    forty_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)
    with till.app.extensions["vafa"].engine.begin() as conn:  # the first code, 40 min old
        first = till.rows()[0].id
        conn.execute(
            sa.update(mobile_codes)
            .where(mobile_codes.c.id == first)
            .values(created_at=forty_minutes_ago)
        )
    later = till.post(SEND, {"mobile": MOBILE}).get_json()["message_fa"]
    assert "۲۰ دقیقه دیگر" in later, later


def test_bad_requests_are_refused_naming_the_field(till: Till) -> None:
    """A bad mobile or a code that is not six digits is a 400 naming the field, in Persian too;
    an unsigned request is a 401."""
    for path, body, name in (
        (SEND, {"mobile": "0912"}, "mobile"),
        (SEND, {"mobile": 912}, "mobile"),
        (VERIFY, {"mobile": MOBILE, "code": "12a456"}, "code"),
        (VERIFY, {"mobile": MOBILE, "code": "1234567"}, "code"),
    ):
        answer = till.post(path, body)
        assert answer.status_code == 400, body
        assert answer.get_json()["field"] == name and answer.get_json()["message_fa"]
        check_against_spec(spec_of(till.app), "POST", path, answer)
    unsigned = till.app.test_client().post(SEND, json={"mobile": MOBILE})
    assert unsigned.status_code == 401
    assert till.texts() == [] and till.rows() == []


def test_a_provider_that_fails_leaves_nothing(cloud_app_any: Flask, tmp_path: Path) -> None:
    """GIVEN a Kavenegar that refuses the key WHEN a code is asked THEN 503 in Persian and no
    code is kept (so the cashier may ask again at once)."""
    phone = Phone()
    with live_server(kavenegar_app("right-key", phone)) as url:
        cloud_app_any.config.update(
            SMS_PROVIDER="kavenegar",
            SMS_API_KEY="wrong-key",
            SMS_SENDER="1000",
            SMS_BASE_URL=url,
            SMS_FILE=str(tmp_path / "unused.jsonl"),
        )
        till = enrol_till(cloud_app_any)
        answer = till.post(SEND, {"mobile": MOBILE})
        assert answer.status_code == 503
        assert answer.get_json()["error"] == "sms_unavailable"
        check_against_spec(spec_of(cloud_app_any), "POST", SEND, answer)
        assert till.rows() == [] and phone.sent == []
        cloud_app_any.config["SMS_API_KEY"] = "right-key"
        assert till.post(SEND, {"mobile": MOBILE}).status_code == 200
    (sent,) = phone.sent
    assert sent["to"] == "09123456789" and re.search(r"\b\d{6}\b", sent["text"])
    assert till.rows()[0].provider == "kavenegar"


def test_a_provider_not_configured_is_unavailable_not_an_error(
    cloud_app_any: Flask, tmp_path: Path
) -> None:
    """GIVEN HQ's settings name no usable provider WHEN a code is asked THEN 503 (the till
    enrols unverified when_online), not a server error."""
    cloud_app_any.config.update(SMS_PROVIDER="pigeon", SMS_FILE=str(tmp_path / "unused.jsonl"))
    till = enrol_till(cloud_app_any)
    answer = till.post(SEND, {"mobile": MOBILE})
    assert answer.status_code == 503 and answer.get_json()["error"] == "sms_unavailable"
    assert till.rows() == []


def test_two_requests_at_once_text_one_code(cloud_app_any: Flask, tmp_path: Path) -> None:
    """GIVEN one terminal asking twice for the same mobile at the same instant WHEN both run
    together THEN one code is texted and the other is refused by the pause between codes."""
    cloud_app_any.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"))
    till = enrol_till(cloud_app_any)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def ask() -> None:
        start.wait()
        statuses.append(till.post(SEND, {"mobile": MOBILE}).status_code)

    workers = [threading.Thread(target=ask) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(statuses) == [200, 429]
    assert len(till.texts()) == 1 and len(till.rows()) == 1


def enrol_member(till: Till, seq: int, mobile: str, **extra: Any) -> dict[str, Any]:
    """Sync a member.enrolled event for this mobile from the terminal; return its result."""
    event = enrolment_event(seq, new_id())
    event["payload"].update(mobile=mobile, **extra)
    answer = till.post("/api/v1/sync/events", {"events": [event]})
    assert answer.status_code == 200, answer.get_json()
    result: dict[str, Any] = answer.get_json()["results"][0]
    result["member_id"] = event["payload"]["member_id"]
    return result


def _verified(till: Till, member_id: str) -> bool:
    with till.app.extensions["vafa"].engine.connect() as conn:
        return is_verified(conn, member_id)


def test_the_enrolment_event_claims_the_verified_code(till: Till) -> None:
    """GIVEN a verified code WHEN the enrolment names it THEN the member is verified; a code
    for another mobile, one not verified, or one another member took leaves them unverified;
    mobile_verified without a code id is rejected naming the field."""
    till.app.config["MOBILE_CODE_RESEND_S"] = 0
    till.post(SEND, {"mobile": MOBILE})
    check = till.post(VERIFY, {"mobile": MOBILE, "code": till.code_sent()}).get_json()["check_id"]
    other_mobile = enrol_member(till, 1, "09351112233", mobile_verified=True, mobile_check=check)
    assert other_mobile["status"] == "applied" and not _verified(till, other_mobile["member_id"])
    member = enrol_member(till, 2, MOBILE, mobile_verified=True, mobile_check=check)
    assert member["status"] == "applied" and _verified(till, member["member_id"])
    assert till.rows()[0].member_id == member["member_id"]
    till.post(SEND, {"mobile": "09351112244"})  # texted, never verified
    unverified_code = till.rows()[-1].id
    sent_only = enrol_member(
        till, 3, "09351112244", mobile_verified=True, mobile_check=unverified_code
    )
    assert sent_only["status"] == "applied" and not _verified(till, sent_only["member_id"])
    plain = enrol_member(till, 4, "09351112255", mobile_verified=False)
    assert plain["status"] == "applied" and not _verified(till, plain["member_id"])
    no_id = enrol_member(till, 5, "09351112266", mobile_verified=True)
    assert no_id["status"] == "rejected" and no_id["field"] == "payload.mobile_check"
    with till.app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(members)).scalar() == 4


def test_no_mobile_or_code_reaches_a_log_line(till: Till, caplog: pytest.LogCaptureFixture) -> None:
    """Every step logged at DEBUG names code rows and terminals, never the mobile or code."""
    caplog.set_level(logging.DEBUG)
    till.post(SEND, {"mobile": MOBILE})
    till.post(SEND, {"mobile": MOBILE})  # refused: too soon
    code = till.code_sent()
    till.post(VERIFY, {"mobile": MOBILE, "code": "000000" if code != "000000" else "111111"})
    check = till.post(VERIFY, {"mobile": MOBILE, "code": code}).get_json()["check_id"]
    till.post(VERIFY, {"mobile": MOBILE, "code": code})  # refused: used
    enrol_member(till, 1, "09351112233", mobile_verified=True, mobile_check=check)  # warned
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "mobile code" in text and "refused" in text  # the steps were logged
    leaked = [form for form in (*MOBILE_FORMS, code, "09351112233", "1112233") if form in text]
    assert not leaked, leaked


def test_codes_never_verified_forget_their_mobile_after_a_day(till: Till) -> None:
    """GIVEN a code verified, one texted but not verified and one never texted, all two days
    old WHEN a new code is asked THEN the unverified one keeps its row (a text was sent) but
    neither HMAC, the one never texted is gone, and the verified one stays whole."""
    till.app.config["MOBILE_CODE_RESEND_S"] = 0
    till.post(SEND, {"mobile": MOBILE})
    till.post(VERIFY, {"mobile": MOBILE, "code": till.code_sent()})
    till.post(SEND, {"mobile": "09350000009"})
    till.post(SEND, {"mobile": "09350000008"})
    verified, unverified, never_texted = (row.id for row in till.rows())
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with till.app.extensions["vafa"].engine.begin() as conn:
        conn.execute(sa.update(mobile_codes).values(created_at=two_days_ago))
        conn.execute(
            sa.update(mobile_codes)
            .where(mobile_codes.c.id == never_texted)
            .values(provider=None, provider_id=None)
        )
    till.post(SEND, {"mobile": "09350000010"})
    rows = {row.id: row for row in till.rows()}
    assert never_texted not in rows and len(rows) == 3
    assert rows[unverified].mobile_hmac is None and rows[unverified].code_hmac is None
    assert rows[unverified].provider == "file"
    assert rows[verified].mobile_hmac is not None and rows[verified].code_hmac is not None


def test_a_mobile_already_in_the_club_gets_no_code(till: Till) -> None:
    """GIVEN a member enrolled at another store WHEN a terminal asks a code for that mobile
    THEN 409 already_member in Persian, naming the field, and nothing is texted or kept."""
    other = enrol_till(till.app, "شعبه تجریش")
    assert enrol_member(other, 1, "09123456789")["status"] == "applied"
    answer = till.post(SEND, {"mobile": MOBILE})
    assert answer.status_code == 409
    assert answer.get_json()["error"] == "already_member"
    assert answer.get_json()["field"] == "mobile" and "قبلاً" in answer.get_json()["message_fa"]
    check_against_spec(spec_of(till.app), "POST", SEND, answer)
    assert till.texts() == [] and till.rows() == []


def test_two_terminals_asking_for_one_mobile_at_once_text_one_code(
    cloud_app_any: Flask, tmp_path: Path
) -> None:
    """GIVEN two terminals of different stores WHEN both ask a code for the same mobile at
    the same instant THEN one code is texted and the other is refused by the pause between
    codes (the limits are per mobile, whichever terminal asks).

    Each code's INSERT is held back a moment, so without a lock per mobile both requests
    would have counted no earlier code before either stored its own."""
    cloud_app_any.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"))
    tills = [enrol_till(cloud_app_any), enrol_till(cloud_app_any, "شعبه تجریش")]
    engine = cloud_app_any.extensions["vafa"].engine

    def hold_inserts(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MOBILE_CODES "):
            time.sleep(0.3)  # widen the window between the limits' check and the insert

    sa.event.listen(engine, "before_cursor_execute", hold_inserts)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def ask(till: Till) -> None:
        start.wait()
        statuses.append(till.post(SEND, {"mobile": MOBILE}).status_code)

    try:
        workers = [threading.Thread(target=ask, args=(till,)) for till in tills]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", hold_inserts)
    assert sorted(statuses) == [200, 429]
    assert len(tills[0].texts()) == 1 and len(tills[0].rows()) == 1


def test_hqs_sms_log_counts_the_codes_texted(cloud_app_any: Flask, tmp_path: Path) -> None:
    """GIVEN two codes texted (one claimed by the member it verified, one never used) and a
    marketing text to that member WHEN a marketer opens HQ's SMS log THEN it counts three
    texts, two of them «کد تأیید», in three parts; a claimed code shows its member's masked
    mobile, an unclaimed one none, and no code's text; the purpose filter finds the codes;
    and codes a day old, their HMACs dropped, are still counted."""
    from cloud.sms.providers import FileProvider
    from cloud.sms.sending import send_to_member
    from tests.cloud.test_hq_ops import NOON, _log_in, _users

    _users(cloud_app_any)
    cloud_app_any.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"), MOBILE_CODE_RESEND_S=0)
    till = enrol_till(cloud_app_any)
    till.post(SEND, {"mobile": MOBILE})
    code = till.code_sent()
    check = till.post(VERIFY, {"mobile": MOBILE, "code": code}).get_json()["check_id"]
    member_id = enrol_member(till, 1, MOBILE, mobile_verified=True, mobile_check=check)["member_id"]
    till.post(SEND, {"mobile": "09350000009"})
    context = cloud_app_any.extensions["vafa"]
    with context.engine.begin() as conn:
        provider = FileProvider(tmp_path / "marketing.jsonl")
        send_to_member(conn, context.vault, provider, member_id, "یلدا مبارک", "yalda", True, NOON)
    client, _ = _log_in(cloud_app_any, "neda")
    page = client.get("/hq/sms").get_data(as_text=True)
    assert _figures(page) == ("۳ پیامک", "۳ بخش", "۲ کد تأیید")
    assert page.count("۰۹۱۲***۶۷۸۹") == 2 and page.count('title="هنوز عضو نشده"') == 1
    assert page.count("<td>کد تأیید <span") == 2  # the purpose column, as a service text
    assert code not in page and to_persian_digits(code) not in page
    assert '<option value="otp" >کد تأیید</option>' in page
    codes_only = client.get("/hq/sms?purpose=otp").get_data(as_text=True)
    assert _figures(codes_only) == ("۲ پیامک", "۲ بخش", "۲ کد تأیید")
    assert "یلدا" not in codes_only
    delivered = client.get("/hq/sms?status=delivered").get_data(as_text=True)
    assert _figures(delivered) == ("۰ پیامک", "۰ بخش", "")  # a code's delivery is not followed
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with context.engine.begin() as conn:
        conn.execute(sa.update(mobile_codes).values(created_at=two_days_ago))
    till.post(SEND, {"mobile": "09350000010"})  # forgets the old unverified code's HMACs
    assert sum(row.mobile_hmac is None for row in till.rows()) == 1
    later = client.get("/hq/sms").get_data(as_text=True)
    assert _figures(later) == ("۴ پیامک", "۴ بخش", "۳ کد تأیید")


def _figures(page: str) -> tuple[str, ...]:
    """Return the SMS log's count, parts and codes figures ('' when one is not shown)."""
    found = (re.search(f'id="sms-{name}">([^<]*)<', page) for name in ("count", "parts", "codes"))
    return tuple(match.group(1) if match else "" for match in found)

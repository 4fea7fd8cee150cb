"""The till's enrolment with a one-time code, against a real cloud on loopback HTTP.

GIVEN a terminal enrolled with a cloud served on 127.0.0.1 (texts go to the cloud's file
provider) WHEN the cashier submits the enrol form THEN, per ``enrol_otp``, a code is texted
and checked before the member is stored, or the member is stored unverified while the
cloud is away, or the enrolment is refused in Persian; the event says which, and the
cloud's record of the member agrees once synced.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from agent.config import AgentConfig
from agent.errors import InputError
from agent.identity import load_identity
from agent.offline_queue import outbox
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.mobile_codes import is_verified
from cloud.tables import mobile_codes
from tests.cloud.test_mobile_codes import enrol_member, enrol_till
from tests.support.cloud_terminal import cloud_and_terminal
from tests.web.test_cashier_web import PIN, unlock

MOBILE, E164 = "۰۹۱۲ ۷۷۷ ۱۲۳۴", "+989127771234"


@dataclass
class Shop:
    """A cloud on loopback, a terminal enrolled with it, and its till in a test client."""

    cloud: Any
    terminal: Terminal
    till: FlaskClient
    csrf: str
    sms_file: Path
    stack: ExitStack = field(default_factory=ExitStack)

    def texts(self) -> list[dict[str, str]]:
        """Return the texts the cloud's file provider wrote."""
        if not self.sms_file.exists():
            return []
        return [json.loads(line) for line in self.sms_file.read_text("utf-8").splitlines()]

    def code(self) -> str:
        """Return the code of the latest text."""
        found = re.search(r"\b(\d{6})\b", self.texts()[-1]["text"])
        assert found
        return found.group(1)

    def submit(self, otp: str = "", action: str = "", **changes: str) -> TestResponse:
        """Post the enrol form (a complete, valid one unless changed)."""
        form = {
            "csrf": self.csrf,
            "mobile": MOBILE,
            "name": "نرگس کاظمی",
            "birthday": "1368/02/11",
            "gender": "f",
            "consent": "yes",
            "otp": otp,
            **changes,
        }
        if action:
            form["action"] = action
        return self.till.post("/cashier/enrol", data=form)

    def members(self) -> int:
        """Count the members the terminal holds."""
        return int(self.terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0])

    def enrolment_payload(self) -> dict[str, Any]:
        """Return the payload of the one enrolment event queued."""
        (event,) = [
            e
            for e in outbox.pending(self.terminal.conn, self.terminal.vault, 50)
            if e.kind == "member.enrolled"
        ]
        return dict(event.payload)

    def go_offline(self) -> None:
        """Stop the cloud's server: the port refuses connections from now on."""
        self.stack.close()


def _shop(tmp_path: Path, mode: str) -> Shop:
    from agent.web.app import create_app
    from agent.web.cashier import set_cashier_pin

    cloud, terminal, sms_file, stack = cloud_and_terminal(tmp_path, mode)
    set_cashier_pin(terminal, "مریم", PIN)
    till = create_app(terminal, {"TESTING": True}).test_client()
    return Shop(cloud, terminal, till, unlock(till), sms_file, stack)


@pytest.fixture
def shop_factory(tmp_path: Path) -> Iterator[Any]:
    """Build shops with a given enrol_otp; close them afterwards."""
    shops: list[Shop] = []

    def build(mode: str) -> Shop:
        shops.append(_shop(tmp_path / mode, mode))
        return shops[-1]

    yield build
    for shop in shops:
        shop.stack.close()
        shop.terminal.close()
        shop.cloud.extensions["vafa"].engine.dispose()


def _page(answer: TestResponse) -> str:
    return answer.get_data(as_text=True)


def test_the_code_step_texts_checks_and_enrols_a_verified_member(shop_factory: Any) -> None:
    """GIVEN when_online and the cloud up WHEN the form is sent without a code THEN a code is
    texted, nothing is stored and the code field has the focus; WHEN a wrong code is typed
    THEN a Persian refusal names the tries left; WHEN the right one is typed THEN the member
    is enrolled, the event says verified, and the cloud marks the member verified."""
    shop = shop_factory("when_online")
    asked = shop.submit()
    assert asked.status_code == 200
    assert "پیامک شد" in _page(asked) and "۰۹۱۲***۱۲۳۴" in _page(asked)
    assert re.search(r'id="otp"[^>]*autofocus', _page(asked))
    assert "checked" in _page(asked)  # the consent ticked stays ticked
    (text,) = shop.texts()
    assert text["to"] == E164 and "لغو ۱۱" not in text["text"]
    assert shop.members() == 0
    code = shop.code()
    wrong = shop.submit(otp=f"{(int(code) + 1) % 10**6:06d}")
    assert wrong.status_code == 400 and "کد تأیید درست نیست" in _page(wrong)
    assert "۴ بار دیگر" in _page(wrong) and shop.members() == 0
    done = shop.submit(otp=code)
    assert done.status_code == 302 and "/cashier/member/" in done.headers["Location"]
    payload = shop.enrolment_payload()
    assert payload["mobile_verified"] is True and len(payload["mobile_check"]) == 32
    client = SyncClient(load_identity(shop.terminal.config.data_dir))
    client.drain(shop.terminal.conn, shop.terminal.vault)
    client.close()
    with shop.cloud.extensions["vafa"].engine.connect() as conn:
        assert is_verified(conn, payload["member_id"])


def test_a_verified_code_is_kept_through_a_refused_form_but_cannot_serve_twice(
    shop_factory: Any,
) -> None:
    """GIVEN the right code and a bad birth date WHEN the form is refused and sent again
    fixed, without the code THEN the member is enrolled verified with the same check; a
    second enrolment with that code is refused by the cloud as used."""
    shop = shop_factory("when_online")
    shop.submit()
    code = shop.code()
    refused = shop.submit(otp=code, birthday="1401/12/30")
    assert refused.status_code == 400 and shop.members() == 0
    assert shop.submit().status_code == 302  # no code typed: the session remembers the check
    assert shop.enrolment_payload()["mobile_verified"] is True
    again = shop.submit(otp=code, mobile="09127771235")
    assert again.status_code == 400
    assert "کدی فرستاده نشده" in _page(again) and shop.members() == 1
    reused = shop.submit(otp=code, mobile=MOBILE)
    assert reused.status_code == 400 and "قبلاً" in _page(reused)


def test_resend_limits_and_known_members_are_told_in_persian(shop_factory: Any) -> None:
    """GIVEN a code just texted WHEN «ارسال کد» is pressed again THEN the cloud's Persian
    reason shows (how long to wait), no second text, nothing stored, and the code already
    texted still enrols the member verified; GIVEN a member already enrolled WHEN a code is
    asked for them THEN no text."""
    shop = shop_factory("when_online")
    assert shop.submit(action="send").status_code == 200
    again = shop.submit(action="send")
    assert again.status_code == 200 and "کد تأیید فرستاده نشد" in _page(again)
    assert "ثانیه دیگر" in _page(again) and "«تأییدنشده» ثبت می‌شود" in _page(again)
    assert len(shop.texts()) == 1 and shop.members() == 0
    assert shop.submit(otp=shop.code()).status_code == 302
    assert shop.enrolment_payload()["mobile_verified"] is True
    known = shop.submit(action="send")
    assert known.status_code == 400 and "قبلاً عضو" in _page(known)
    assert len(shop.texts()) == 1


def test_enrol_pressed_without_the_code_just_texted_asks_for_it(shop_factory: Any) -> None:
    """GIVEN when_online and a code just texted from this till WHEN «عضویت» is pressed with
    the code field empty THEN the form comes back asking for the code (HQ is not asked
    again, which would meet the resend pause and enrol the member unverified), nothing
    is stored, and the code still enrols the member verified."""
    shop = shop_factory("when_online")
    assert shop.submit(action="send").status_code == 200
    empty = shop.submit()
    assert empty.status_code == 400 and "آن را وارد کنید" in _page(empty)
    assert shop.members() == 0 and len(shop.texts()) == 1
    assert shop.submit(otp=shop.code()).status_code == 302
    assert shop.enrolment_payload()["mobile_verified"] is True


def test_enrol_after_a_refused_resend_enrols_unverified_as_told(shop_factory: Any) -> None:
    """GIVEN a code texted, then «ارسال کد» again refused for the pause, with the notice that
    «عضویت» enrols without a code WHEN «عضویت» is pressed with no code THEN the member is
    enrolled, unverified, as the notice said."""
    shop = shop_factory("when_online")
    assert shop.submit(action="send").status_code == 200
    again = shop.submit(action="send")
    assert "«تأییدنشده» ثبت می‌شود" in _page(again)
    assert shop.submit().status_code == 302
    assert shop.enrolment_payload()["mobile_verified"] is False


def test_a_code_refused_for_a_limit_enrols_unverified_when_online(shop_factory: Any) -> None:
    """GIVEN when_online and a code just texted to the mobile from another store's terminal
    WHEN the form is sent here THEN HQ refuses to text (429) and, as if offline, the member
    is enrolled at once, unverified; the card tells the cashier in Persian that no code was
    sent, and why. The notice shows once."""
    shop = shop_factory("when_online")
    elsewhere = enrol_till(shop.cloud, "شعبه تجریش")
    assert elsewhere.post("/api/v1/mobile-codes", {"mobile": E164}).status_code == 200
    done = shop.submit()
    assert done.status_code == 302 and shop.members() == 1
    payload = shop.enrolment_payload()
    assert payload["mobile_verified"] is False and payload["mobile_check"] is None
    card = _page(shop.till.get(done.headers["Location"]))
    assert "نرگس کاظمی" in card and 'id="notice"' in card
    assert "کد تأیید فرستاده نشد" in card and "ثانیه دیگر" in card
    assert "«تأییدنشده» عضو شد" in card
    assert len(shop.texts()) == 1  # only the other store's
    assert 'id="notice"' not in _page(shop.till.get(done.headers["Location"]))


def test_a_code_refused_for_a_limit_is_refused_with_the_wait_when_required(
    shop_factory: Any,
) -> None:
    """GIVEN required and the terminal's hourly cap reached WHEN the form is sent THEN it is
    refused in Persian saying no code was sent, how many minutes to wait, and that no member
    is enrolled without one; nothing is stored or queued."""
    shop = shop_factory("required")
    shop.cloud.config["MOBILE_CODE_PER_TERMINAL_HOUR"] = 1
    assert shop.submit(mobile="09127770001").status_code == 200  # the hour's one code
    refused = shop.submit()
    assert refused.status_code == 400
    page = _page(refused)
    assert "کد تأیید فرستاده نشد" in page and "این پایانه" in page
    assert re.search(r"[۱-۹][۰-۹]* دقیقه دیگر دوباره بخواهید", page), page
    assert "بدون کد تأیید نمی‌توان عضو کرد" in page
    assert shop.members() == 0 and outbox.depth(shop.terminal.conn) == 0
    assert len(shop.texts()) == 1


def test_offline_when_online_enrols_unverified_at_once(shop_factory: Any) -> None:
    """GIVEN when_online and the cloud down WHEN «ارسال کد» is pressed THEN the till says it is
    offline; WHEN the form is sent THEN the member is enrolled, the event unverified."""
    shop = shop_factory("when_online")
    shop.go_offline()
    told = shop.submit(action="send")
    assert told.status_code == 200 and "تأییدنشده" in _page(told) and shop.members() == 0
    done = shop.submit()
    assert done.status_code == 302 and shop.members() == 1
    payload = shop.enrolment_payload()
    assert payload["mobile_verified"] is False and payload["mobile_check"] is None
    card = _page(shop.till.get(done.headers["Location"]))
    assert "ارتباط با مرکز برقرار نیست" in card and "«تأییدنشده» عضو شد" in card


def test_offline_required_refuses_and_stores_nothing(shop_factory: Any) -> None:
    """GIVEN required and the cloud down WHEN the form is sent, with or without a code THEN
    it is refused in Persian and nothing is stored or queued."""
    shop = shop_factory("required")
    shop.go_offline()
    for otp in ("", "123456"):
        refused = shop.submit(otp=otp)
        assert refused.status_code == 400
        assert "بدون کد تأیید نمی‌توان عضو کرد" in _page(refused)
    assert shop.members() == 0
    assert outbox.depth(shop.terminal.conn) == 0


def test_required_online_enrols_only_with_the_code(shop_factory: Any) -> None:
    """GIVEN required and the cloud up THEN the form asks the code first and enrols with it."""
    shop = shop_factory("required")
    assert shop.submit().status_code == 200 and shop.members() == 0
    assert shop.submit(otp=shop.code()).status_code == 302
    assert shop.enrolment_payload()["mobile_verified"] is True


def test_off_enrols_without_a_code_step(shop_factory: Any) -> None:
    """GIVEN off THEN the form has no code field, no text is sent, the member is unverified."""
    shop = shop_factory("off")
    assert 'id="otp"' not in _page(shop.till.get("/cashier/enrol"))
    assert shop.submit().status_code == 302
    assert shop.texts() == [] and shop.enrolment_payload()["mobile_verified"] is False


def test_an_unknown_mode_is_refused_at_load() -> None:
    """A mistyped enrol_otp stops the agent at start, naming the choices."""
    with pytest.raises(InputError, match="when_online"):
        AgentConfig(enrol_otp="sometimes")


def test_a_cloud_that_cannot_text_counts_as_offline(shop_factory: Any) -> None:
    """GIVEN HQ up but its SMS provider unreachable WHEN the form is sent THEN HQ answers 503
    and keeps no code; when_online enrols the member at once, unverified."""
    shop = shop_factory("when_online")
    shop.cloud.config.update(
        SMS_PROVIDER="kavenegar",
        SMS_API_KEY="k",
        SMS_SENDER="1000",
        SMS_BASE_URL="http://127.0.0.1:9",
    )
    done = shop.submit()
    assert done.status_code == 302 and shop.members() == 1
    assert shop.enrolment_payload()["mobile_verified"] is False
    with shop.cloud.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(mobile_codes)).scalar() == 0


def test_no_mobile_or_code_in_the_tills_logs(
    shop_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN every log record at DEBUG, the till's and the cloud's WHEN a code is asked,
    refused, asked too soon, verified, and the cloud then goes away THEN none holds the
    mobile in any form, nor the code."""
    caplog.set_level(logging.DEBUG)
    shop = shop_factory("when_online")
    shop.submit()
    code = shop.code()
    shop.submit(otp="000000" if code != "000000" else "111111")
    shop.submit(action="send")
    shop.submit(otp=code)
    shop.go_offline()
    shop.submit(mobile="09127771299")
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "mobile code" in text and "offline" in text  # the steps were logged
    forms = ("09127771234", "9127771234", E164, "7771234", "09127771299", "7771299", code)
    assert not [form for form in forms if form in text]


def test_a_member_of_another_store_is_told_at_the_till(shop_factory: Any) -> None:
    """GIVEN the mobile enrolled at another store (HQ knows, this till does not) WHEN the form
    is sent THEN HQ's Persian refusal shows and nothing is texted or stored here."""
    shop = shop_factory("when_online")
    elsewhere = enrol_till(shop.cloud, "شعبه تجریش")
    assert enrol_member(elsewhere, 1, E164)["status"] == "applied"
    refused = shop.submit()
    assert refused.status_code == 400 and "قبلاً در باشگاه عضو" in _page(refused)
    assert shop.texts() == [] and shop.members() == 0

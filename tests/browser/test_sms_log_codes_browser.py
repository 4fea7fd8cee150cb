"""HQ's SMS log in Chromium lists and counts the one-time codes texted at enrolment.

GIVEN a till that asked two codes (one verified and claimed by the new member, one never
used) and a marketing text to that member WHEN a marketer opens «پیامک‌ها» THEN the figures
count three texts in three parts, two of them «کد تأیید»; the claimed code shows the
member's masked mobile, the other a dash, neither its text; the purpose filter offers the
codes under their Persian name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from cloud.sms.providers import FileProvider
from cloud.sms.sending import send_to_member
from tests.browser.test_hq_ops_pages import _log_in, _screen
from tests.cloud.test_hq_ops import NOON, _users
from tests.cloud.test_mobile_codes import MOBILE, SEND, VERIFY, enrol_member, enrol_till
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


def test_the_sms_log_counts_and_lists_the_codes(
    cloud_app: Flask, page: Page, shot: Callable[[str], Path], tmp_path: Path
) -> None:
    _users(cloud_app)
    cloud_app.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"), MOBILE_CODE_RESEND_S=0)
    till = enrol_till(cloud_app)
    till.post(SEND, {"mobile": MOBILE})
    code = till.code_sent()
    check = till.post(VERIFY, {"mobile": MOBILE, "code": code}).get_json()["check_id"]
    member = enrol_member(till, 1, MOBILE, mobile_verified=True, mobile_check=check)
    till.post(SEND, {"mobile": "09350000009"})
    context = cloud_app.extensions["vafa"]
    with context.engine.begin() as conn:
        send_to_member(
            conn,
            context.vault,
            FileProvider(tmp_path / "marketing.jsonl"),
            member["member_id"],
            "شب یلدا مبارک؛ تخفیف ویژه منتظر شماست.",
            "yalda",
            True,
            NOON,
        )
    with live_server(cloud_app) as base:
        _log_in(page, base, "neda")
        page.goto(base + "/hq/sms")
        expect(page.locator("#sms-count")).to_have_text("۳ پیامک")
        expect(page.locator("#sms-parts")).to_have_text("۳ بخش")
        expect(page.locator("#sms-codes")).to_have_text("۲ کد تأیید")
        rows = page.locator("#sms tbody tr")
        assert rows.count() == 3
        codes = rows.filter(has_text="کد تأیید")
        assert codes.count() == 2
        mobiles = sorted(t.strip() for t in codes.locator("td.mobile").all_inner_texts())
        assert mobiles == sorted(["—", "۰۹۱۲***۶۷۸۹"])
        assert "شب یلدا" in page.inner_text("#sms") and code not in page.content()
        _screen(page, shot, "sms-log-with-codes")
        page.select_option("select[name=purpose]", label="کد تأیید")
        page.click("#sms-filter button")
        expect(page.locator("#sms-count")).to_have_text("۲ پیامک")
        assert page.locator("#sms tbody tr").count() == 2

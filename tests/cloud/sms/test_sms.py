"""SMS: Persian parts, consent, quiet hours, providers over real HTTP, reports and replies."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.fleet import create_store
from cloud.sms.providers import FileProvider, KavenegarProvider, SmsError, SmsIrProvider
from cloud.sms.sending import NotSent, handle_replies, in_window, poll_deliveries, send_to_member
from cloud.sms.text import TemplateError, parts, render, reply_intent, with_opt_out
from cloud.tables import members, sms_messages
from common.persian import TEHRAN
from tests.support.live_server import live_server
from tests.support.sms_servers import Phone, kavenegar_app, smsir_app

KEY = "5A6E2B7C3D-SECRET-KEY-9F8E"
NOON = dt.datetime(2026, 11, 22, 12, 0, tzinfo=TEHRAN)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("سلام" * 17 + "سل", 1),  # 70 Persian characters: one part
        ("سلام" * 17 + "سلا", 2),  # 71: two parts of 67
        ("س" * 134, 2),
        ("س" * 135, 3),
        ("Hello " * 26 + "Hell", 1),  # 160 GSM characters
        ("Hello " * 26 + "Hello", 2),  # 161: parts of 153
    ],
)
def test_parts_follow_ucs2_and_gsm_limits(text: str, count: int) -> None:
    assert parts(text) == count


def test_templates_fill_persian_placeholders_with_persian_digits() -> None:
    text = render("{نام} عزیز، {امتیاز} امتیاز هدیه گرفتید.", {"نام": "مریم", "امتیاز": 1500})
    assert text == "مریم عزیز، ۱٬۵۰۰ امتیاز هدیه گرفتید."
    with pytest.raises(TemplateError, match="تخفیف"):
        render("کد {تخفیف}", {})
    assert with_opt_out(with_opt_out("سلام")) == "سلام\nلغو ۱۱"


@pytest.mark.parametrize(
    ("reply", "intent"),
    [
        ("11", "opt_out"),
        ("۱۱", "opt_out"),
        (" لغو ", "opt_out"),
        ("١١", "opt_out"),
        ("12", "opt_in"),
        ("۱۲", "opt_in"),
        ("111", None),
        ("سلام", None),
    ],
)
def test_replies_are_read_in_every_digit_form(reply: str, intent: str | None) -> None:
    assert reply_intent(reply) == intent


@pytest.mark.parametrize(
    ("hour", "minute", "allowed"),
    [(7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False), (23, 30, False)],
)
def test_the_sending_window_is_tehran_time(hour: int, minute: int, allowed: bool) -> None:
    moment = dt.datetime(2026, 11, 22, hour, minute, tzinfo=TEHRAN)
    assert in_window(moment) is allowed
    assert in_window(moment.astimezone(dt.UTC)) is allowed  # the same instant in UTC


@pytest.fixture
def member_ids(cloud_app: Flask) -> dict[str, str]:
    """Enrol two members straight in the cloud: one who consented, one who did not."""
    context = cloud_app.extensions["vafa"]
    vault = context.vault
    ids = {}
    with context.engine.begin() as conn:
        store_id = create_store(conn, "ونک")
        for name, mobile, consent in (
            ("yes", "+989121112233", True),
            ("no", "+989351234567", False),
        ):
            member_id = f"{name:0<32}"[:32]
            conn.execute(
                sa.insert(members).values(
                    id=member_id,
                    card_code=f"29{len(ids)}",
                    mobile_hmac=vault.lookup_hash(mobile),
                    mobile_enc=vault.encrypt(member_id, mobile),
                    name_enc=vault.encrypt(member_id, "x"),
                    home_store_id=store_id,
                    marketing_consent=consent,
                    enrolled_at=NOON,
                )
            )
            ids[name] = member_id
    return ids


@pytest.fixture
def kavenegar(cloud_app: Flask) -> Iterator[tuple[KavenegarProvider, Phone]]:
    phone = Phone()
    with live_server(kavenegar_app(KEY, phone)) as url:
        yield KavenegarProvider(KEY, "10004346", base_url=url), phone


@pytest.fixture
def smsir() -> Iterator[tuple[SmsIrProvider, Phone]]:
    phone = Phone()
    with live_server(smsir_app(KEY, phone)) as url:
        yield SmsIrProvider(KEY, "30007732", base_url=url), phone


def _send(app: Flask, provider, member_id: str, marketing: bool = True, moment=NOON):  # type: ignore[no-untyped-def]
    context = app.extensions["vafa"]
    with context.engine.begin() as conn:
        return send_to_member(
            conn, context.vault, provider, member_id, "تولدتان مبارک", "birthday", marketing, moment
        )


def _log(app: Flask) -> list[sa.Row]:  # type: ignore[type-arg]
    with app.extensions["vafa"].engine.connect() as conn:
        return list(conn.execute(sa.select(sms_messages).order_by(sms_messages.c.created_at)))


@pytest.mark.parametrize("which", ["kavenegar", "smsir"])
def test_send_report_and_opt_out_through_each_provider(
    cloud_app: Flask,
    member_ids: dict[str, str],
    which: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN a consenting member WHEN a marketing text goes out through the provider's API,
    its delivery is reported, and the member replies ۱۱ THEN the text ended with «لغو ۱۱»,
    the log shows it delivered, the member is opted out and the next marketing text is kept
    back; the API key appears in no log record."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLIs quieten httpx when they run
    provider, phone = request.getfixturevalue(which)
    sent = _send(cloud_app, provider, member_ids["yes"])
    assert phone.sent[0]["to"] == "09121112233"
    assert phone.sent[0]["text"] == "تولدتان مبارک\nلغو ۱۱"
    assert sent.parts == 1

    phone.status[sent.provider_id] = 10 if which == "kavenegar" else 1
    context = cloud_app.extensions["vafa"]
    with context.engine.begin() as conn:
        assert poll_deliveries(conn, provider) == 1
        assert poll_deliveries(conn, provider) == 0  # final: not asked again
    assert [(r.status, r.marketing, r.provider) for r in _log(cloud_app)] == [
        ("delivered", True, provider.name)
    ]
    assert context.vault.decrypt(_log(cloud_app)[0].id, _log(cloud_app)[0].body_enc).startswith(
        "تولد"
    )

    phone.replies.append({"from": "09121112233", "text": "۱۱"})
    phone.replies.append({"from": "09999999999", "text": "11"})  # nobody we know
    with context.engine.begin() as conn:
        assert handle_replies(conn, context.vault, provider) == {
            "opt_out": 1,
            "opt_in": 0,
            "ignored": 1,
        }
    with pytest.raises(NotSent) as kept:
        _send(cloud_app, provider, member_ids["yes"])
    assert kept.value.reason == "no_consent"
    assert len(phone.sent) == 1
    assert any(KEY in path for path in phone.requests) == (which == "kavenegar")
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug: the stand-in's
    assert ours and not [r for r in ours if KEY in r.getMessage()]
    if which == "kavenegar":  # httpx did log the URL, with the key masked
        assert any("/v1/***/sms/send.json" in r.getMessage() for r in ours)


def test_undelivered_and_blocked_reports_are_mapped(
    cloud_app: Flask, member_ids, kavenegar
) -> None:  # type: ignore[no-untyped-def]
    provider, phone = kavenegar
    first = _send(cloud_app, provider, member_ids["yes"])
    second = _send(cloud_app, provider, member_ids["yes"])
    phone.status[first.provider_id], phone.status[second.provider_id] = 11, 14
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        assert poll_deliveries(conn, provider) == 2
    assert sorted(r.status for r in _log(cloud_app)) == ["blocked", "undelivered"]


def test_quiet_hours_and_consent_keep_marketing_back_but_not_service_texts(
    cloud_app: Flask, member_ids: dict[str, str], tmp_path: Path
) -> None:
    provider = FileProvider(tmp_path / "sms.jsonl")
    late = dt.datetime(2026, 11, 22, 21, 0, tzinfo=TEHRAN)
    with pytest.raises(NotSent) as quiet:
        _send(cloud_app, provider, member_ids["yes"], moment=late)
    assert (quiet.value.reason, quiet.value.fa) == ("quiet_hours", "خارج از ساعت مجاز ارسال")
    _send(cloud_app, provider, member_ids["yes"], moment=late - dt.timedelta(minutes=1))
    with pytest.raises(NotSent, match="not consented"):
        _send(cloud_app, provider, member_ids["no"])
    _send(cloud_app, provider, member_ids["no"], marketing=False, moment=late)  # a code, say
    lines = (tmp_path / "sms.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "لغو ۱۱" in lines[0] and "لغو ۱۱" not in lines[1]


def test_opt_in_by_replying_12_through_the_file_provider(
    cloud_app: Flask, member_ids, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    provider = FileProvider(tmp_path / "sms.jsonl")
    (tmp_path / "sms.replies").write_text("+989351234567 ۱۲\n")
    context = cloud_app.extensions["vafa"]
    with context.engine.begin() as conn:
        assert handle_replies(conn, context.vault, provider)["opt_in"] == 1
    _send(cloud_app, provider, member_ids["no"])  # consented now
    assert not (tmp_path / "sms.replies").exists()


def test_a_refused_key_is_an_error_without_the_key(cloud_app: Flask, member_ids) -> None:  # type: ignore[no-untyped-def]
    phone = Phone()
    with live_server(kavenegar_app("another-key", phone)) as url:
        provider = KavenegarProvider(KEY, "10004346", base_url=url)
        with pytest.raises(SmsError) as refused:
            _send(cloud_app, provider, member_ids["yes"])
    assert "401" in str(refused.value) and KEY not in str(refused.value)
    assert _log(cloud_app) == []  # nothing logged as sent


def test_a_provider_built_for_a_waiting_caller_has_a_short_timeout(tmp_path: Path) -> None:
    """Scenarios acting at sync (and after feedback) send with a 2 s timeout: a slow
    provider must not hold the terminal past its own 10 s."""
    from cloud.scenarios.events import SECONDS, SMS_TIMEOUT
    from cloud.sms.providers import provider_from_config

    for kind in ("kavenegar", "smsir"):
        config = {"SMS_PROVIDER": kind, "SMS_API_KEY": "k", "SMS_SENDER": "3000"}
        short = provider_from_config(config, tmp_path, timeout=SMS_TIMEOUT)
        assert short.http.timeout.read == SMS_TIMEOUT  # type: ignore[attr-defined]
        assert provider_from_config(config, tmp_path).http.timeout.read == 10.0  # type: ignore[attr-defined]
    assert SECONDS + SMS_TIMEOUT < 10.0


def test_closing_a_provider_closes_its_http_client(tmp_path: Path) -> None:
    """Providers built per request (a sync that triggers scenarios, a one-time code) are
    closed after it, so their connections do not pile up in a long-running worker."""
    from cloud.sms.providers import provider_from_config

    for kind in ("kavenegar", "smsir"):
        config = {"SMS_PROVIDER": kind, "SMS_API_KEY": "k", "SMS_SENDER": "3000"}
        provider = provider_from_config(config, tmp_path)
        assert not provider.http.is_closed  # type: ignore[attr-defined]
        provider.close()
        assert provider.http.is_closed  # type: ignore[attr-defined]
    FileProvider(tmp_path / "sms.jsonl").close()  # nothing to release, and no error

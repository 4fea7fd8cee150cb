"""HQ's operating pages in Debian's Chromium over real HTTP, screenshotted at 1366×768:
scenarios (list, switch, uplift, preview, builder), the SMS log, the fleet with revocation
and enrolment codes, and the users admin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jdatetime
import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from agent.errors import SyncError
from agent.offline_queue.sync import AGENT_VERSION
from cloud.hq import create_user
from cloud.scenarios import store
from cloud.scenarios.engine import period_key
from cloud.scenarios.library import LIBRARY
from cloud.sms.providers import FileProvider
from cloud.sms.sending import send_to_member
from cloud.storage import utcnow
from cloud.tables import scenario_entries, scenarios, sms_messages, terminals, user_stores, users
from common.persian import TEHRAN, jalali_date, now_tehran, to_persian_digits
from common.protocol import new_id
from tests.browser.navigation import click_and_load
from tests.browser.test_hq_pages import LAYOUT_PROBLEMS
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser

PASSWORD = "a-long-password"
WIDE = {"width": 1366, "height": 768}
SHORT = {"width": 1024, "height": 600}


@dataclass
class Hq:
    """The cloud on loopback with a synced terminal, HQ users and the scenario library."""

    base: str
    app: Flask
    terminal: Any
    sync: Any
    members: dict[str, str]  # name -> id
    birthday: jdatetime.date  # this year's birthday of the members born on it

    def engine(self) -> sa.Engine:
        """Return the cloud's engine."""
        engine: sa.Engine = self.app.extensions["vafa"].engine
        return engine

    def count(self, table: sa.Table) -> int:
        """Count a table's rows."""
        with self.engine().connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


PEOPLE = [
    ("مریم رضایی", "09121234567", 12_500_000),
    ("رضا کریمی", "09351112233", 34_800_000),
    ("سارا احمدی", "09198765432", 7_650_000),
    ("علی حسینی", "09120001122", 0),
    ("نگار موسوی", "09124445566", 3_000_000),
    ("حسین نوری", "09127778899", 0),
]


@pytest.fixture
def hq(enrolled) -> Iterator[Hq]:  # type: ignore[no-untyped-def]
    """Yield HQ after six members enrolled (birthday in a week), four bought, all synced."""
    terminal, sync, app = enrolled
    birthday = jdatetime.date.fromgregorian(date=now_tehran().date() + dt.timedelta(days=7))
    ids = {}
    for name, mobile, _ in PEOPLE:
        member = terminal.flow.enrol(
            mobile, name, consent=True, birthday=f"{birthday.month:02d}-{birthday.day:02d}"
        )
        ids[name] = member.id
    sync.drain(terminal.conn, terminal.vault)
    engine = app.extensions["vafa"].engine
    with engine.begin() as conn:
        store_id = conn.execute(sa.text("SELECT id FROM stores")).scalar_one()
        create_user(conn, "boss", PASSWORD, "admin")
        create_user(conn, "neda", PASSWORD, "marketer")
        create_user(conn, "owner", PASSWORD, "store_owner")
        owner = conn.execute(sa.select(users.c.id).where(users.c.username == "owner")).scalar()
        conn.execute(sa.insert(user_stores).values(user_id=owner, store_id=store_id))
        for scenario_id in ("birthday", "win-back", "apology", "vip-thanks"):
            store.save(conn, scenario_id, LIBRARY[scenario_id], enabled=scenario_id == "birthday")
        # Last week's birthday run: four members treated, two in the control group.
        period = period_key("year", now_tehran().date())
        for index, (name, _, _) in enumerate(PEOPLE):
            conn.execute(
                sa.insert(scenario_entries).values(
                    id=new_id(),
                    scenario_id="birthday",
                    member_id=ids[name],
                    period=period,
                    arm="control" if index >= 4 else "A",
                    outcome="control" if index >= 4 else "acted",
                    cost_rial=201_500 if index < 4 else 0,
                    created_at=utcnow() - dt.timedelta(days=2),
                )
            )
    for name, _, amount in PEOPLE:
        if amount:
            terminal.flow.sale(ids[name], amount)
    sync.drain(terminal.conn, terminal.vault)
    with live_server(app) as base:
        yield Hq(base, app, terminal, sync, ids, birthday)


def _log_in(page: Page, base: str, user: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/hq/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _screen(page: Page, shot: Callable[[str], Path], name: str) -> None:
    """Check the layout at the counter's short screen, then screenshot at 1366×768."""
    page.set_viewport_size(SHORT)
    assert page.evaluate(LAYOUT_PROBLEMS) == [], f"{name} at 1024x600"
    page.set_viewport_size(WIDE)
    assert page.evaluate(LAYOUT_PROBLEMS) == [], f"{name} at 1366x768"
    assert shot(name).stat().st_size > 0


def _row(page: Page, table: str, key: str) -> Any:
    return page.locator(f"#{table} tr[data-id='{key}']")


def test_scenarios_list_switch_uplift_and_preview(
    hq: Hq, page: Page, shot: Callable[[str], Path]
) -> None:
    _log_in(page, hq.base, "neda")
    click_and_load(page, "nav.ops-nav >> text=سناریوها")
    assert page.url.endswith("/hq/scenarios")
    assert _row(page, "scenarios", "birthday").locator(".state").inner_text() == "روشن"
    assert "۶" in _row(page, "scenarios", "birthday").inner_text()  # six entries
    _screen(page, shot, "scenarios")
    click_and_load(page, _row(page, "scenarios", "win-back").locator("button"))
    assert _row(page, "scenarios", "win-back").locator(".state").inner_text() == "روشن"

    click_and_load(page, "#scenarios >> text=تبریک تولد با هدیه")
    assert page.inner_text("#scenario-name").startswith("تبریک تولد با هدیه")
    assert page.inner_text("#treated-members") == "۴"
    assert page.inner_text("#control-members") == "۲"
    assert page.inner_text("#treated-rate") == "۷۵٫۰٪"  # three of four bought again
    assert page.inner_text("#control-rate") == "۵۰٫۰٪"
    assert page.inner_text("#rate-diff") == "۲۵٫۰٪"
    assert page.inner_text("#rate-ci").startswith("از -")  # six members prove nothing
    assert "تومان" in page.inner_text("#treated-revenue")
    _screen(page, shot, "scenario-uplift")

    entries, texts = hq.count(scenario_entries), hq.count(sms_messages)
    day = to_persian_digits(hq.birthday.strftime("%Y/%m/%d"))
    page.fill("#preview-form input[name=on]", day)
    click_and_load(page, "#preview-form button")
    assert "در این روز کسی مشمول این سناریو نیست." in page.inner_text("#preview")
    # This year's entries already hold everyone: the preview names nobody twice.
    assert "۰ عضو" in page.inner_text("#preview-summary")
    with hq.engine().begin() as conn:
        conn.execute(sa.delete(scenario_entries))
    page.reload()
    rows = page.locator("#preview tbody tr")
    assert rows.count() == len(PEOPLE)
    table = page.inner_text("#preview")
    assert "مریم رضایی" in table and "۰۹۱۲***۴۵۶۷" in table and "09121234567" not in table
    assert "عزیز، تولدتان مبارک!" in table or "جان، زادروزتان خجسته!" in table
    assert "۲۰۰ امتیاز" in table
    _screen(page, shot, "scenario-preview")
    assert hq.count(sms_messages) == texts  # a preview sends nothing
    assert hq.count(scenario_entries) == 0 < entries  # and writes no entry
    page.fill("#preview-form input[name=on]", "۱۴۰۵/۱۳/۴۰")
    click_and_load(page, "#preview-form button")
    assert page.inner_text("#preview-error") == "تاریخ را به شکل ۱۴۰۵/۰۹/۳۰ بنویسید"

    _log_in(page, hq.base, "owner")
    answer = page.goto(hq.base + "/hq/scenarios")
    assert answer is not None and answer.status == 403
    page.goto(hq.base + "/hq/fleet")
    assert page.locator("nav.ops-nav >> text=سناریوها").count() == 0


def test_the_builder_shows_errors_beside_fields_then_saves_and_edits(
    hq: Hq, page: Page, shot: Callable[[str], Path]
) -> None:
    _log_in(page, hq.base, "neda")
    page.goto(hq.base + "/hq/scenarios")
    page.click("#new-scenario")
    # The click returns once navigation starts; the script hiding other triggers' fields
    # runs at the end of the page, so wait for it before looking.
    page.wait_for_url("**/hq/scenarios/new", wait_until="load")
    assert page.is_visible("#trigger")
    assert page.is_hidden("input[name=trigger_days]")  # only the chosen trigger's fields
    page.select_option("#trigger", "inactive")
    assert page.is_visible("input[name=trigger_days]")
    page.fill("input[name=scenario_id]", "Win Back 2")
    page.fill("input[name=trigger_days]", "صفر")
    page.fill("input[name=control_pct]", "۹۵")
    page.check("input[name=act_coupon]")
    page.fill("input[name=coupon_value]", "۵۰۰٬۰۰۰")
    click_and_load(page, "#save")
    assert "حروف کوچک لاتین" in page.inner_text("#error-scenario_id")
    assert page.inner_text("#error-name_fa") == "نام سناریو را بنویسید (حداکثر ۸۰ نویسه)"
    assert page.inner_text("#error-trigger_days").startswith("روزهای غیبت")
    assert page.inner_text("#error-control_pct").startswith("سهم گروه کنترل")
    assert page.inner_text("#error-coupon_days").startswith("روزهای اعتبار کوپن")
    assert page.input_value("input[name=coupon_value]") == "۵۰۰٬۰۰۰"  # typed text kept
    _screen(page, shot, "builder-errors")
    assert hq.count(scenarios) == 4

    page.fill("input[name=scenario_id]", "win-back-gold")
    page.fill("input[name=name_fa]", "بازگشت اعضای طلایی")
    page.fill("input[name=trigger_days]", "۴۵")
    page.fill("input[name=control_pct]", "۲۰")
    page.fill("input[name=coupon_days]", "۱۰")
    page.check("input[name=cond_tiers][value=gold]")
    page.check("input[name=act_sms]")
    page.fill("textarea[name=sms_a]", "{نام} عزیز، کد {کد} ده روز منتظر شماست.")
    page.fill("textarea[name=sms_b]", "{نام} جان، با کد {کد} به ما سر بزنید.")
    page.select_option("select[name=period]", "quarter")
    page.fill("input[name=budget]", "۲۰۰٬۰۰۰٬۰۰۰")
    _screen(page, shot, "builder-filled")
    page.click("#save")
    page.wait_for_url("**/hq/scenarios/win-back-gold?saved=1")
    expect(page.locator("#saved")).to_be_visible()
    assert page.inner_text("#state") == "خاموش"
    with hq.engine().connect() as conn:
        row = conn.execute(sa.select(scenarios).where(scenarios.c.id == "win-back-gold")).one()
    assert row.enabled is False or row.enabled == 0
    assert '"days": 45' in row.definition and '"budget_rial": 200000000' in row.definition

    click_and_load(page, "#edit")
    assert page.input_value("input[name=trigger_days]") == "۴۵"
    page.fill("input[name=trigger_days]", "۶۰")
    click_and_load(page, "#save")
    assert "۶۰ روز بی‌خرید" in page.inner_text("#summary")
    _screen(page, shot, "scenario-after-edit")

    twice = {**LIBRARY["birthday"], "actions": [*LIBRARY["birthday"]["actions"]] * 2}
    with hq.engine().begin() as conn:
        store.save(conn, "twice", twice)
    answer = page.goto(hq.base + "/hq/scenarios/twice/edit")
    assert answer is not None and answer.status == 409
    assert page.inner_text("#blocked").startswith("این سناریو چند کار از یک نوع دارد")
    _screen(page, shot, "builder-blocked")


def test_sms_log_is_masked_filtered_and_paged(
    hq: Hq, page: Page, shot: Callable[[str], Path], tmp_path: Path
) -> None:
    context = hq.app.extensions["vafa"]
    provider = FileProvider(tmp_path / "sms.jsonl")
    noon = dt.datetime.combine(now_tehran().date(), dt.time(12), TEHRAN)
    with hq.engine().begin() as conn:
        for index in range(60):
            name = PEOPLE[index % len(PEOPLE)][0]
            send_to_member(
                conn,
                context.vault,
                provider,
                hq.members[name],
                f"{name.split()[0]} عزیز، تخفیف یلدا منتظر شماست.",
                "yalda" if index % 3 else "win-back",
                True,
                noon,
            )
        conn.execute(
            sa.update(sms_messages)
            .where(sms_messages.c.purpose == "win-back")
            .values(status="delivered", status_at=utcnow())
        )
    _log_in(page, hq.base, "neda")
    click_and_load(page, "nav.ops-nav >> text=پیامک‌ها")
    assert page.inner_text("#sms-count") == "۶۰ پیامک"
    assert page.locator("#sms tbody tr").count() == 50
    body = page.inner_text("#sms")
    assert "۰۹۱۲***۴۵۶۷" in body
    for _, mobile, _ in PEOPLE:
        assert mobile not in body and to_persian_digits(mobile) not in body
    _screen(page, shot, "sms-log")
    click_and_load(page, "#next")
    assert page.locator("#sms tbody tr").count() == 10
    page.select_option("select[name=status]", "delivered")
    click_and_load(page, "#sms-filter button")
    assert page.inner_text("#sms-count") == "۲۰ پیامک"
    assert {t.strip() for t in page.locator("#sms td.status").all_inner_texts()} == {"رسید"}
    page.select_option("select[name=status]", "")
    page.select_option("select[name=purpose]", "yalda")
    today = jalali_date(now_tehran())
    page.fill("input[name=from]", today)
    page.fill("input[name=to]", today)
    click_and_load(page, "#sms-filter button")
    assert page.inner_text("#sms-count") == "۴۰ پیامک"
    _screen(page, shot, "sms-filtered")


def test_fleet_codes_revoke_and_a_store_owners_view(
    hq: Hq, page: Page, shot: Callable[[str], Path]
) -> None:
    terminal_id = hq.sync.identity.terminal_id
    _log_in(page, hq.base, "boss")
    click_and_load(page, "nav.ops-nav >> text=پایانه‌ها")
    row = _row(page, "fleet", terminal_id)
    assert row.locator(".state").inner_text() == "فعال"
    assert "پیوسته" in row.locator(".seq").inner_text()
    # The terminal's last push said its version and how many events it had queued.
    assert row.locator(".version").inner_text() == AGENT_VERSION
    assert row.locator(".queue").inner_text() != "—"
    page.fill("#store-form input[name=name]", "شعبه تجریش")
    page.click("#store-form button")
    page.select_option("#code-form select[name=store_id]", label="شعبه تجریش")
    click_and_load(page, "#code-form button")
    code = page.inner_text("#code")
    assert len(code) == 9 and code[4] == "-"
    assert "شعبه تجریش" in page.inner_text("#new-code")
    _screen(page, shot, "fleet-code")
    page.goto(hq.base + "/hq/fleet")
    assert page.locator("#code").count() == 0  # shown once

    click_and_load(page, _row(page, "fleet", terminal_id).locator("text=باطل کردن…"))
    assert "باطل شود؟" in page.inner_text("#confirm-text")
    _screen(page, shot, "fleet-revoke-confirm")
    with hq.engine().connect() as conn:
        assert conn.execute(sa.select(terminals.c.revoked_at)).scalar() is None
    click_and_load(page, "#confirm")
    expect(page.locator("#revoked")).to_be_visible()
    assert "باطل‌شده" in _row(page, "fleet", terminal_id).locator(".state").inner_text()
    _screen(page, shot, "fleet-revoked")
    with pytest.raises(SyncError, match="403"):
        hq.sync.post_signed("/api/v1/sync/events", {"events": []})

    _log_in(page, hq.base, "owner")
    page.goto(hq.base + "/hq/fleet")
    assert _row(page, "fleet", terminal_id).count() == 1
    assert page.locator("text=باطل کردن…").count() == 0
    assert page.locator("#code-form").count() == 0
    _screen(page, shot, "fleet-store-owner")


def test_users_admin(hq: Hq, page: Page, shot: Callable[[str], Path]) -> None:
    _log_in(page, hq.base, "boss")
    click_and_load(page, "nav.ops-nav >> text=کاربران")
    assert page.locator("#users tr[data-user]").count() == 3
    assert "scrypt" not in page.content()
    page.fill("#new-user input[name=username]", "sara.vanak")
    page.fill("#new-user input[name=password]", "short")
    page.select_option("#role", "store_owner")
    click_and_load(page, "#create-user")
    assert page.inner_text("#error-password") == "گذرواژه دست‌کم ۸ نویسه است"
    assert page.inner_text("#error-stores") == "فروشگاه‌های این صاحب فروشگاه را انتخاب کنید"
    assert page.input_value("#new-user input[name=username]") == "sara.vanak"
    _screen(page, shot, "users-errors")
    page.fill("#new-user input[name=password]", "sara-long-password")
    page.check("#new-user input[name=stores]")
    click_and_load(page, "#create-user")
    assert page.inner_text("#done") == "کاربر ساخته شد."
    sara = page.locator("#users tr[data-user='sara.vanak']")
    assert "صاحب فروشگاه" in sara.inner_text() and "فروشگاه آزمایشی" in sara.inner_text()
    _screen(page, shot, "users")

    click_and_load(page, sara.locator("form.state button"))
    assert page.inner_text("#done").startswith("حساب بسته شد")
    assert page.locator("#users tr[data-user='sara.vanak'] td.state").inner_text() == "بسته"
    click_and_load(page, page.locator("#users tr[data-user='sara.vanak'] >> text=پاک کردن…"))
    assert "sara.vanak" in page.inner_text("#confirm-text")
    _screen(page, shot, "users-delete-confirm")
    click_and_load(page, "#confirm")
    assert page.inner_text("#done") == "کاربر پاک شد."
    assert page.locator("#users tr[data-user='sara.vanak']").count() == 0
    assert hq.count(users) == 3

    _log_in(page, hq.base, "neda")
    answer = page.goto(hq.base + "/hq/users")
    assert answer is not None and answer.status == 403
    page.goto(hq.base + "/hq/fleet")
    assert page.locator("nav.ops-nav >> text=کاربران").count() == 0

"""Scenarios on a real cloud database, with time travel: who gets what, once, by the rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.errors import BadRequest
from cloud.fleet import create_store
from cloud.scenarios import store
from cloud.scenarios.engine import arm_of
from cloud.scenarios.library import LIBRARY
from cloud.scenarios.model import parse
from cloud.sms.providers import FileProvider, SmsError
from cloud.tables import (
    coupons,
    grants,
    members,
    sales,
    scenario_entries,
    sms_messages,
    terminals,
)
from common.persian import TEHRAN, birthday_lookup

AT_TEN = dt.time(10, 0)


def _at(day: str, clock: dt.time = AT_TEN) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), clock, TEHRAN)


class Chain:
    """A cloud with members put straight into its tables, and a file SMS provider."""

    def __init__(self, app: Flask, folder: Path) -> None:
        self.engine = app.extensions["vafa"].engine
        self.vault = app.extensions["vafa"].vault
        self.sms = FileProvider(folder / "sms.jsonl")
        with self.engine.begin() as conn:
            self.store_id = create_store(conn, "ونک")
            conn.execute(
                sa.insert(terminals).values(
                    id="t" * 32,
                    store_id=self.store_id,
                    public_key="k",
                    created_at=_at("2025-01-01"),
                )
            )
        self.count = 0

    def member(
        self,
        birthday: str | None = None,
        consent: bool = True,
        tier: str = "normal",
        last_purchase: dt.datetime | None = None,
    ) -> str:
        self.count += 1
        member_id = f"{self.count:032x}"
        mobile = f"+98912{self.count:07d}"
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(members).values(
                    id=member_id,
                    card_code=f"29{self.count:011d}",
                    mobile_hmac=self.vault.lookup_hash(mobile),
                    mobile_enc=self.vault.encrypt(member_id, mobile),
                    name_enc=self.vault.encrypt(member_id, f"سارا {self.count}"),
                    home_store_id=self.store_id,
                    marketing_consent=consent,
                    tier=tier,
                    enrolled_at=_at("2025-01-01"),
                    birthday_hmac=birthday_lookup(self.vault, birthday) if birthday else None,
                )
            )
            if last_purchase is not None:
                conn.execute(
                    sa.text(
                        "INSERT INTO events (id, terminal_id, seq, kind, digest, received_at)"
                        " SELECT :e, id, :n, 'sale.completed', 'd', :t FROM terminals LIMIT 1"
                    ),
                    {"e": f"e{self.count}", "n": self.count, "t": last_purchase},
                )
                conn.execute(
                    sa.insert(sales).values(
                        id=f"s{self.count}",
                        event_id=f"e{self.count}",
                        member_id=member_id,
                        store_id=self.store_id,
                        terminal_id="t" * 32,
                        receipt_no=self.count,
                        amount_rial=500_000,
                        points_earned=50,
                        points_redeemed=0,
                        channel="in_store",
                        terminal_time="",
                        received_at=last_purchase,
                    )
                )
        return member_id

    def add(self, scenario_id: str, definition: dict) -> None:  # type: ignore[type-arg]
        with self.engine.begin() as conn:
            store.save(conn, scenario_id, definition)

    def run(self, moment: dt.datetime) -> dict:  # type: ignore[type-arg]
        return store.run_day(self.engine, self.vault, self.sms, moment)

    def preview(self, moment: dt.datetime) -> list[dict]:  # type: ignore[type-arg]
        with self.engine.connect() as conn:
            return store.preview(conn, self.vault, moment)

    def count_rows(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def texts(self) -> list[dict]:  # type: ignore[type-arg]
        path = self.sms.path
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def chain(cloud_app: Flask, tmp_path: Path) -> Chain:
    return Chain(cloud_app, tmp_path)


def _birthday(control_pct: int = 0) -> dict:  # type: ignore[type-arg]
    return dict(LIBRARY["birthday"], control_pct=control_pct)


def test_the_30_esfand_rule_in_leap_and_common_years(chain: Chain) -> None:
    """1403 is a leap year (Esfand has 30 days), 1404 is not: a 30 Esfand birthday is greeted
    on 30 Esfand 1403 (2025-03-20) and on 29 Esfand 1404 (2026-03-20), never twice."""
    esfand_30, esfand_29 = chain.member("12-30"), chain.member("12-29")
    chain.add("birthday", _birthday())
    named = lambda day: {d["member_id"] for d in chain.preview(_at(day))}  # noqa: E731
    assert named("2025-03-19") == {esfand_29}  # 29 Esfand 1403: only the 29th
    assert named("2025-03-20") == {esfand_30}  # 30 Esfand 1403 exists
    assert named("2026-03-20") == {esfand_29, esfand_30}  # 29 Esfand 1404, the last day


class RefusingProvider(FileProvider):  # type: ignore[misc]
    """The file provider, except that the operator refuses one number (a blocked line)."""

    def __init__(self, path: Path, refused: str) -> None:
        super().__init__(path)
        self.refused = refused

    def send(self, mobile_e164: str, text: str) -> str:
        if mobile_e164 == self.refused:
            raise SmsError(f"provider refused {mobile_e164[:6]}...: line blocked")
        result: str = super().send(mobile_e164, text)
        return result


def test_a_refused_text_skips_that_member_not_the_run(chain: Chain) -> None:
    """GIVEN three birthdays today and a provider that refuses the first member's line WHEN
    the day runs THEN the other two are greeted and given their points; the first has no
    entry and no grant (rolled back together), so the next run tries them again."""
    first, second, third = (chain.member("09-01") for _ in range(3))
    chain.add("birthday", _birthday())
    chain.sms = RefusingProvider(chain.sms.path, "+989120000001")
    assert chain.run(_at("2026-11-22")) == {"birthday": {"failed": 1, "acted": 2}}
    with chain.engine.connect() as conn:
        entered = set(conn.execute(sa.select(scenario_entries.c.member_id)).scalars())
        granted = set(conn.execute(sa.select(grants.c.member_id)).scalars())
    assert entered == granted == {second, third}
    assert first not in entered and len(chain.texts()) == 2
    chain.sms = FileProvider(chain.sms.path)  # the line is unblocked
    assert chain.run(_at("2026-11-22", dt.time(15, 0))) == {"birthday": {"acted": 1}}


def test_a_rerun_of_the_same_day_sends_nothing_twice(chain: Chain) -> None:
    member = chain.member("09-01")
    chain.add("birthday", _birthday())
    first = chain.run(_at("2026-11-22"))  # 1 Azar 1405
    assert first == {"birthday": {"acted": 1}}
    assert chain.run(_at("2026-11-22", dt.time(15, 0))) == {"birthday": {}}
    texts = chain.texts()
    assert len(texts) == 1  # the rerun sent nothing
    assert texts[0]["text"].startswith(("سارا عزیز", "سارا جان"))  # variant A or B
    assert "۲۰۰ امتیاز" in texts[0]["text"] and texts[0]["text"].endswith("لغو ۱۱")
    with chain.engine.connect() as conn:
        grant = conn.execute(sa.select(grants)).one()
    assert (grant.member_id, grant.amount, grant.reason) == (member, 200, "scenario:birthday")


def test_a_member_who_opted_out_gets_the_gift_but_no_text(chain: Chain) -> None:
    chain.member("09-01", consent=False)
    chain.add("birthday", _birthday())
    assert chain.run(_at("2026-11-22")) == {"birthday": {"acted": 1}}
    assert chain.texts() == []
    assert chain.count_rows(grants) == 1
    with chain.engine.connect() as conn:
        assert (
            conn.execute(sa.select(scenario_entries.c.outcome)).scalar_one() == "acted:sms_skipped"
        )


def test_the_control_group_is_never_messaged_and_is_stable(chain: Chain) -> None:
    ids = [chain.member("09-01") for _ in range(40)]
    chain.add("birthday", _birthday(control_pct=30))
    scenario = parse("birthday", _birthday(control_pct=30))
    control = {m for m in ids if arm_of(scenario, m, 2) == "control"}
    assert 3 <= len(control) <= 25  # about 30 % of 40
    chain.run(_at("2026-11-22"))
    texted = {t["to"] for t in chain.texts()}
    with chain.engine.connect() as conn:
        given = set(conn.execute(sa.select(grants.c.member_id)).scalars())
        arms = dict(
            conn.execute(sa.select(scenario_entries.c.member_id, scenario_entries.c.arm)).all()
        )
    assert given == set(ids) - control and len(texted) == len(given)
    assert {m for m, arm in arms.items() if arm == "control"} == control
    assert {arms[m] for m in given} == {"A", "B"}  # both text variants were tried


@pytest.mark.parametrize(
    ("clock", "outcome"), [(dt.time(20, 59), "acted"), (dt.time(21, 0), "deferred")]
)
def test_quiet_hours_defer_the_text_and_write_nothing(
    chain: Chain, clock: dt.time, outcome: str
) -> None:
    chain.member("09-01")
    chain.add("birthday", _birthday())
    assert chain.run(_at("2026-11-22", clock)) == {"birthday": {outcome: 1}}
    written = 0 if outcome == "deferred" else 1
    assert chain.count_rows(scenario_entries) == chain.count_rows(sms_messages) == written
    assert chain.count_rows(grants) == written  # the gift waits with the text


def test_the_budget_cap_stops_the_run_midway(chain: Chain) -> None:
    for _ in range(5):
        chain.member("09-01")
    # 200 points at 1,000 Rial each plus one text part (1,500 Rial): 201,500 Rial a member.
    chain.add("birthday", dict(_birthday(), guardrails={"period": "year", "budget_rial": 450_000}))
    assert chain.run(_at("2026-11-22")) == {"birthday": {"acted": 2, "skipped:budget": 3}}
    assert len(chain.texts()) == chain.count_rows(grants) == 2
    assert chain.run(_at("2026-11-23")) == {"birthday": {}}  # the year's entries stand


def test_win_back_sends_a_coupon_code_to_the_members_gone_quiet(chain: Chain) -> None:
    gone = chain.member(last_purchase=_at("2026-08-01"))
    chain.member(last_purchase=_at("2026-11-01"))  # came last month: not gone
    chain.member()  # never bought: not a win-back case
    chain.add("win-back", dict(LIBRARY["win-back"], control_pct=0))
    assert chain.run(_at("2026-11-22")) == {"win-back": {"acted": 1}}
    with chain.engine.connect() as conn:
        code = conn.execute(
            sa.select(coupons.c.code).where(coupons.c.member_id == gone)
        ).scalar_one()
    assert code in chain.texts()[0]["text"]


def test_preview_lists_decisions_and_writes_nothing(chain: Chain) -> None:
    chain.member("09-01")
    chain.member("09-01", consent=False)
    chain.add("birthday", _birthday())
    decisions = chain.preview(_at("2026-11-22"))
    assert sorted(d["actions"][-1] for d in decisions) == [
        "sms:A",
        "sms:skipped:no_consent",
    ] or sorted(d["actions"][-1] for d in decisions) == ["sms:B", "sms:skipped:no_consent"]
    assert chain.count_rows(scenario_entries) == chain.count_rows(grants) == 0
    assert chain.texts() == []


def test_a_switched_off_scenario_does_nothing(chain: Chain) -> None:
    chain.member("09-01")
    chain.add("birthday", _birthday())
    with chain.engine.begin() as conn:
        store.switch(conn, "birthday", False)
    assert chain.run(_at("2026-11-22")) == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trigger": {"type": "moon"}}, "trigger.type"),
        ({"actions": []}, "actions"),
        ({"actions": [{"type": "sms", "variants": ["a", "b", "c"]}]}, "actions[0].variants"),
        ({"actions": [{"type": "points", "amount": 0}]}, "actions[0].amount"),
        ({"control_pct": 95}, "control_pct"),
        ({"guardrails": {"period": "decade"}}, "guardrails.period"),
    ],
)
def test_a_malformed_scenario_is_refused_naming_the_field(
    chain: Chain, change: dict, field: str
) -> None:  # type: ignore[type-arg]
    with pytest.raises(BadRequest) as refused:
        chain.add("bad", dict(_birthday(), **change))
    assert refused.value.field == field


def test_every_library_scenario_parses() -> None:
    for scenario_id, definition in LIBRARY.items():
        assert parse(scenario_id, definition).actions


def test_uplift_compares_treated_with_control_on_hand_checked_numbers(chain: Chain) -> None:
    """4 treated members (3 return, spending 100k, 200k, 300k Rials) against 4 in control (1
    returns with 100k): return rate 0.75 vs 0.25, revenue per member 150k vs 25k."""
    from cloud.scenarios.uplift import report

    chain.add("birthday", _birthday())
    entered = _at("2026-11-01")
    spending = {"A": [100_000, 200_000, 300_000, 0], "control": [100_000, 0, 0, 0]}
    people = {arm: [chain.member() for _ in amounts] for arm, amounts in spending.items()}
    with chain.engine.begin() as conn:
        for arm, amounts in spending.items():
            for member_id, amount in zip(people[arm], amounts, strict=True):
                conn.execute(
                    sa.insert(scenario_entries).values(
                        id=f"x{member_id[-8:]}",
                        scenario_id="birthday",
                        member_id=member_id,
                        period="1405",
                        arm=arm,
                        outcome="acted" if arm == "A" else "control",
                        cost_rial=0,
                        created_at=entered,
                    )
                )
                purchases = [(amount, entered + dt.timedelta(days=3))] if amount else []
                purchases += [
                    (999_000, entered - dt.timedelta(days=1)),  # before: not counted
                    (999_000, entered + dt.timedelta(days=45)),
                ]  # after 30 days
                for n, (rial, at) in enumerate(purchases):
                    sale_id = f"{member_id[-12:]}{n}"
                    conn.execute(
                        sa.text(
                            "INSERT INTO events (id, terminal_id, seq, kind, digest, received_at)"
                            " VALUES (:e, :t, :s, 'sale.completed', 'd', :at)"
                        ),
                        {"e": sale_id, "t": "t" * 32, "s": int(member_id, 16) * 10 + n, "at": at},
                    )
                    conn.execute(
                        sa.insert(sales).values(
                            id=sale_id,
                            event_id=sale_id,
                            member_id=member_id,
                            store_id=chain.store_id,
                            terminal_id="t" * 32,
                            receipt_no=n,
                            amount_rial=rial,
                            points_earned=0,
                            points_redeemed=0,
                            channel="in_store",
                            terminal_time="",
                            received_at=at,
                        )
                    )
    with chain.engine.connect() as conn:
        result = report(conn, "birthday", "1405", days=30)
    assert (result.treated.members, result.treated.returned) == (4, 3)
    assert (result.control.members, result.control.returned) == (4, 1)
    assert result.return_rate_diff == pytest.approx(0.5)
    assert result.return_rate_ci == pytest.approx((0.5 - 0.600114, 0.5 + 0.600114), abs=1e-5)
    assert result.revenue_diff == pytest.approx(125_000)
    assert result.revenue_ci == pytest.approx((125_000 - 135_670, 125_000 + 135_670), abs=10)


def test_first_order_anniversary_on_the_jalali_day_a_year_later(chain: Chain) -> None:
    # 1404-09-01 = 2025-11-22; a year later, 1405-09-01 = 2026-11-22.
    veteran = chain.member(last_purchase=_at("2025-11-22", dt.time(12, 0)))
    chain.member(last_purchase=_at("2025-11-23", dt.time(12, 0)))  # a day off
    chain.member(last_purchase=_at("2026-11-22", dt.time(9, 0)))  # today: no anniversary
    chain.add("anniversary", dict(LIBRARY["first-order-anniversary"], control_pct=0))
    assert {d["member_id"] for d in chain.preview(_at("2026-11-22"))} == {veteran}


def test_occasions_come_from_the_editable_table(chain: Chain) -> None:
    from cloud.scenarios.library import OCCASIONS

    members_now = {chain.member(), chain.member()}
    chain.add("yalda", dict(LIBRARY["yalda"], control_pct=0, conditions={}))  # everyone
    assert chain.preview(_at("2026-12-21")) == []  # 30 Azar 1405: not in the table yet
    with chain.engine.begin() as conn:
        store.set_occasions(conn, OCCASIONS)
        with pytest.raises(BadRequest, match="no such Jalali date"):
            store.set_occasions(conn, [{"jalali_date": "1405-13-01", "key": "x", "name_fa": "x"}])
    assert {d["member_id"] for d in chain.preview(_at("2026-12-21"))} == members_now
    assert chain.preview(_at("2026-12-22")) == []

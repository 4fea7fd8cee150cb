"""Event and state triggers, demographic conditions, on SQLite and PostgreSQL.

Purchases and enrolments arrive through the real signed sync endpoint and run their
scenarios once the batch commits; everything else is put straight into the tables, with
UTC times as the cloud writes them, and read back through ``preview`` and ``run_day``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.errors import BadRequest
from cloud.fleet import create_store
from cloud.scenarios import events as scenario_events
from cloud.scenarios import store
from cloud.scenarios.library import LIBRARY
from cloud.scenarios.model import AGE_GROUPS, age_group, parse
from cloud.sms.providers import FileProvider
from cloud.tables import (
    grants,
    members,
    referral_rewards,
    sales,
    scenario_entries,
    scenarios,
    segment_changes,
    terminals,
)
from common.persian import TEHRAN
from common.protocol import new_id
from common.referral import referral_code
from tests.cloud.test_ingest import Till, enrolment, sale

POINTS = [{"type": "points", "amount": 100, "note": "هدیه"}]


def _at(day: str, clock: dt.time = dt.time(10, 0)) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), clock, TEHRAN)


def _utc(day: str, clock: dt.time = dt.time(10, 0)) -> dt.datetime:
    return _at(day, clock).astimezone(dt.UTC)  # as the cloud stores its times


def _scenario(trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name_fa": "آزمون", "trigger": trigger, "actions": POINTS, "control_pct": 0} | extra


class Chain:
    """Members, sales and segment history put straight into a cloud's tables."""

    def __init__(self, app: Flask, folder: Path) -> None:
        self.engine: sa.Engine = app.extensions["vafa"].engine
        self.vault = app.extensions["vafa"].vault
        self.sms = FileProvider(folder / "sms.jsonl")
        self.count = 0
        with self.engine.begin() as conn:
            self.store_id = create_store(conn, "ونک")
            conn.execute(
                sa.insert(terminals).values(
                    id="t" * 32,
                    store_id=self.store_id,
                    public_key="k",
                    created_at=_utc("2025-01-01"),
                )
            )

    def member(self, consent: bool = True, **columns: Any) -> str:
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
                    enrolled_at=_utc("2025-01-01"),
                    **columns,
                )
            )
        return member_id

    def bought(self, member_id: str, *days: str, amount: int = 500_000) -> None:
        with self.engine.begin() as conn:
            for day in days:
                self.count += 1
                sale_id = f"s{self.count:031d}"
                conn.execute(
                    sa.text(
                        "INSERT INTO events (id, terminal_id, seq, kind, digest, received_at)"
                        " VALUES (:e, :t, :n, 'sale.completed', 'd', :at)"
                    ),
                    {"e": sale_id, "t": "t" * 32, "n": self.count, "at": _utc(day)},
                )
                conn.execute(
                    sa.insert(sales).values(
                        id=sale_id,
                        event_id=sale_id,
                        member_id=member_id,
                        store_id=self.store_id,
                        terminal_id="t" * 32,
                        receipt_no=self.count,
                        amount_rial=amount,
                        points_earned=0,
                        points_redeemed=0,
                        channel="in_store",
                        terminal_time="",
                        received_at=_utc(day),
                    )
                )

    def changed(self, day: str, **moves: tuple[str, str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(segment_changes),
                [
                    {
                        "member_id": m,
                        "changed_on": dt.date.fromisoformat(day),
                        "from_segment": was,
                        "to_segment": became,
                    }
                    for m, (was, became) in moves.items()
                ],
            )

    def add(self, scenario_id: str, definition: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            store.save(conn, scenario_id, definition)

    def named(self, moment: dt.datetime) -> set[str]:
        with self.engine.connect() as conn:
            return {d["member_id"] for d in store.preview(conn, self.vault, moment)}

    def run(self, moment: dt.datetime) -> dict[str, dict[str, int]]:
        return store.run_day(self.engine, self.vault, self.sms, moment)

    def scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()


@pytest.fixture
def chain(cloud_app_any: Flask, tmp_path: Path) -> Chain:
    return Chain(cloud_app_any, tmp_path)


def _grants_for(engine: sa.Engine, member_id: str, reason: str) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(grants.c.amount).where(
                    grants.c.member_id == member_id, grants.c.reason == reason
                )
            ).scalars()
        )


# -- event triggers through the sync endpoint --------------------------------------------


def test_a_big_purchase_is_rewarded_at_sync_once_even_when_sent_twice(
    cloud_app_any: Flask,
) -> None:
    till = Till(cloud_app_any)
    with till.engine.begin() as conn:
        store.save(
            conn,
            "big-basket",
            _scenario(
                {"type": "purchase", "min_amount_rial": 2_000_000},
                guardrails={"period": "event"},
            ),
        )
    member_id = new_id()
    big, small = sale(2, member_id, amount=3_000_000), sale(3, member_id, amount=900_000)
    batch = [enrolment(1, member_id), big, small]
    assert till.statuses(batch) == ["applied"] * 3
    assert _grants_for(till.engine, member_id, "scenario:big-basket") == [100]
    assert till.statuses(batch) == ["duplicate"] * 3  # delivered twice
    second_big = sale(4, member_id, amount=2_000_000)
    assert till.statuses([second_big]) == ["applied"]  # a new event: its own entry
    assert _grants_for(till.engine, member_id, "scenario:big-basket") == [100, 100]
    # The daily run sees today's sales again and does nothing more.
    provider = FileProvider(Path(cloud_app_any.instance_path) / "sms.jsonl")
    vault = cloud_app_any.extensions["vafa"].vault
    now = dt.datetime.now(TEHRAN)
    assert store.run_day(till.engine, vault, provider, now) == {"big-basket": {}}
    assert len(_grants_for(till.engine, member_id, "scenario:big-basket")) == 2
    assert till.count(scenario_entries) == 2


def test_enrolment_runs_the_welcome_at_sync(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    with till.engine.begin() as conn:
        store.save(conn, "welcome", _scenario({"type": "enrolment"}, guardrails={"period": "once"}))
    member_id = new_id()
    assert till.statuses([enrolment(1, member_id)]) == ["applied"]
    assert _grants_for(till.engine, member_id, "scenario:welcome") == [100]


def test_the_referrer_is_thanked_when_the_referee_first_buys(
    cloud_app_any: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thanks carries a text: outside the texting hours (after 21:00 Tehran) the whole
    # decision waits for the daily run, so the sync-time run is held at noon.
    noon = dt.datetime.now(TEHRAN).replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(scenario_events, "now_tehran", lambda: noon)
    till = Till(cloud_app_any)
    with till.engine.begin() as conn:
        store.save(conn, "referral", dict(LIBRARY["referral-thanks"], control_pct=0))
    referrer, referee = new_id(), new_id()
    joined = enrolment(2, referee, mobile="09121234568")
    joined["payload"]["referred_by"] = referral_code(referrer)
    assert till.statuses([enrolment(1, referrer), joined]) == ["applied"] * 2
    reason = "scenario:referral"
    assert _grants_for(till.engine, referrer, reason) == []  # no purchase yet
    assert till.statuses([sale(3, referee)]) == ["applied"]
    assert _grants_for(till.engine, referrer, reason) == [
        LIBRARY["referral-thanks"]["actions"][0]["amount"]
    ]
    assert _grants_for(till.engine, referee, reason) == []  # the referrer's scenario
    assert till.statuses([sale(4, referee)]) == ["applied"]  # not a first purchase
    assert len(_grants_for(till.engine, referrer, reason)) == 1


def test_a_failing_scenario_run_neither_refuses_nor_undoes_the_batch(
    cloud_app_any: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    till = Till(cloud_app_any)
    with till.engine.begin() as conn:
        store.save(conn, "thanks", _scenario({"type": "purchase"}))
    cloud_app_any.config["SMS_PROVIDER"] = "pigeon"  # a misconfigured SMS provider
    member_id = new_id()
    with caplog.at_level(logging.ERROR, logger="cloud.scenarios.events"):
        assert till.statuses([enrolment(1, member_id), sale(2, member_id)]) == ["applied"] * 2
    assert till.count(sales) == 1 and till.count(scenario_entries) == 0
    assert "the daily run will catch up" in caplog.text
    # Mended, the daily run acts on the sale it missed.
    provider = FileProvider(Path(cloud_app_any.instance_path) / "sms.jsonl")
    vault = cloud_app_any.extensions["vafa"].vault
    assert store.run_day(till.engine, vault, provider, dt.datetime.now(TEHRAN)) == {
        "thanks": {"acted": 1}
    }


def test_a_stored_scenario_that_no_longer_parses_does_not_stop_the_others(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    buyer = chain.member()
    chain.bought(buyer, "2026-11-22")
    chain.add("thanks", _scenario({"type": "purchase"}))
    with chain.engine.begin() as conn:
        conn.execute(
            sa.insert(scenarios).values(
                id="broken", definition="{not json", enabled=True, updated_at=_utc("2026-11-22")
            )
        )
    with caplog.at_level(logging.ERROR, logger="cloud.scenarios.store"):
        assert chain.run(_at("2026-11-22")) == {"thanks": {"acted": 1}}
    assert "scenario broken is left out" in caplog.text


def test_a_refunded_purchase_triggers_nothing_later(chain: Chain) -> None:
    buyer = chain.member()
    chain.bought(buyer, "2026-11-21")
    chain.add("thanks", _scenario({"type": "purchase"}))
    assert chain.named(_at("2026-11-22")) == {buyer}  # yesterday's sale: caught up today
    assert chain.named(_at("2026-11-23")) == set()  # two days on: out of the window
    with chain.engine.begin() as conn:
        conn.execute(sa.update(sales).values(refunded_at=_utc("2026-11-21", dt.time(18))))
    assert chain.named(_at("2026-11-22")) == set()


def test_per_event_entries_act_on_each_purchase_and_a_rerun_on_none(chain: Chain) -> None:
    buyer = chain.member()
    chain.bought(buyer, "2026-11-22", "2026-11-22", amount=3_000_000)
    chain.add("each", _scenario({"type": "purchase"}, guardrails={"period": "event"}))
    chain.add("monthly", _scenario({"type": "purchase"}, guardrails={"period": "month"}))
    assert chain.run(_at("2026-11-22", dt.time(22))) == {
        "each": {"acted": 2},
        "monthly": {"acted": 1},
    }
    assert chain.run(_at("2026-11-23")) == {"each": {}, "monthly": {}}
    with chain.engine.connect() as conn:
        periods = sorted(
            conn.execute(
                sa.select(scenario_entries.c.period).where(scenario_entries.c.scenario_id == "each")
            ).scalars()
        )
    assert len(periods) == 2 and all(p.startswith("1405-09/") for p in periods)


# -- state triggers ----------------------------------------------------------------------


def test_a_rising_purchase_rate_is_rewarded_after_the_order(chain: Chain) -> None:
    """Every 10 days, then every 3: the last two intervals (3, 3) are at most half the
    earlier mean (10). A steady member and one with too few purchases are not named."""
    rising, steady, few = chain.member(), chain.member(), chain.member()
    chain.bought(rising, "2026-10-20", "2026-10-30", "2026-11-09", "2026-11-19", "2026-11-22")
    chain.bought(rising, "2026-11-16")  # order does not matter: 20, 30, 9, 16, 19, 22
    chain.bought(steady, "2026-10-23", "2026-11-02", "2026-11-12", "2026-11-22")
    chain.bought(few, "2026-11-02", "2026-11-19", "2026-11-22")
    chain.add("rising", dict(LIBRARY["rising-rate"], control_pct=0))
    assert chain.named(_at("2026-11-22")) == {rising}
    assert chain.named(_at("2026-11-25")) == set()  # no purchase in the window
    chain.run(_at("2026-11-22"))
    chain.bought(rising, "2026-11-23")  # still rising, but the quarter's entry stands
    assert chain.named(_at("2026-11-23")) == set()


def test_a_gap_longer_than_k_times_the_members_own_interval(chain: Chain) -> None:
    weekly, monthly, once = chain.member(), chain.member(), chain.member()
    chain.bought(weekly, "2026-10-01", "2026-10-08", "2026-10-15", "2026-10-22")  # 7 days
    chain.bought(monthly, "2026-07-24", "2026-08-23", "2026-09-22", "2026-10-22")  # 30 days
    chain.bought(once, "2026-01-01")
    chain.add("gap", _scenario({"type": "gap", "k": 3}))
    # 31 days after the last purchase: 31 > 3 x 7 for the weekly buyer, not > 3 x 30.
    assert chain.named(_at("2026-11-22")) == {weekly}
    assert chain.named(_at("2026-10-30")) == set()  # 8 days: within 3 x 7


def test_segment_change_and_rfm_drop_read_the_analytics_runs_changes(chain: Chain) -> None:
    slipping, cooling, earlier = (chain.member() for _ in range(3))
    chain.changed("2026-11-17", **{earlier: ("loyal", "lost")})  # too long ago
    chain.changed("2026-11-21", **{slipping: ("loyal", "at_risk"), cooling: ("vip", "loyal")})
    chain.add("moved", _scenario({"type": "segment_change", "to": ["at_risk", "loyal"]}))
    assert chain.named(_at("2026-11-22")) == {slipping, cooling}
    chain.add("moved", _scenario({"type": "segment_change", "from": ["vip"]}))
    assert chain.named(_at("2026-11-22")) == {cooling}
    # loyal (4 + 4) to at_risk (1.5 + 3.5) drops 3 points; vip (9) to loyal (8) drops 1.
    chain.add("moved", _scenario({"type": "rfm_drop", "points": 2}))
    assert chain.named(_at("2026-11-22")) == {slipping}
    assert chain.named(_at("2026-11-24")) == set()  # the change is 3 days old: stale
    assert chain.run(_at("2026-11-22")) == {"moved": {"acted": 1}}
    assert chain.named(_at("2026-11-23")) == set()  # the same change, once (period year)


def test_inactive_members_after_n_days(chain: Chain) -> None:
    gone, here = chain.member(), chain.member()
    chain.bought(gone, "2026-09-01")
    chain.bought(here, "2026-11-01")
    chain.add("quiet", _scenario({"type": "inactive", "days": 45}))
    assert chain.named(_at("2026-11-22")) == {gone}


# -- demographic conditions --------------------------------------------------------------


def test_conditions_on_gender_province_city_and_age_group(chain: Chain) -> None:
    # 1405 is the Jalali year of 2026-11-22: born 1380 is 25, born 1340 is 65.
    young_tehran = chain.member(gender="f", province="تهران", city="تهران", birth_year=1380)
    old_tehran = chain.member(gender="m", province="تهران", city="ورامین", birth_year=1340)
    young_isfahan = chain.member(gender="f", province="اصفهان", city="کاشان", birth_year=1383)
    unknown = chain.member()
    everyone = {young_tehran, old_tehran, young_isfahan, unknown}
    tier = {"type": "tier", "tiers": ["normal"]}
    cases = [
        ({}, everyone),
        ({"genders": ["f"]}, {young_tehran, young_isfahan}),
        ({"provinces": ["تهران"]}, {young_tehran, old_tehran}),
        ({"cities": ["کاشان", "ورامین"]}, {young_isfahan, old_tehran}),
        ({"age_groups": ["65_plus"]}, {old_tehran}),
        ({"age_groups": ["18_24", "25_34"]}, {young_tehran, young_isfahan}),
        ({"age_groups": ["25_34"], "provinces": ["تهران"]}, {young_tehran}),
        ({"genders": ["m"], "cities": ["کاشان"]}, set()),
    ]
    for conditions, expected in cases:
        chain.add("audience", _scenario(tier, conditions=conditions))
        assert chain.named(_at("2026-11-22")) == expected, conditions


def test_age_groups_are_named_once_and_cover_every_age() -> None:
    assert age_group(1380, 1405) == "25_34" and age_group(1386, 1405) == "18_24"
    assert age_group(1388, 1405) == "under_18" and age_group(1300, 1405) == "65_plus"
    assert age_group(None, 1405) is None
    assert {age_group(1405 - age, 1405) for age in range(0, 110)} == set(AGE_GROUPS)
    assert all("سال" in label for *_, label in AGE_GROUPS.values())


def test_nowruz_by_province_and_yalda_by_age_from_the_library(chain: Chain) -> None:
    from cloud.scenarios.library import OCCASIONS

    assert LIBRARY["nowruz"]["conditions"].get("provinces")
    assert LIBRARY["yalda"]["conditions"].get("age_groups")
    inside = chain.member(province=LIBRARY["nowruz"]["conditions"]["provinces"][0])
    elsewhere = chain.member(province="کردستان")
    young = chain.member(birth_year=1405 - 30)
    with chain.engine.begin() as conn:
        store.set_occasions(conn, OCCASIONS)
    chain.add("yalda", dict(LIBRARY["yalda"], control_pct=0))
    chain.add("nowruz", dict(LIBRARY["nowruz"], control_pct=0))
    assert chain.named(_at("2026-12-21")) == {young}  # 30 Azar 1405: Yalda, by age
    assert chain.named(_at("2027-03-21")) == {inside}  # 1 Farvardin 1406: Nowruz, by province
    assert elsewhere not in chain.named(_at("2027-03-21"))


@pytest.mark.parametrize(
    ("trigger", "conditions", "field"),
    [
        ({"type": "purchase", "min_amount_rial": -1}, {}, "trigger.min_amount_rial"),
        ({"type": "gap"}, {}, "trigger.k"),
        ({"type": "gap", "k": 0.5}, {}, "trigger.k"),
        ({"type": "rising_rate", "ratio": 1.5}, {}, "trigger.ratio"),
        ({"type": "rising_rate", "min_purchases": 3}, {}, "trigger.min_purchases"),
        ({"type": "segment_change", "to": ["gold"]}, {}, "trigger.to"),
        ({"type": "rfm_drop", "points": 0}, {}, "trigger.points"),
        ({"type": "tier", "tiers": ["vip"]}, {"genders": ["x"]}, "conditions.genders"),
        ({"type": "tier", "tiers": ["vip"]}, {"age_groups": ["teen"]}, "conditions.age_groups"),
        ({"type": "tier", "tiers": ["vip"]}, {"provinces": "تهران"}, "conditions.provinces"),
        ({"type": "tier", "tiers": ["vip"]}, {"cities": ["x" * 61]}, "conditions.cities"),
    ],
)
def test_new_triggers_and_conditions_are_checked_naming_the_field(
    trigger: dict[str, Any], conditions: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        parse("bad", _scenario(trigger, conditions=conditions))
    assert refused.value.field == field


def test_period_event_needs_an_event_trigger() -> None:
    with pytest.raises(BadRequest) as refused:
        parse("bad", _scenario({"type": "tier", "tiers": ["vip"]}, guardrails={"period": "event"}))
    assert refused.value.field == "guardrails.period"
    assert parse("ok", _scenario({"type": "referral"}, guardrails={"period": "event"}))


# -- the CLI preview ---------------------------------------------------------------------


def test_cli_preview_json_lists_the_new_triggers_and_sends_nothing(
    chain: Chain, cloud_app_any: Flask
) -> None:
    buyer = chain.member(gender="f", province="تهران", birth_year=1380)
    other = chain.member(gender="m", province="تهران", birth_year=1380)
    chain.bought(buyer, "2026-11-22", amount=3_000_000)
    chain.bought(other, "2026-11-22", amount=3_000_000)
    chain.add(
        "big",
        _scenario(
            {"type": "purchase", "min_amount_rial": 2_000_000},
            conditions={"genders": ["f"], "age_groups": ["25_34"]},
            guardrails={"period": "event"},
        ),
    )
    url = chain.engine.url.render_as_string(hide_password=False)
    keys = str(Path(cloud_app_any.config["PII_KEY_FILE"]).parent)  # --instance: its pii.key
    argv = ["--instance", keys, "--database", url, "scenarios", "preview", "--date", "2026-11-22"]
    done = subprocess.run(  # a process of its own, as HQ runs it
        [sys.executable, "-m", "cloud", *argv, "--json"], capture_output=True, text=True, check=True
    )
    decisions = json.loads(done.stdout)
    assert [(d["scenario_id"], d["member_id"], d["outcome"]) for d in decisions] == [
        ("big", buyer, "acted")
    ]
    assert decisions[0]["actions"] == ["points:100"] and decisions[0]["event"].startswith("s")
    assert decisions[0]["period"].startswith("1405-09/")
    text = subprocess.run(
        [sys.executable, "-m", "cloud", *argv], capture_output=True, text=True, check=True
    ).stdout
    assert text.split("\t") == [
        "big",
        buyer,
        decisions[0]["arm"],
        "acted",
        "points:100",
        decisions[0]["period"],
        decisions[0]["event"] + "\n",
    ]
    assert chain.scalar(sa.select(sa.func.count()).select_from(scenario_entries)) == 0
    assert chain.scalar(sa.select(sa.func.count()).select_from(grants)) == 0


def test_a_run_that_loses_the_race_gives_nothing(chain: Chain) -> None:
    """The sync's immediate run and the daily run decide the same sale at once: the second
    to write its entry fails on the unique key before any grant, and says so."""
    from cloud.scenarios.engine import decide
    from cloud.scenarios.store import _act_once, load

    buyer = chain.member()
    chain.bought(buyer, "2026-11-22")
    chain.add("thanks", _scenario({"type": "purchase"}, guardrails={"period": "event"}))
    moment = _at("2026-11-22", dt.time(12))
    with chain.engine.connect() as conn:
        (scenario,) = load(conn)
        (stale,) = decide(conn, chain.vault, scenario, moment)  # decided before the other ran
    assert chain.run(moment) == {"thanks": {"acted": 1}}
    assert _act_once(chain.engine, chain.vault, chain.sms, scenario, stale, moment) == "duplicate"
    assert _grants_for(chain.engine, buyer, "scenario:thanks") == [100]


def test_uplift_counts_per_event_entries_in_their_month_and_year(chain: Chain) -> None:
    from cloud.scenarios.uplift import report

    buyer = chain.member()
    chain.bought(buyer, "2026-11-22", "2026-11-23")
    chain.add("each", _scenario({"type": "purchase"}, guardrails={"period": "event"}))
    chain.run(_at("2026-11-23"))
    with chain.engine.connect() as conn:
        assert report(conn, "each", "1405-09").treated.members == 2
        assert report(conn, "each", "1405").treated.members == 2
        assert report(conn, "each", "1405-08").treated.members == 0
        assert report(conn, "each", "1405-Q3").treated.members == 0  # no per-event quarters


def test_the_analytics_age_groups_are_the_scenarios_ones() -> None:
    from cloud.analytics.demographics import AGE_GROUPS as CHARTED

    assert [(key, youngest) for key, (youngest, *_) in AGE_GROUPS.items()] == list(CHARTED)


def test_the_guides_scenario_examples_are_valid() -> None:
    import re

    guide = (Path(__file__).parents[3] / "docs" / "hq-campaigns.fa.md").read_text()
    examples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", guide, re.S)]
    scenarios_shown = [e for e in examples if isinstance(e, dict) and "trigger" in e]
    assert scenarios_shown and all(parse("example", e).actions for e in scenarios_shown)


def test_a_referral_past_the_monthly_cap_triggers_nothing(chain: Chain) -> None:
    rewarded_referrer, capped_referrer = chain.member(), chain.member()
    referees = chain.member(), chain.member()
    with chain.engine.begin() as conn:
        for referee, referrer, outcome in (
            (referees[0], rewarded_referrer, "rewarded"),
            (referees[1], capped_referrer, "capped"),
        ):
            conn.execute(
                sa.insert(referral_rewards).values(
                    referred_id=referee,
                    referrer_id=referrer,
                    month="1405-09",
                    outcome=outcome,
                    created_at=_utc("2026-11-22", dt.time(9)),
                )
            )
    chain.add("thanks", _scenario({"type": "referral"}, guardrails={"period": "event"}))
    assert chain.named(_at("2026-11-22")) == {rewarded_referrer}


def test_one_batch_of_many_buyers_runs_each_once(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    with till.engine.begin() as conn:
        store.save(conn, "thanks", _scenario({"type": "purchase"}, guardrails={"period": "event"}))
    buyers = [new_id() for _ in range(12)]
    batch = [enrolment(n + 1, m, mobile=f"0912100{n:04d}") for n, m in enumerate(buyers)]
    batch += [sale(100 + n, m) for n, m in enumerate(buyers + buyers[:3])]  # 3 buy twice
    assert set(till.statuses(batch)) == {"applied"}
    given = {m: _grants_for(till.engine, m, "scenario:thanks") for m in buyers}
    assert given == {m: [100, 100] if m in buyers[:3] else [100] for m in buyers}


def test_out_of_time_at_sync_leaves_the_rest_to_the_daily_run(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    buyers = [chain.member() for _ in range(3)]
    for buyer in buyers:
        chain.bought(buyer, "2026-11-22")
    chain.add("thanks", _scenario({"type": "purchase"}))
    moment = _at("2026-11-22", dt.time(12))
    received = [("purchase", buyer) for buyer in buyers]
    with caplog.at_level(logging.WARNING, logger="cloud.scenarios.store"):
        done = store.run_events(chain.engine, chain.vault, chain.sms, moment, received, seconds=0)
    assert done == {} and "3 scenario decisions left to the daily run" in caplog.text
    assert chain.scalar(sa.select(sa.func.count()).select_from(grants)) == 0
    assert chain.run(_at("2026-11-23")) == {"thanks": {"acted": 3}}  # the day after

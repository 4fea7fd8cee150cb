"""Evaluate scenarios for a day and act on them, once per member per scenario per period.

For each enabled scenario: find the members its trigger names for the day, keep those its
conditions accept, drop those already entered this period, split off the control group by
a hash of (scenario, member) — stable across reruns — and act on the rest within the
guardrails: marketing consent and the weekly SMS cap for texts, the Tehran sending window
(texts outside it wait for a later run), and the budget. Every decision is an entry; a
preview computes the same decisions and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import jdatetime
import sqlalchemy as sa

from cloud.coupons import create_coupon
from cloud.grants import create_grant
from cloud.scenarios.model import Scenario
from cloud.sms.providers import SmsProvider
from cloud.sms.sending import WINDOW, in_window, send_to_member
from cloud.sms.text import parts, render, with_opt_out
from cloud.snapshots import get_rules
from cloud.storage import utcnow
from cloud.tables import feedback, members, occasions, sales, scenario_entries, sms_messages
from common.persian import TEHRAN, birthday_lookup
from common.pii import PiiVault
from common.protocol import new_id

SMS_PART_COST_RIAL = 1_500  # what one Persian SMS part costs, for the budget


@dataclass
class Decision:
    """What a scenario does for one member on one day."""

    scenario_id: str
    member_id: str
    arm: str  # control, A or B
    outcome: str  # acted, control, deferred, skipped:<why>
    actions: list[str] = field(default_factory=list)
    cost_rial: int = 0


def period_key(period: str, day: dt.date) -> str:
    """Return the Jalali period a day falls in (e.g. 1405, 1405-09, 1405-Q3)."""
    jalali = jdatetime.date.fromgregorian(date=day)
    if period == "day":
        return f"{jalali.year}-{jalali.month:02d}-{jalali.day:02d}"
    if period == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if period == "month":
        return f"{jalali.year}-{jalali.month:02d}"
    if period == "quarter":
        return f"{jalali.year}-Q{(jalali.month - 1) // 3 + 1}"
    if period == "year":
        return str(jalali.year)
    return "once"


def arm_of(scenario: Scenario, member_id: str, variants: int) -> str:
    """Place a member in the control group or a variant, the same way every run."""
    digest = hashlib.sha256(f"{scenario.id}:{member_id}".encode()).digest()
    if int.from_bytes(digest[:4], "big") % 100 < scenario.control_pct:
        return "control"
    return "B" if variants > 1 and digest[4] % 2 else "A"


def candidates(conn: sa.Connection, vault: PiiVault, scenario: Scenario, day: dt.date) -> list[str]:
    """Return the ids of members the trigger and conditions name for the day."""
    trigger = scenario.trigger
    query = sa.select(members.c.id)
    if trigger["type"] == "birthday":
        jalali = jdatetime.date.fromgregorian(date=day)
        days = [(jalali.month, jalali.day)]
        if (jalali.month, jalali.day) == (12, 29) and not jalali.isleap():
            days.append((12, 30))  # the 30 Esfand rule: greeted on 29 Esfand
        hashes = [birthday_lookup(vault, f"{m:02d}-{d:02d}") for m, d in days]
        query = query.where(members.c.birthday_hmac.in_(hashes))
    elif trigger["type"] == "inactive":
        start = dt.datetime.combine(day, dt.time(), TEHRAN)
        cutoff = start - dt.timedelta(days=int(trigger["days"]))
        last = (
            sa.select(sales.c.member_id)
            .group_by(sales.c.member_id)
            .having(sa.func.max(sales.c.received_at) < cutoff)
        )
        query = query.where(members.c.id.in_(last))
    elif trigger["type"] == "anniversary":
        query = query.where(members.c.id.in_(_first_bought_on_this_day(conn, day)))
    elif trigger["type"] == "occasion":
        today = jdatetime.date.fromgregorian(date=day).strftime("%Y-%m-%d")
        found = conn.execute(
            sa.select(occasions.c.key).where(
                occasions.c.jalali_date == today, occasions.c.key == trigger["occasion"]
            )
        ).first()
        if found is None:
            return []
    elif trigger["type"] == "feedback":
        since = dt.datetime.combine(day, dt.time(), TEHRAN) - dt.timedelta(days=1)
        unhappy = sa.select(feedback.c.member_id).where(
            feedback.c.nps <= int(trigger["max_nps"]), feedback.c.created_at >= since
        )
        query = query.where(members.c.id.in_(unhappy))
    else:
        query = query.where(members.c.tier.in_(trigger["tiers"]))
    conditions = scenario.conditions
    if "tiers" in conditions:
        query = query.where(members.c.tier.in_(conditions["tiers"]))
    if conditions.get("stores"):
        query = query.where(members.c.home_store_id.in_(conditions["stores"]))
    if conditions.get("min_spend_rial"):
        spenders = (
            sa.select(sales.c.member_id)
            .group_by(sales.c.member_id)
            .having(sa.func.sum(sales.c.amount_rial) >= int(conditions["min_spend_rial"]))
        )
        query = query.where(members.c.id.in_(spenders))
    return list(conn.execute(query.order_by(members.c.id)).scalars())


def _first_bought_on_this_day(conn: sa.Connection, day: dt.date) -> list[str]:
    """Return members whose first purchase fell on this Jalali month and day, years ago."""
    today = jdatetime.date.fromgregorian(date=day)
    year_ago = dt.datetime.combine(day, dt.time(), TEHRAN) - dt.timedelta(days=360)
    firsts = conn.execute(
        sa.select(sales.c.member_id, sa.func.min(sales.c.received_at))
        .group_by(sales.c.member_id)
        .having(sa.func.min(sales.c.received_at) < year_ago)
    )
    found = []
    for member_id, first in firsts:
        moment = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
        jalali = jdatetime.date.fromgregorian(date=moment.astimezone(TEHRAN).date())
        if (jalali.month, jalali.day) == (today.month, today.day) and jalali.year < today.year:
            found.append(member_id)
    return found


def decide(
    conn: sa.Connection,
    vault: PiiVault,
    scenario: Scenario,
    moment: dt.datetime,
    window: tuple[dt.time, dt.time] = WINDOW,
    only_member: str | None = None,
) -> list[Decision]:
    """Compute the day's decisions of one scenario without acting on them."""
    day = moment.astimezone(TEHRAN).date()
    period = period_key(scenario.period, day)
    entered = set(
        conn.execute(
            sa.select(scenario_entries.c.member_id).where(
                scenario_entries.c.scenario_id == scenario.id, scenario_entries.c.period == period
            )
        ).scalars()
    )
    spent = int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(scenario_entries.c.cost_rial), 0)).where(
                scenario_entries.c.scenario_id == scenario.id, scenario_entries.c.period == period
            )
        ).scalar_one()
    )
    point_value = int(get_rules(conn)[0].get("point_value_rial", 1_000))
    sms = next((a for a in scenario.actions if a["type"] == "sms"), None)
    decisions = []
    for member_id in candidates(conn, vault, scenario, day):
        if member_id in entered or (only_member is not None and member_id != only_member):
            continue
        arm = arm_of(scenario, member_id, len(sms["variants"]) if sms else 1)
        decision = Decision(scenario.id, member_id, arm, "control" if arm == "control" else "acted")
        if arm != "control":
            _plan(conn, scenario, decision, sms, moment, window, point_value)
            budget = scenario.budget_rial
            over = budget is not None and spent + decision.cost_rial > budget
            if decision.outcome == "acted" and over:
                decision.outcome, decision.actions, decision.cost_rial = "skipped:budget", [], 0
            spent += decision.cost_rial
        decisions.append(decision)
    return decisions


def _plan(
    conn: sa.Connection,
    scenario: Scenario,
    decision: Decision,
    sms: dict[str, Any] | None,
    moment: dt.datetime,
    window: tuple[dt.time, dt.time],
    point_value: int,
) -> None:
    member = conn.execute(sa.select(members).where(members.c.id == decision.member_id)).one()
    for action in scenario.actions:
        kind = action["type"]
        if kind == "sms":
            reason = _sms_refusal(conn, member, scenario, moment, window)
            if reason == "quiet_hours":
                decision.outcome, decision.actions, decision.cost_rial = "deferred", [], 0
                return
            if reason:
                decision.actions.append(f"sms:skipped:{reason}")
                continue
            text = action["variants"][1 if decision.arm == "B" else 0]
            decision.actions.append(f"sms:{decision.arm}")
            decision.cost_rial += parts(with_opt_out(text)) * SMS_PART_COST_RIAL
        elif kind in ("points", "gift"):
            decision.actions.append(f"{kind}:{action['amount']}")
            decision.cost_rial += int(action["amount"]) * point_value
        elif kind == "credit":
            decision.actions.append(f"credit:{action['amount']}")
            decision.cost_rial += int(action["amount"])
        else:
            decision.actions.append(f"coupon:{action['value_rial']}")
            decision.cost_rial += int(action["value_rial"])


def _sms_refusal(
    conn: sa.Connection,
    member: Any,
    scenario: Scenario,
    moment: dt.datetime,
    window: tuple[dt.time, dt.time],
) -> str:
    if not member.marketing_consent:
        return "no_consent"
    if not in_window(moment, window):
        return "quiet_hours"
    week_ago = moment - dt.timedelta(days=7)
    recent = conn.execute(
        sa.select(sa.func.count()).where(
            sms_messages.c.member_id == member.id,
            sms_messages.c.marketing.is_(True),
            sms_messages.c.created_at >= week_ago,
        )
    ).scalar_one()
    return "weekly_cap" if recent >= scenario.sms_per_week else ""


def act(
    conn: sa.Connection,
    vault: PiiVault,
    provider: SmsProvider,
    scenario: Scenario,
    decision: Decision,
    moment: dt.datetime,
) -> None:
    """Carry out one decision and record its entry, in the caller's transaction."""
    if decision.outcome == "deferred":
        return  # no entry: a run inside the sending window takes it up
    values: dict[str, Any] = {}
    if decision.outcome == "acted":
        name = vault.decrypt(decision.member_id, _name_enc(conn, decision.member_id))
        values = {"نام": name.split()[0] if name.split() else name}
        # Texts last: they name the points and the coupon code the other actions made.
        ordered = sorted(scenario.actions, key=lambda action: action["type"] == "sms")
        for action in ordered:
            _carry_out(conn, vault, provider, scenario, decision, action, values, moment)
    conn.execute(
        sa.insert(scenario_entries).values(
            id=new_id(),
            scenario_id=scenario.id,
            member_id=decision.member_id,
            period=period_key(scenario.period, moment.astimezone(TEHRAN).date()),
            arm=decision.arm,
            outcome=decision.outcome
            if not any(":skipped:" in a for a in decision.actions)
            else f"{decision.outcome}:sms_skipped",
            cost_rial=decision.cost_rial,
            created_at=utcnow(),
        )
    )


def _carry_out(
    conn: sa.Connection,
    vault: PiiVault,
    provider: SmsProvider,
    scenario: Scenario,
    decision: Decision,
    action: dict[str, Any],
    values: dict[str, Any],
    moment: dt.datetime,
) -> None:
    kind, reason = action["type"], f"scenario:{scenario.id}"[:40]
    if kind in ("points", "credit", "gift"):
        grant_kind = "credit" if kind == "credit" else "points"
        note = str(action.get("note", ""))
        create_grant(
            conn,
            decision.member_id,
            grant_kind,
            int(action["amount"]),
            reason,
            "scenario",
            note=note,
        )
        values["امتیاز"] = int(action["amount"])
    elif kind == "coupon":
        values["کد"] = create_coupon(
            conn,
            decision.member_id,
            int(action["value_rial"]),
            int(action["days"]),
            reason,
            "scenario",
        )
    elif f"sms:{decision.arm}" in decision.actions:
        text = render(action["variants"][1 if decision.arm == "B" else 0], values)
        send_to_member(conn, vault, provider, decision.member_id, text, scenario.id, True, moment)


def _name_enc(conn: sa.Connection, member_id: str) -> bytes:
    found: bytes = conn.execute(
        sa.select(members.c.name_enc).where(members.c.id == member_id)
    ).scalar_one()
    return found

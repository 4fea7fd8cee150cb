"""Evaluate scenarios for a day and act on them, once per member per scenario per period.

For each enabled scenario: find the members its trigger names for the day, keep those its
conditions accept, drop those already entered this period, split off the control group by
a hash of (scenario, member) — stable across reruns — and act on the rest within the
guardrails: marketing consent and the weekly SMS cap for texts, the Tehran sending window
(texts outside it wait for a later run), and the budget. Every decision is an entry; a
preview computes the same decisions and writes nothing.

An event trigger (a sale, an enrolment, a referral, an answer, a segment change) names
each event with its Tehran day: the entry's period is that day's, not the run's, so the
run at sync time and the daily runs that look back a day all land on the same entry.
Times are compared in UTC, as the cloud writes them (SQLite keeps no zone).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import pairwise
from statistics import fmean
from typing import Any

import jdatetime
import sqlalchemy as sa

from cloud.coupons import create_coupon
from cloud.grants import create_grant
from cloud.owner_notes import leave_note, note_store
from cloud.scenarios.model import AGE_GROUPS, EVENT_PERIOD, Scenario, segment_scores
from cloud.sms.providers import SmsProvider
from cloud.sms.sending import WINDOW, in_window, send_to_member
from cloud.sms.text import parts, render, with_opt_out
from cloud.snapshots import get_rules
from cloud.storage import utcnow
from cloud.tables import (
    feedback,
    members,
    occasions,
    referral_rewards,
    sales,
    scenario_entries,
    segment_changes,
    sms_messages,
)
from common.persian import TEHRAN, birthday_lookup
from common.pii import PiiVault
from common.protocol import new_id

SMS_PART_COST_RIAL = 1_500  # what one Persian SMS part costs, for the budget
DAY = 86_400.0  # seconds
ONE_DAY = dt.timedelta(days=1)
EVENT_LOOKBACK = dt.timedelta(days=1)  # the daily run also looks at the day before
SEGMENT_RUN_DAYS = 2  # a segment change is acted on for this many days after its run


@dataclass
class Decision:
    """What a scenario does for one member on one day."""

    scenario_id: str
    member_id: str
    arm: str  # control, A or B
    outcome: str  # acted, control, deferred, skipped:<why>
    actions: list[str] = field(default_factory=list)
    cost_rial: int = 0
    period: str = ""  # the entry's period ("" before this field: the run day's period)
    event: str = ""  # the triggering event (sale, member, referee, answer …), if any


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


@dataclass(frozen=True)
class Found:
    """A member a trigger names; for an event trigger, with the event and its Tehran day."""

    member_id: str
    event: str = ""  # the sale, member, referee, feedback or segment run that triggered
    on: dt.date | None = None


def candidates(conn: sa.Connection, vault: PiiVault, scenario: Scenario, day: dt.date) -> list[str]:
    """Return the ids of members the trigger and conditions name for the day."""
    moment = dt.datetime.combine(day, dt.time(), TEHRAN)
    return sorted({f.member_id for f in found(conn, vault, scenario, day, moment)})


def found(
    conn: sa.Connection,
    vault: PiiVault,
    scenario: Scenario,
    day: dt.date,
    moment: dt.datetime,
    only: Collection[str] | None = None,
) -> list[Found]:
    """Return what the trigger and conditions name at ``moment`` on ``day`` (Tehran)."""
    trigger, audience = scenario.trigger, _audience(scenario.conditions, day)
    if only is not None:
        audience.append(members.c.id.in_(sorted(only)))
    kind = trigger["type"]
    if kind in EVENT_FINDERS:
        return EVENT_FINDERS[kind](conn, trigger, audience, _window(day))
    if kind == "gap":
        return _gaps(conn, trigger, audience, moment)
    query = sa.select(members.c.id)
    if kind == "birthday":
        jalali = jdatetime.date.fromgregorian(date=day)
        days = [(jalali.month, jalali.day)]
        if (jalali.month, jalali.day) == (12, 29) and not jalali.isleap():
            days.append((12, 30))  # the 30 Esfand rule: greeted on 29 Esfand
        hashes = [birthday_lookup(vault, f"{m:02d}-{d:02d}") for m, d in days]
        query = query.where(members.c.birthday_hmac.in_(hashes))
    elif kind == "inactive":
        start = dt.datetime.combine(day, dt.time(), TEHRAN)
        cutoff = (start - dt.timedelta(days=int(trigger["days"]))).astimezone(dt.UTC)
        last = (
            sa.select(sales.c.member_id)
            .group_by(sales.c.member_id)
            .having(sa.func.max(sales.c.received_at) < cutoff)
        )
        query = query.where(members.c.id.in_(last))
    elif kind == "anniversary":
        query = query.where(members.c.id.in_(_first_bought_on_this_day(conn, day)))
    elif kind == "occasion":
        today = jdatetime.date.fromgregorian(date=day).strftime("%Y-%m-%d")
        on = conn.execute(
            sa.select(occasions.c.key).where(
                occasions.c.jalali_date == today, occasions.c.key == trigger["occasion"]
            )
        ).first()
        if on is None:
            return []
    else:
        query = query.where(members.c.tier.in_(trigger["tiers"]))
    query = query.where(*audience).order_by(members.c.id)
    return [Found(member_id) for member_id in conn.execute(query).scalars()]


def _audience(conditions: dict[str, Any], day: dt.date) -> list[sa.ColumnElement[bool]]:
    """Return the conditions as filters on ``members``; an unknown field never matches."""
    where: list[sa.ColumnElement[bool]] = []
    if "tiers" in conditions:
        where.append(members.c.tier.in_(conditions["tiers"]))
    if conditions.get("stores"):
        where.append(members.c.home_store_id.in_(conditions["stores"]))
    if conditions.get("min_spend_rial"):
        spenders = (
            sa.select(sales.c.member_id)
            .group_by(sales.c.member_id)
            .having(sa.func.sum(sales.c.amount_rial) >= int(conditions["min_spend_rial"]))
        )
        where.append(members.c.id.in_(spenders))
    for name, column in (
        ("genders", members.c.gender),
        ("provinces", members.c.province),
        ("cities", members.c.city),
    ):
        if conditions.get(name):
            where.append(column.in_(conditions[name]))
    if conditions.get("age_groups"):
        year = jdatetime.date.fromgregorian(date=day).year
        bands = []
        for key in conditions["age_groups"]:
            youngest, oldest, _label = AGE_GROUPS[key]
            band = members.c.birth_year <= year - youngest
            if oldest is not None:
                band = sa.and_(band, members.c.birth_year >= year - oldest)
            bands.append(band)
        where.append(sa.or_(*bands))
    return where


def _window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC times events are looked for in: the day before and the day itself.

    The daily run catches up what the immediate run missed (a failure, the quiet hours);
    entries keyed by the event make the overlap of two days' windows harmless.
    """
    start = dt.datetime.combine(day, dt.time(), TEHRAN)
    return (start - EVENT_LOOKBACK).astimezone(dt.UTC), (start + ONE_DAY).astimezone(dt.UTC)


def _tehran_day(moment: dt.datetime) -> dt.date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone
    return aware.astimezone(TEHRAN).date()


def _events(conn: sa.Connection, query: sa.Select[Any]) -> list[Found]:
    """Run a (member, event, time) query and return one Found per row."""
    return [
        Found(member_id, str(event), _tehran_day(at))
        for member_id, event, at in conn.execute(query)
    ]


def _purchases(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    window: tuple[dt.datetime, dt.datetime],
) -> list[Found]:
    """Sales received in the window (not refunded), of at least ``min_amount_rial``."""
    query = (
        sa.select(sales.c.member_id, sales.c.id, sales.c.received_at)
        .join(members, members.c.id == sales.c.member_id)
        .where(
            sales.c.received_at >= window[0],
            sales.c.received_at < window[1],
            sales.c.refunded_at.is_(None),
            sales.c.amount_rial >= int(trigger.get("min_amount_rial", 0)),
            *audience,
        )
        .order_by(sales.c.received_at, sales.c.id)
    )
    return _events(conn, query)


def _enrolments(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    window: tuple[dt.datetime, dt.datetime],
) -> list[Found]:
    """Members enrolled in the window (not imported from an old club's list); the event is
    the member."""
    query = (
        sa.select(members.c.id, members.c.id, members.c.enrolled_at)
        .where(
            members.c.enrolled_at >= window[0],
            members.c.enrolled_at < window[1],
            members.c.imported_at.is_(None),
            *audience,
        )
        .order_by(members.c.enrolled_at, members.c.id)
    )
    return _events(conn, query)


def _referrals(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    window: tuple[dt.datetime, dt.datetime],
) -> list[Found]:
    """Referrers whose referee's first purchase was rewarded in the window (not capped)."""
    query = (
        sa.select(
            referral_rewards.c.referrer_id,
            referral_rewards.c.referred_id,
            referral_rewards.c.created_at,
        )
        .join(members, members.c.id == referral_rewards.c.referrer_id)
        .where(
            referral_rewards.c.created_at >= window[0],
            referral_rewards.c.created_at < window[1],
            referral_rewards.c.outcome == "rewarded",
            *audience,
        )
        .order_by(referral_rewards.c.created_at, referral_rewards.c.referred_id)
    )
    return _events(conn, query)


def _feedback(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    window: tuple[dt.datetime, dt.datetime],
) -> list[Found]:
    """Answers of ``max_nps`` or less given in the window; the event is the answer."""
    query = (
        sa.select(feedback.c.member_id, feedback.c.id, feedback.c.created_at)
        .join(members, members.c.id == feedback.c.member_id)
        .where(
            feedback.c.nps <= int(trigger["max_nps"]),
            feedback.c.created_at >= window[0],
            feedback.c.created_at < window[1],
            *audience,
        )
        .order_by(feedback.c.created_at, feedback.c.id)
    )
    return _events(conn, query)


def _rising(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    window: tuple[dt.datetime, dt.datetime],
) -> list[Found]:
    """Buyers of the window whose recent intervals are clearly shorter than their earlier ones.

    Checked as of each member's latest purchase up to the window's end: the mean of the
    last ``recent`` intervals at most ``ratio`` times the mean of the intervals before them.
    """
    recent = int(trigger.get("recent", 2))
    least = int(trigger.get("min_purchases", 4))
    ratio = float(trigger.get("ratio", 0.5))
    kept = sa.and_(sales.c.refunded_at.is_(None), sales.c.received_at < window[1])
    buyers = (
        sa.select(sales.c.member_id)
        .join(members, members.c.id == sales.c.member_id)
        .where(kept, sales.c.received_at >= window[0], *audience)
    )
    rows = conn.execute(
        sa.select(sales.c.member_id, sales.c.id, sales.c.received_at)
        .where(kept, sales.c.member_id.in_(buyers))
        .order_by(sales.c.member_id, sales.c.received_at, sales.c.id)
    )
    history: dict[str, list[tuple[str, dt.datetime]]] = {}
    for member_id, sale_id, at in rows:
        history.setdefault(member_id, []).append((sale_id, _utc(at)))
    result = []
    for member_id, bought in history.items():
        if len(bought) < least:
            continue
        times = [at for _, at in bought]
        gaps = [(b - a).total_seconds() / DAY for a, b in pairwise(times)]
        earlier = fmean(gaps[:-recent])
        if earlier > 0 and fmean(gaps[-recent:]) <= ratio * earlier:
            last_id, last_at = bought[-1]
            result.append(Found(member_id, last_id, last_at.astimezone(TEHRAN).date()))
    return result


def _gaps(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    moment: dt.datetime,
) -> list[Found]:
    """Members away for more than ``k`` times their own mean interval (at least a day)."""
    k, least = float(trigger["k"]), int(trigger.get("min_purchases", 3))
    now = moment.astimezone(dt.UTC)
    query = (
        sa.select(
            sales.c.member_id,
            sa.func.count(),
            sa.func.min(sales.c.received_at),
            sa.func.max(sales.c.received_at),
        )
        .join(members, members.c.id == sales.c.member_id)
        .where(sales.c.refunded_at.is_(None), sales.c.received_at <= now, *audience)
        .group_by(sales.c.member_id)
        .having(
            sa.func.count() >= least,
            # A mean interval is a day at least: nobody gone less than k days qualifies.
            sa.func.max(sales.c.received_at) < now - dt.timedelta(days=k),
        )
        .order_by(sales.c.member_id)
    )
    result = []
    for member_id, count, first, last in conn.execute(query):
        interval = max((_utc(last) - _utc(first)).total_seconds() / DAY / (count - 1), 1.0)
        if (now - _utc(last)).total_seconds() / DAY > k * interval:
            result.append(Found(member_id))
    return result


def _segment_moves(
    conn: sa.Connection,
    trigger: dict[str, Any],
    audience: list[sa.ColumnElement[bool]],
    window: tuple[dt.datetime, dt.datetime],
) -> list[Found]:
    """Members whose segment an analytics run changed (``segment_changes``, migration 0017).

    A change is acted on while it is at most ``SEGMENT_RUN_DAYS`` old; the event is the
    member's change of that run day, so it is acted on once whatever the period.
    """
    day = window[1].astimezone(TEHRAN).date() - ONE_DAY
    query = (
        sa.select(
            segment_changes.c.member_id,
            segment_changes.c.changed_on,
            segment_changes.c.from_segment,
            segment_changes.c.to_segment,
        )
        .join(members, members.c.id == segment_changes.c.member_id)
        .where(
            segment_changes.c.changed_on <= day,
            segment_changes.c.changed_on >= day - dt.timedelta(days=SEGMENT_RUN_DAYS),
            *audience,
        )
        .order_by(segment_changes.c.changed_on, segment_changes.c.member_id)
    )
    if trigger.get("from"):
        query = query.where(segment_changes.c.from_segment.in_(trigger["from"]))
    if trigger.get("to"):
        query = query.where(segment_changes.c.to_segment.in_(trigger["to"]))
    drop = int(trigger.get("points", 2)) if trigger["type"] == "rfm_drop" else None
    score = segment_scores() if drop is not None else {}
    return [
        Found(member_id, f"segments:{on.isoformat()}", on)
        for member_id, on, was, became in conn.execute(query)
        if drop is None or score.get(was, 0.0) - score.get(became, 0.0) >= drop
    ]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


EVENT_FINDERS = {
    "purchase": _purchases,
    "enrolment": _enrolments,
    "referral": _referrals,
    "feedback": _feedback,
    "rising_rate": _rising,
    "segment_change": _segment_moves,
    "rfm_drop": _segment_moves,
}


def _first_bought_on_this_day(conn: sa.Connection, day: dt.date) -> list[str]:
    """Return members whose first purchase fell on this Jalali month and day, years ago."""
    today = jdatetime.date.fromgregorian(date=day)
    year_ago = (dt.datetime.combine(day, dt.time(), TEHRAN) - dt.timedelta(days=360)).astimezone(
        dt.UTC
    )
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


def entry_period(scenario: Scenario, hit: Found, day: dt.date) -> str:
    """Return the period an entry belongs to: of the event's day for an event trigger.

    Period ``event``: the Jalali month of the event and a digest of it (20 characters at
    most, the column's width), so each event gets its own entry.
    """
    on = hit.on or day
    if scenario.period != EVENT_PERIOD:
        return period_key(scenario.period, on)
    digest = hashlib.sha256(hit.event.encode()).hexdigest()[:12]
    return f"{period_key('month', on)}/{digest}"


def budget_period(period: str) -> str:
    """Return the period the budget is counted in (the month of a per-event entry)."""
    return period.split("/", 1)[0]


def decide(
    conn: sa.Connection,
    vault: PiiVault,
    scenario: Scenario,
    moment: dt.datetime,
    window: tuple[dt.time, dt.time] = WINDOW,
    only_member: str | None = None,
    only_members: Collection[str] | None = None,
) -> list[Decision]:
    """Compute the day's decisions of one scenario without acting on them.

    ``only_member`` or ``only_members`` narrow it to those members (the run at sync time).
    """
    day = moment.astimezone(TEHRAN).date()
    chosen = set(only_members or ()) | ({only_member} if only_member is not None else set())
    if only_members is not None and not chosen:
        return []
    hits = [
        (hit, entry_period(scenario, hit, day))
        for hit in found(conn, vault, scenario, day, moment, chosen or None)
    ]
    entered: set[tuple[str, str]] = set()
    spent: dict[str, int] = {}
    for budget_key in sorted({budget_period(period) for _, period in hits}):
        entries = conn.execute(
            sa.select(
                scenario_entries.c.member_id,
                scenario_entries.c.period,
                scenario_entries.c.cost_rial,
            ).where(
                scenario_entries.c.scenario_id == scenario.id,
                sa.or_(
                    scenario_entries.c.period == budget_key,
                    scenario_entries.c.period.startswith(f"{budget_key}/", autoescape=True),
                ),
                *([scenario_entries.c.member_id.in_(sorted(chosen))] if chosen else []),
            )
        ).all()
        entered.update((row.member_id, row.period) for row in entries)
        spent[budget_key] = sum(int(row.cost_rial) for row in entries)
    point_value = int(get_rules(conn)[0].get("point_value_rial", 1_000))
    sms = next((a for a in scenario.actions if a["type"] == "sms"), None)
    texted: Counter[str] = Counter()  # texts this run plans: they count towards the cap
    facts = _texting_facts(conn, sorted({hit.member_id for hit, _ in hits}), moment) if sms else {}
    decisions = []
    for hit, period in hits:
        if (hit.member_id, period) in entered:
            continue
        entered.add((hit.member_id, period))  # two hits in one period: the first counts
        member_id = hit.member_id
        arm = arm_of(scenario, member_id, len(sms["variants"]) if sms else 1)
        decision = Decision(
            scenario.id,
            member_id,
            arm,
            "control" if arm == "control" else "acted",
            period=period,
            event=hit.event,
        )
        if arm != "control":
            _plan(
                conn,
                scenario,
                decision,
                sms,
                moment,
                window,
                point_value,
                texted,
                facts.get(member_id),
            )
            budget, key = scenario.budget_rial, budget_period(period)
            over = budget is not None and spent.get(key, 0) + decision.cost_rial > budget
            if decision.outcome == "acted" and over:
                decision.outcome, decision.actions, decision.cost_rial = "skipped:budget", [], 0
            spent[key] = spent.get(key, 0) + decision.cost_rial
            if f"sms:{arm}" in decision.actions:
                texted[member_id] += 1
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
    texted: Counter[str] | None = None,
    facts: tuple[bool, int] | None = None,
) -> None:
    for action in scenario.actions:
        kind = action["type"]
        if kind == "sms":
            if facts is None:
                facts = _texting_facts(conn, [decision.member_id], moment)[decision.member_id]
            planned = texted[decision.member_id] if texted is not None else 0
            reason = _sms_refusal(scenario, moment, window, facts, planned)
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
        elif kind == "owner_note":
            decision.actions.append("owner_note")  # no text to the member, no cost
        elif kind == "credit":
            decision.actions.append(f"credit:{action['amount']}")
            decision.cost_rial += int(action["amount"])
        else:
            decision.actions.append(f"coupon:{action['value_rial']}")
            decision.cost_rial += int(action["value_rial"])


def _texting_facts(
    conn: sa.Connection, member_ids: list[str], moment: dt.datetime
) -> dict[str, tuple[bool, int]]:
    """Return each member's (marketing consent, marketing texts in the past week).

    Read for a chunk of members per query: one query per member made a large run slow.
    """
    week_ago = (moment - dt.timedelta(days=7)).astimezone(dt.UTC)
    facts: dict[str, tuple[bool, int]] = {}
    for index in range(0, len(member_ids), 500):
        chunk = member_ids[index : index + 500]
        recent: dict[str, int] = dict(
            conn.execute(
                sa.select(sms_messages.c.member_id, sa.func.count())
                .where(
                    sms_messages.c.member_id.in_(chunk),
                    sms_messages.c.marketing.is_(True),
                    sms_messages.c.created_at >= week_ago,
                )
                .group_by(sms_messages.c.member_id)
            ).all()
        )
        rows = conn.execute(
            sa.select(members.c.id, members.c.marketing_consent).where(members.c.id.in_(chunk))
        )
        for member_id, consent in rows:
            facts[member_id] = (bool(consent), int(recent.get(member_id, 0)))
    return facts


def _sms_refusal(
    scenario: Scenario,
    moment: dt.datetime,
    window: tuple[dt.time, dt.time],
    facts: tuple[bool, int],
    planned: int = 0,
) -> str:
    consent, recent = facts
    if not consent:
        return "no_consent"
    if not in_window(moment, window):
        return "quiet_hours"
    return "weekly_cap" if recent + planned >= scenario.sms_per_week else ""


def act(
    conn: sa.Connection,
    vault: PiiVault,
    provider: SmsProvider,
    scenario: Scenario,
    decision: Decision,
    moment: dt.datetime,
) -> None:
    """Carry out one decision and record its entry, in the caller's transaction.

    The entry is written first: a second run deciding the same member and period at the
    same time fails on its unique key (IntegrityError) before it gives or sends anything.
    """
    if decision.outcome == "deferred":
        return  # no entry: a run inside the sending window takes it up
    entry_id = new_id()
    conn.execute(
        sa.insert(scenario_entries).values(
            id=entry_id,
            scenario_id=scenario.id,
            member_id=decision.member_id,
            period=decision.period or period_key(scenario.period, moment.astimezone(TEHRAN).date()),
            arm=decision.arm,
            outcome=decision.outcome
            if not any(":skipped:" in a for a in decision.actions)
            else f"{decision.outcome}:sms_skipped",
            cost_rial=decision.cost_rial,
            created_at=utcnow(),
        )
    )
    if decision.outcome == "acted":
        values: dict[str, Any] = {}
        name = vault.decrypt(decision.member_id, _name_enc(conn, decision.member_id))
        values = {"نام": name.split()[0] if name.split() else name}
        # Texts last: they name the points and the coupon code the other actions made.
        ordered = sorted(scenario.actions, key=lambda action: action["type"] == "sms")
        for action in ordered:
            if action["type"] == "owner_note":
                store_id = note_store(
                    conn, decision.member_id, scenario.trigger["type"], decision.event
                )
                leave_note(
                    conn, entry_id, scenario.id, decision.member_id, store_id, action["text"]
                )
                continue
            _carry_out(conn, vault, provider, scenario, decision, action, values, moment)


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
            gift=kind == "gift",
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

"""Scenarios in the database: save, list, switch, run a day or preview it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import jdatetime
import sqlalchemy as sa

from cloud.errors import BadRequest, NotFound
from cloud.scenarios.engine import Decision, act, decide
from cloud.scenarios.model import IMMEDIATE, TRIGGERS, Scenario, parse
from cloud.sms.providers import SmsError, SmsProvider
from cloud.sms.sending import NotSent
from cloud.storage import utcnow
from cloud.tables import occasions, referral_rewards, scenarios
from common.pii import PiiVault

log = logging.getLogger(__name__)
IDENTITY = {trigger: (trigger,) for trigger in TRIGGERS}  # run_triggered names the trigger


def save(conn: sa.Connection, scenario_id: str, definition: Any, enabled: bool = True) -> None:
    """Check and store a scenario (replacing one with the same id)."""
    parse(scenario_id, definition, enabled)
    values = {
        "definition": json.dumps(definition, ensure_ascii=False, sort_keys=True),
        "enabled": enabled,
        "updated_at": utcnow(),
    }
    done = conn.execute(sa.update(scenarios).where(scenarios.c.id == scenario_id).values(**values))
    if done.rowcount == 0:
        conn.execute(sa.insert(scenarios).values(id=scenario_id, **values))


def switch(conn: sa.Connection, scenario_id: str, enabled: bool) -> None:
    """Turn a scenario on or off for the brand."""
    done = conn.execute(
        sa.update(scenarios).where(scenarios.c.id == scenario_id).values(enabled=enabled)
    )
    if done.rowcount == 0:
        raise NotFound(f"no scenario {scenario_id}", fa="این سناریو پیدا نشد")


def load(conn: sa.Connection, only_enabled: bool = True) -> list[Scenario]:
    """Return the stored scenarios, parsed; one that no longer parses is logged and left out.

    A scenario can stop parsing when what it names changes (a segment key dropped from the
    segment map, a row edited by hand): the others must still run.
    """
    query = sa.select(scenarios).order_by(scenarios.c.id)
    if only_enabled:
        query = query.where(scenarios.c.enabled.is_(True))
    found = []
    for row in conn.execute(query):
        try:
            found.append(parse(row.id, json.loads(row.definition), row.enabled))
        except (BadRequest, ValueError) as exc:
            log.error(
                "scenario %s is left out: its stored definition does not parse: %s", row.id, exc
            )
    return found


def preview(conn: sa.Connection, vault: PiiVault, moment: dt.datetime) -> list[dict[str, Any]]:
    """List who would receive what at ``moment``, sending and writing nothing."""
    return [
        asdict(decision)
        for scenario in load(conn)
        for decision in decide(conn, vault, scenario, moment)
    ]


def run_day(
    engine: sa.Engine, vault: PiiVault, provider: SmsProvider, moment: dt.datetime
) -> dict[str, dict[str, int]]:
    """Run every enabled scenario at ``moment``; each member's entry in its own transaction."""
    with engine.connect() as conn:
        chosen = load(conn)
    summary: dict[str, dict[str, int]] = {}
    for scenario in chosen:
        counts: dict[str, int] = {}
        with engine.connect() as conn:
            decisions = decide(conn, vault, scenario, moment)
        for decision in decisions:
            outcome = _act_once(engine, vault, provider, scenario, decision, moment)
            counts[outcome] = counts.get(outcome, 0) + 1
        summary[scenario.id] = counts
    return summary


def run_triggered(
    engine: sa.Engine,
    vault: PiiVault,
    provider: SmsProvider,
    moment: dt.datetime,
    trigger: str,
    member_id: str,
) -> dict[str, str]:
    """Run at once, for one member, the enabled scenarios of one trigger type."""
    return run_events(engine, vault, provider, moment, [(trigger, member_id)], IDENTITY)


def run_events(
    engine: sa.Engine,
    vault: PiiVault,
    provider: SmsProvider,
    moment: dt.datetime,
    received: Iterable[tuple[str, str]],
    immediate: Mapping[str, tuple[str, ...]] = IMMEDIATE,
    seconds: float | None = None,
) -> dict[str, str]:
    """Run at once the enabled scenarios that events just received trigger, per member.

    ``received`` holds (what, member id) pairs: ``purchase`` (the buyer), ``enrolment``,
    ``feedback``; ``immediate`` maps each to the triggers it runs (a purchase runs the
    purchase, rising-rate and referral scenarios; a referral's member is the buyer's
    referrer). Entries are keyed by the event, so what this run and the daily run both see
    is acted on once. With ``seconds``, decisions still waiting when that time is up are
    left to the daily run (a terminal draining a day's backlog must not wait on hundreds of
    texts). Return {scenario id: the last outcome}.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    wanted: dict[str, set[str]] = {}
    buyers: set[str] = set()  # whose referrers the referral scenarios are for
    for what, member_id in received:
        for trigger in immediate.get(what, ()):
            wanted.setdefault(trigger, set())
            if trigger == "referral" and what == "purchase":
                buyers.add(member_id)
            else:
                wanted[trigger].add(member_id)
    if not wanted:
        return {}
    with engine.connect() as conn:
        chosen = [s for s in load(conn) if s.trigger["type"] in wanted]
        if buyers and any(s.trigger["type"] == "referral" for s in chosen):
            wanted["referral"] |= _referrers(conn, buyers)
    done, left = {}, 0
    for scenario in chosen:
        with engine.connect() as conn:
            decisions = decide(
                conn, vault, scenario, moment, only_members=wanted[scenario.trigger["type"]]
            )
        for decision in decisions:
            if deadline is not None and time.monotonic() > deadline:
                left += 1
                continue
            done[scenario.id] = _act_once(engine, vault, provider, scenario, decision, moment)
    if left:
        log.warning("%d scenario decisions left to the daily run: out of time at sync", left)
    return done


def _referrers(conn: sa.Connection, buyers: set[str]) -> set[str]:
    """Return who referred these buyers (the referral scenario's members)."""
    rows = conn.execute(
        sa.select(referral_rewards.c.referrer_id).where(
            referral_rewards.c.referred_id.in_(sorted(buyers))
        )
    )
    return set(rows.scalars())


def _act_once(
    engine: sa.Engine,
    vault: PiiVault,
    provider: SmsProvider,
    scenario: Scenario,
    decision: Decision,
    moment: dt.datetime,
) -> str:
    """Act on one decision in its own transaction; another run's entry wins a race.

    A text the provider refuses (or that cannot be sent at all) rolls back this member's
    entry and gifts and is logged; the run goes on with the next member, and the next run
    tries this one again."""
    try:
        with engine.begin() as conn:  # a failure loses one member's entry, not the day's
            act(conn, vault, provider, scenario, decision, moment)
    except (SmsError, NotSent) as exc:
        log.warning(
            "scenario %s: member %s not served this time, text not sent: %s",
            scenario.id,
            decision.member_id,
            exc,
        )
        return "failed"
    except sa.exc.IntegrityError:
        log.info(
            "scenario %s: member %s already entered for %s by another run",
            scenario.id,
            decision.member_id,
            decision.period,
        )
        return "duplicate"
    return decision.outcome


def set_occasions(conn: sa.Connection, rows: Any) -> int:
    """Add or rename occasions (a list of {jalali_date, key, name_fa}); return how many."""
    if not isinstance(rows, list):
        raise BadRequest("occasions are a JSON list", field="occasions")
    for index, row in enumerate(rows):
        where = f"occasions[{index}]"
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) and row[k].strip()
            for k in ("jalali_date", "key", "name_fa")
        ):
            raise BadRequest("each occasion has jalali_date, key and name_fa", field=where)
        try:
            jdatetime.date(*(int(part) for part in row["jalali_date"].split("-")))
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"no such Jalali date {row['jalali_date']!r}", field=where) from exc
        conn.execute(
            sa.delete(occasions).where(
                occasions.c.jalali_date == row["jalali_date"], occasions.c.key == row["key"]
            )
        )
        conn.execute(
            sa.insert(occasions).values(
                jalali_date=row["jalali_date"], key=row["key"], name_fa=row["name_fa"]
            )
        )
    return len(rows)

"""Scenarios in the database: save, list, switch, run a day or preview it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

import jdatetime
import sqlalchemy as sa

from cloud.errors import BadRequest, NotFound
from cloud.scenarios.engine import act, decide
from cloud.scenarios.model import Scenario, parse
from cloud.sms.providers import SmsProvider
from cloud.storage import utcnow
from cloud.tables import occasions, scenarios
from common.pii import PiiVault


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
    """Return the stored scenarios, parsed."""
    query = sa.select(scenarios).order_by(scenarios.c.id)
    if only_enabled:
        query = query.where(scenarios.c.enabled.is_(True))
    return [parse(row.id, json.loads(row.definition), row.enabled) for row in conn.execute(query)]


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
            with engine.begin() as conn:  # a failure loses one member's entry, not the day's
                act(conn, vault, provider, scenario, decision, moment)
            counts[decision.outcome] = counts.get(decision.outcome, 0) + 1
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
    """Run at once, for one member, the enabled scenarios an event triggers."""
    with engine.connect() as conn:
        chosen = [s for s in load(conn) if s.trigger["type"] == trigger]
    done = {}
    for scenario in chosen:
        with engine.begin() as conn:
            for decision in decide(conn, vault, scenario, moment, only_member=member_id):
                act(conn, vault, provider, scenario, decision, moment)
                done[scenario.id] = decision.outcome
    return done


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

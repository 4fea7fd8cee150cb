"""Run analytics, then scenarios, every day at fixed Tehran times, and poll SMS reports.

The analytics run (``cloud/analytics/run.py``) comes first, early in the morning, so the
scenarios of the day see fresh segments (``segment_change`` triggers) and preferences; a
scheduler started late still runs it that morning (six hours' grace) before the scenarios.

Several cloud machines may run ``vafa-cloud scheduler``; on PostgreSQL only the one that
holds an advisory lock acts (the others wait to take over), so nothing runs twice. A rerun
of a day is harmless anyway: entries are unique per member, scenario and period.

Purchases, enrolments and referrals run their scenarios at once, when the sync batch
commits (``events.py``), and an unhappy answer its apology (``cloud/feedback.py``); the
daily run looks at the events of its day and the day before, so it acts on what those
missed (an error, the quiet hours) and, keyed by the event, on nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa
from apscheduler.schedulers.blocking import BlockingScheduler

from cloud.analytics.run import run_analytics
from cloud.scenarios.store import run_day
from cloud.sms.providers import SmsProvider
from cloud.sms.sending import handle_replies, poll_deliveries
from common.persian import TEHRAN
from common.pii import PiiVault

log = logging.getLogger(__name__)
LEADER_LOCK = 0x7AFA_5CE0  # the advisory lock id of the scheduler leader


def is_leader(conn: sa.Connection) -> bool:
    """Take the leader lock (PostgreSQL) for the life of ``conn``; SQLite has one process."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK))).scalar())


def build(
    engine: sa.Engine,
    vault: PiiVault,
    provider: SmsProvider,
    at: dt.time = dt.time(10, 0),
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(TEHRAN),
    analytics_at: dt.time = dt.time(4, 0),
) -> BlockingScheduler:
    """Return a scheduler with the daily analytics and scenario runs and the SMS polling."""
    if analytics_at >= at:
        raise ValueError(f"analytics at {analytics_at} must come before the scenarios at {at}")
    scheduler = BlockingScheduler(timezone=TEHRAN)

    def analytics() -> None:
        result = run_analytics(engine, now().astimezone(dt.UTC), vault)
        log.info("analytics run: %d members, %s s", result["members"], result["run"]["seconds"])

    def daily() -> None:
        log.info("scenarios run: %s", run_day(engine, vault, provider, now()))

    def reports() -> None:
        with engine.begin() as conn:
            changed = poll_deliveries(conn, provider)
            replies = handle_replies(conn, vault, provider)
        log.info("sms reports: %d updated; replies %s", changed, replies)

    scheduler.add_job(
        analytics,
        "cron",
        hour=analytics_at.hour,
        minute=analytics_at.minute,
        id="analytics",
        misfire_grace_time=6 * 3600,
        coalesce=True,
    )
    scheduler.add_job(daily, "cron", hour=at.hour, minute=at.minute, id="scenarios")
    scheduler.add_job(reports, "interval", minutes=10, id="sms-reports")
    return scheduler

"""Scenarios run as soon as a synced batch commits: purchases and enrolments.

The sync answer never depends on them: the batch is committed before they run, and a
failure is logged (in English) and left to the daily run, which looks at the events of its
day and the day before. Entries are keyed by the event, so nothing is done twice.
"""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path

from flask import current_app

from cloud.context import ctx
from common.persian import now_tehran

log = logging.getLogger(__name__)
SECONDS = 3.0  # at most this long acting at sync (the terminal waits; its timeout is 10 s)
# Each text sent at sync waits at most this long for the provider: a decision begun just
# before SECONDS ran out still answers the terminal well inside its timeout. A text that
# times out rolls back its member's entry; the daily run sends it.
SMS_TIMEOUT = 2.0


def run_after_ingest(triggered: list[tuple[str, str]]) -> dict[str, str]:
    """Run the scenarios the committed events trigger; log, never raise, on failure."""
    if not triggered:
        return {}
    from cloud.scenarios.store import run_events
    from cloud.sms.providers import provider_from_config

    try:
        provider = provider_from_config(
            dict(current_app.config), Path(current_app.instance_path), timeout=SMS_TIMEOUT
        )
        with closing(provider):
            done = run_events(
                ctx().engine, ctx().vault, provider, now_tehran(), triggered, seconds=SECONDS
            )
    except Exception:  # the batch is in; the daily run catches up
        log.exception(
            "scenarios for %d synced events failed; the daily run will catch up", len(triggered)
        )
        return {}
    if done:
        log.info("scenarios after sync: %s", done)
    return done

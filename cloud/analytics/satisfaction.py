"""Feedback for HQ: comments' sentiment and NPS per store and Jalali month.

The feedback page scores a comment when it arrives (``cloud/feedback.py``); the analytics
run scores the ones stored before that, opening the sealed comment with the PII key, and
then counts answers, NPS classes and sentiments per store and month, chain-wide as ``*``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa

from cloud.analytics.grid import CHAIN
from cloud.analytics.months import month_case
from cloud.analytics.sentiment import label, score
from cloud.tables import feedback
from common.pii import PiiError, PiiVault

log = logging.getLogger(__name__)
BATCH = 2000


def sentiment_of(comment: str) -> dict[str, Any]:
    """Return the feedback columns for a comment (NULLs when there is none)."""
    if not comment.strip():
        return {"sentiment": None, "sentiment_score": None}
    return {"sentiment": label(comment), "sentiment_score": score(comment)}


def score_unscored(conn: sa.Connection, vault: PiiVault) -> int:
    """Score stored comments that have no sentiment yet; return how many."""
    pending = list(
        conn.execute(
            sa.select(feedback.c.id, feedback.c.comment_enc).where(
                feedback.c.comment_enc.is_not(None), feedback.c.sentiment.is_(None)
            )
        )
    )
    done = 0
    for feedback_id, sealed in pending:
        try:
            comment = vault.decrypt(feedback_id, sealed)
        except PiiError as exc:  # another key, a damaged row: leave it unscored
            log.warning("feedback %s: cannot open its comment: %s", feedback_id, exc)
            continue
        conn.execute(
            sa.update(feedback).where(feedback.c.id == feedback_id).values(**sentiment_of(comment))
        )
        done += 1
    return done


def feedback_rows(conn: sa.Connection, as_of: dt.datetime) -> list[dict[str, Any]]:
    """Return NPS and sentiment counts per store and month, and chain-wide (``*``)."""
    kept = feedback.c.created_at <= as_of
    first = conn.execute(sa.select(sa.func.min(feedback.c.created_at)).where(kept)).scalar()
    if first is None:
        return []
    first = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
    month = month_case(feedback.c.created_at, first, as_of)

    def counted(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    figures = (
        sa.func.count(),
        counted(feedback.c.nps >= 9),
        counted(feedback.c.nps.between(7, 8)),
        counted(feedback.c.nps <= 6),
        counted(feedback.c.comment_enc.is_not(None)),
        counted(feedback.c.sentiment == "positive"),
        counted(feedback.c.sentiment == "neutral"),
        counted(feedback.c.sentiment == "negative"),
    )
    rows = []
    for store in (feedback.c.store_id, sa.literal(CHAIN)):
        query = (
            sa.select(store.label("store_key"), month, *figures)
            .where(kept)
            .group_by(sa.literal_column("store_key"), sa.literal_column("month"))
        )
        for store_id, key, *counts in conn.execute(query):
            rows.append(_row(store_id, key, as_of.date(), [int(c or 0) for c in counts]))
    return rows


def _row(store_id: str, month: str, day: dt.date, counts: list[int]) -> dict[str, Any]:
    responses, promoters, passives, detractors, comments, positive, neutral, negative = counts
    return {
        "store_id": store_id,
        "month": month,
        "computed_on": day,
        "responses": responses,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps": round(100.0 * (promoters - detractors) / responses, 1),
        "comments": comments,
        "positive": positive,
        "neutral": neutral,
        "negative": negative,
    }

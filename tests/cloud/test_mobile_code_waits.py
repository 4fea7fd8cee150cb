"""How long a refused request for a one-time code is told to wait, when codes leave meanwhile.

The per-terminal and per-mobile counts are taken under locks, but a code whose text failed is
deleted outside them (``issue``): on PostgreSQL that deletion can land between the count and
the look-up of the code that must leave the hour, which must still give a 429 with a wait,
never a server error.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from cloud.mobile_codes import _minutes_until_below
from cloud.tables import mobile_codes
from tests.cloud.test_mobile_codes import SEND, enrol_till


def test_the_wait_comes_from_the_codes_still_there(cloud_app_any: Flask, tmp_path: Path) -> None:
    """GIVEN three codes of a terminal counted WHEN one is deleted before the wait is worked out
    THEN the wait is that of the codes still there (or a minute when few enough are left)."""
    cloud_app_any.config.update(SMS_FILE=str(tmp_path / "sms.jsonl"))
    till = enrol_till(cloud_app_any)
    for n in (1, 2, 3):
        assert till.post(SEND, {"mobile": f"0935000000{n}"}).status_code == 200
    now = dt.datetime.now(dt.UTC)
    engine = cloud_app_any.extensions["vafa"].engine
    with engine.begin() as conn:  # 50, 40 and 30 minutes old
        for minutes, row in zip((50, 40, 30), till.rows(), strict=True):
            conn.execute(
                sa.update(mobile_codes)
                .where(mobile_codes.c.id == row.id)
                .values(created_at=now - dt.timedelta(minutes=minutes))
            )
    by_terminal = mobile_codes.c.terminal_id == till.terminal_id
    with engine.connect() as conn:
        assert _minutes_until_below(conn, by_terminal, 3, now) == 10  # the oldest leaves
        assert _minutes_until_below(conn, by_terminal, 2, now) == 20
    with engine.begin() as conn:  # the oldest code's text failed: deleted after the count
        conn.execute(sa.delete(mobile_codes).where(mobile_codes.c.id == till.rows()[0].id))
    with engine.connect() as conn:
        assert _minutes_until_below(conn, by_terminal, 1, now) == 30  # the newest one
        assert _minutes_until_below(conn, by_terminal, 2, now) == 20  # the 40-minute one
        assert _minutes_until_below(conn, by_terminal, 3, now) == 1  # fewer than 3 are left

"""Each sync request tells the cloud the terminal's agent version and outbox depth."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from agent.offline_queue import outbox
from agent.offline_queue.pull import pull
from agent.offline_queue.sync import AGENT_VERSION
from cloud.tables import events, terminals
from common.protocol import canonical_json
from tests.cloud.test_sync_api import Signer, enrolment_batch


def _reported(app: Any, terminal_id: str) -> tuple[Any, ...]:
    with app.extensions["vafa"].engine.connect() as conn:
        row = conn.execute(
            sa.select(
                terminals.c.agent_version, terminals.c.queue_depth, terminals.c.reported_at
            ).where(terminals.c.id == terminal_id)
        ).one()
    return tuple(row)


def test_push_and_pull_report_version_and_queue_depth(enrolled) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a terminal with three sales queued WHEN it pushes THEN the cloud keeps its
    version and the depth it had when sending (3); WHEN it then pulls THEN the depth is 0."""
    terminal, client, cloud_app = enrolled
    member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
    for amount in (100_000, 200_000):
        terminal.flow.sale(member.id, amount)
    depth = outbox.depth(terminal.conn)
    assert depth == 3  # the enrolment and two sales
    assert _reported(cloud_app, client.identity.terminal_id) == (None, None, None)
    client.push_batch(terminal.conn, terminal.vault, size=500)
    version, queued, at = _reported(cloud_app, client.identity.terminal_id)
    assert (version, queued) == (AGENT_VERSION, 3) and at is not None
    pull(client, terminal.conn, terminal.vault)
    assert _reported(cloud_app, client.identity.terminal_id)[:2] == (AGENT_VERSION, 0)


@pytest.mark.parametrize(
    ("agent", "field"),
    [
        ("0.1.0", "agent"),
        ({"version": "0.1.0\n", "queue_depth": 1}, "agent.version"),
        ({"version": "", "queue_depth": 1}, "agent.version"),
        ({"version": "0.1.0", "queue_depth": -1}, "agent.queue_depth"),
        ({"version": "0.1.0", "queue_depth": True}, "agent.queue_depth"),
        ({"version": "0.1.0"}, "agent.queue_depth"),
    ],
)
def test_a_bad_report_is_refused_naming_the_field_and_applies_nothing(
    cloud_app: Any, agent: Any, field: str
) -> None:
    """GIVEN a signed batch whose report is malformed THEN 400 naming the field, and neither
    the batch's events nor the report are stored."""
    signer = Signer(cloud_app)
    batch = {**json.loads(enrolment_batch()), "agent": agent}
    body = canonical_json(batch)
    answer = signer.post(body, signer.headers(body))
    assert answer.status_code == 400 and answer.get_json()["field"] == field
    assert signer.count(events) == 0
    assert _reported(cloud_app, signer.id) == (None, None, None)

"""No mobile or name reaches a log line, on the terminal or the cloud, whatever happens.

GIVEN every log record at DEBUG from every logger WHEN a member is enrolled, buys, redeems,
is refunded, syncs through refusals and lost answers, is pulled by another store, and a
cashier mistypes mobiles THEN no record holds the member's mobile in any form, nor her name.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from agent.config import AgentConfig
from agent.errors import InputError
from agent.identity import enroll
from agent.ledger.db import write_transaction
from agent.offline_queue import outbox
from agent.offline_queue.poller import SyncPoller
from agent.offline_queue.pull import pull
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from cloud.fleet import create_enrolment_code, create_store
from common.errors import VafaError

MOBILE = "0917 865 4321"
FORMS = ("09178654321", "9178654321", "+989178654321", "۰۹۱۷۸۶۵۴۳۲۱", "917 865 4321", "8654321")
NAME, NAME_PARTS = "کیانا نیک‌نام", ("کیانا", "نیک‌نام")


def _terminal(cloud_app, folder: Path, store: str):  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, store))
    transport = httpx.WSGITransport(app=cloud_app)
    identity = enroll("http://cloud.test", code, folder, transport=transport)
    return Terminal(AgentConfig(data_dir=folder, printer_transport="memory")), SyncClient(
        identity, transport=transport
    )


def test_no_mobile_or_name_in_any_log_record(
    cloud_app, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    a, a_client = _terminal(cloud_app, tmp_path / "a", "ونک")
    b, b_client = _terminal(cloud_app, tmp_path / "b", "تجریش")
    member = a.flow.enrol(MOBILE, NAME, consent=True, birthday="06-15")
    sale = a.flow.sale(member.id, 3_000_000)
    a.print_receipt(sale)
    a.flow.sale(member.id, 500_000, redeem_points=100)
    a.flow.refund(sale.sale_id)
    # A resend the cloud refuses (same id, other content) and one whose answer is lost:
    event = outbox.pending(a.conn, a.vault, 1)[0]
    a_client.post_signed("/api/v1/sync/events", {"events": [event.to_dict()]})
    changed = dict(event.to_dict(), payload=dict(event.payload, name="دیگری"))
    a_client.post_signed("/api/v1/sync/events", {"events": [changed]})
    a_client.drain(a.conn, a.vault)
    # An enrolment the cloud refuses for its mobile, logged by the poller as it fails:
    with write_transaction(a.conn):
        payload = {
            "member_id": "f" * 32,
            "card_code": "2900000000017",
            "name": NAME,
            "mobile": "0917 865 43210",
            "marketing_consent": True,
            "birthday": None,
        }
        outbox.enqueue(a.conn, a.vault, "member.enrolled", payload, "2026-11-22T10:00:00+03:30")
    poller = SyncPoller(a.conn, a.vault, a_client, interval=1.0)
    assert poller.run_once() is False and "payload.mobile" in poller.last_error
    pull(b_client, b.conn, b.vault)
    b.flow.identify(MOBILE)
    for typo in ("0917865432", "09178654321x", "+98 917 865 43210"):
        with pytest.raises(VafaError):
            b.flow.enrol(typo, NAME, consent=True)
    with pytest.raises(InputError):  # the same mobile again
        b.flow.enrol(MOBILE, NAME, consent=True)

    text = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert caplog.records, "the flow logs nothing at all: this test would prove nothing"
    leaked = [form for form in (*FORMS, NAME, *NAME_PARTS) if form in text]
    assert not leaked, f"found in the logs: {leaked}"
    for terminal, client in ((a, a_client), (b, b_client)):
        client.close()
        terminal.close()

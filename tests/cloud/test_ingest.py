"""The cloud applies each event exactly once, names the field of a conflict, reports gaps,
and keeps the good events of a batch that holds a bad one; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from agent.ledger import book
from agent.offline_queue import outbox
from cloud.app import create_app
from cloud.fleet import create_enrolment_code, create_store
from cloud.reports import totals
from cloud.tables import events, ledger_entries, ledger_postings, members, sales, terminals
from common.protocol import canonical_json, new_id
from common.signing import public_key_b64, sign_request

PATH = "/api/v1/sync/events"


class Till:
    """A terminal enrolled with the app, sending hand-made events over signed HTTP."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.key = Ed25519PrivateKey.generate()
        with self.engine.begin() as conn:
            code = create_enrolment_code(conn, create_store(conn, "شعبه ونک"))
        answer = app.test_client().post(
            "/api/v1/terminals/enroll", json={"code": code, "public_key": public_key_b64(self.key)}
        )
        assert answer.status_code == 200, answer.get_json()
        self.id: str = answer.get_json()["terminal_id"]

    @property
    def engine(self) -> sa.Engine:
        return self.app.extensions["vafa"].engine

    def send(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        """POST a signed batch; return the cloud's answer (200 expected)."""
        body = canonical_json({"events": batch})
        headers = sign_request(self.key, self.id, "POST", PATH, body)
        response = self.app.test_client().post(
            PATH, data=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        answer: dict[str, Any] = response.get_json()
        return answer

    def statuses(self, batch: list[dict[str, Any]]) -> list[str]:
        return [result["status"] for result in self.send(batch)["results"]]

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def totals(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return totals(conn)

    def watermarks(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(terminals.c.contiguous_seq, terminals.c.highest_seq).where(
                    terminals.c.id == self.id
                )
            ).one()
        return int(row.contiguous_seq), int(row.highest_seq)


def event(seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id(),
        "seq": seq,
        "kind": kind,
        "terminal_time": "2026-11-22T10:15:00+03:30",
        "payload": payload,
    }


def enrolment(seq: int, member_id: str, mobile: str = "09121234567") -> dict[str, Any]:
    return event(
        seq,
        "member.enrolled",
        {
            "member_id": member_id,
            "card_code": new_id()[:12],
            "mobile": mobile,
            "name": "مریم رضایی",
            "marketing_consent": True,
        },
    )


def earn_entry(member_id: str, points: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "kind": "earn",
        "reverses": None,
        "memo": "",
        "postings": [
            {"account": f"member:{member_id}:points", "amount": points},
            {"account": "system:points_issued", "amount": -points},
        ],
    }


def sale(seq: int, member_id: str, amount: int = 500_000, points: int = 5) -> dict[str, Any]:
    return event(
        seq,
        "sale.completed",
        {
            "sale_id": new_id(),
            "receipt_no": seq,
            "member_id": member_id,
            "amount_rial": amount,
            "points_earned": points,
            "points_redeemed": 0,
            "channel": "in_store",
            "entries": [earn_entry(member_id, points)],
        },
    )


def member_with_sales(count: int) -> tuple[str, list[dict[str, Any]]]:
    member_id = new_id()
    return member_id, [enrolment(1, member_id)] + [
        sale(seq, member_id) for seq in range(2, count + 2)
    ]


# -- through the real agent --------------------------------------------------------------


@pytest.fixture
def agent_on_any(terminal, cloud_app_any: Flask) -> Iterator[tuple[Any, Any, Flask]]:  # type: ignore[no-untyped-def]
    """Yield (terminal, sync client, app): the real agent enrolled with the app on either DB."""
    from agent.identity import enroll
    from agent.offline_queue.sync import SyncClient

    with cloud_app_any.extensions["vafa"].engine.begin() as conn:
        code = create_enrolment_code(conn, create_store(conn, "فروشگاه آزمایشی"))
    transport = httpx.WSGITransport(app=cloud_app_any)
    identity = enroll("http://cloud.test", code, terminal.config.data_dir, transport=transport)
    client = SyncClient(identity, transport=transport)
    yield terminal, client, cloud_app_any
    client.close()


def test_fifty_real_sales_sync_and_the_points_agree(agent_on_any) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = agent_on_any
    zahra = terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    ali = terminal.flow.enrol("۰۹۳۵ ۱۱۱ ۲۲۳۳", "علي كريمي", consent=False)
    for index in range(50):
        member = zahra if index % 2 else ali
        terminal.flow.sale(member.id, 150_000 * (index + 1))
    terminal.flow.sale(zahra.id, 1_000_000, redeem_points=1_000)
    (queued,) = terminal.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
    assert queued >= 53  # 2 enrolments, 51 sales, and any tier changes
    result = client.drain(terminal.conn, terminal.vault, batch_size=20)
    assert (result.acked, result.gaps) == (queued, [])
    assert outbox.depth(terminal.conn) == 0
    with app.extensions["vafa"].engine.connect() as conn:
        cloud = totals(conn)
        local_sales = terminal.conn.execute("SELECT COUNT(*), SUM(amount_rial) FROM sales")
        count, revenue = local_sales.fetchone()
        assert count == 51
        assert (cloud["sales"], cloud["revenue_rial"]) == (count, revenue)
        assert cloud["points_redeemed"] == 1_000
        assert cloud["members"] == 2
        assert cloud["points_total"] == book.total_member_points(terminal.conn) > 0
        contiguous = conn.execute(sa.select(terminals.c.contiguous_seq)).scalar_one()
        assert contiguous == queued


def test_a_drain_resent_from_scratch_changes_nothing(agent_on_any) -> None:  # type: ignore[no-untyped-def]
    terminal, client, app = agent_on_any
    member = terminal.flow.enrol("09123456789", "زهرا محمدی", consent=True)
    for index in range(5):
        terminal.flow.sale(member.id, 200_000 * (index + 1))
    sent = [e.to_dict() for e in outbox.pending(terminal.conn, terminal.vault, 100)]
    client.drain(terminal.conn, terminal.vault)
    with app.extensions["vafa"].engine.connect() as conn:
        before = totals(conn)
    answer = client.post_signed(PATH, {"events": sent})
    assert {r["status"] for r in answer["results"]} == {"duplicate"}
    with app.extensions["vafa"].engine.connect() as conn:
        assert totals(conn) == before
        assert before["points_total"] == book.total_member_points(terminal.conn)


# -- hand-made batches, both back-ends ---------------------------------------------------


def test_the_same_batch_twice_is_all_duplicates_the_second_time(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    _member, batch = member_with_sales(10)
    assert set(till.statuses(batch)) == {"applied"}
    before = till.totals()
    second = till.send(copy.deepcopy(batch))
    assert [r["status"] for r in second["results"]] == ["duplicate"] * 11
    assert [r["id"] for r in second["results"]] == [e["id"] for e in batch]
    assert second["gaps"] == []
    assert till.totals() == before
    assert (before["sales"], before["points_total"]) == (10, 50)
    assert till.count(events) == 11


def test_an_event_repeated_inside_one_batch_is_applied_once(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    _member, batch = member_with_sales(1)
    assert till.statuses([*batch, copy.deepcopy(batch[1])]) == ["applied", "applied", "duplicate"]
    assert till.totals()["sales"] == 1


def test_the_same_id_with_a_different_amount_is_refused_naming_the_field(
    cloud_app_any: Flask,
) -> None:
    till = Till(cloud_app_any)
    _member, batch = member_with_sales(1)
    till.send(batch)
    changed = copy.deepcopy(batch[1])
    changed["payload"]["amount_rial"] += 10
    (result,) = till.send([changed])["results"]
    assert result["status"] == "rejected"
    assert result["field"] == "payload.amount_rial"
    assert result["id"] == changed["id"]
    assert till.totals()["revenue_rial"] == 500_000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.update(kind="sale.refunded"), "kind"),
        (lambda e: e.update(terminal_time="2026-11-22T10:16:00+03:30"), "terminal_time"),
        (lambda e: e["payload"].update(channel="online"), "payload.channel"),
        (lambda e: e["payload"].update(points_earned=6), "payload.points_earned"),
        (lambda e: e["payload"].pop("receipt_no"), "payload.receipt_no"),
    ],
)
def test_each_changed_field_of_a_resent_event_is_named(change: Any, field: str) -> None:
    app = create_app_sqlite()
    try:
        till = Till(app)
        _member, batch = member_with_sales(1)
        till.send(batch)
        changed = copy.deepcopy(batch[1])
        change(changed)
        (result,) = till.send([changed])["results"]
        assert (result["status"], result["field"]) == ("rejected", field)
    finally:
        app.extensions["vafa"].engine.dispose()


def test_a_seq_reused_by_another_id_is_refused(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    member_id, batch = member_with_sales(1)
    till.send(batch)
    (result,) = till.send([sale(2, member_id)])["results"]
    assert (result["status"], result["field"]) == ("rejected", "seq")
    assert till.totals()["sales"] == 1


def test_a_gap_is_reported_and_closed_when_the_lost_event_arrives(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    member_id = new_id()
    first, second, third, fourth = (
        enrolment(1, member_id),
        sale(2, member_id),
        sale(3, member_id),
        sale(4, member_id),
    )
    answer = till.send([first, second, fourth])
    assert [r["status"] for r in answer["results"]] == ["applied"] * 3
    assert answer["gaps"] == [[3, 3]]
    assert till.watermarks() == (2, 4)
    closing = till.send([third])
    assert closing["gaps"] == []
    assert till.watermarks() == (4, 4)


def test_several_gaps_are_each_reported(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    member_id = new_id()
    answer = till.send([enrolment(1, member_id), sale(4, member_id), sale(9, member_id)])
    assert answer["gaps"] == [[2, 3], [5, 8]]
    assert till.watermarks() == (1, 9)


def test_an_unknown_member_is_refused(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    (result,) = till.send([sale(1, new_id())])["results"]
    assert (result["status"], result["field"]) == ("rejected", "payload.member_id")
    assert till.count(sales) == till.count(events) == 0


def test_postings_that_do_not_balance_are_refused(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    _member, batch = member_with_sales(1)
    batch[1]["payload"]["entries"][0]["postings"][1]["amount"] = -4
    results = till.send(batch)["results"]
    assert results[1]["status"] == "rejected"
    assert results[1]["field"] == "payload.entries[0].postings"
    assert till.count(ledger_entries) == till.count(ledger_postings) == 0


@pytest.mark.parametrize(
    "account",
    [
        "member:{other}:points",
        "member:{other}:{me}:points",  # names the right member too, but is not their account
        "member:{me}:points:{other}",
        "member:{other}:credit",
    ],
)
def test_a_posting_on_another_members_account_is_refused(
    cloud_app_any: Flask, account: str
) -> None:
    till = Till(cloud_app_any)
    me, other = new_id(), new_id()
    batch = [enrolment(1, me), enrolment(2, other, mobile="09351234567"), sale(3, me)]
    batch[2]["payload"]["entries"][0]["postings"][0]["account"] = account.format(me=me, other=other)
    results = till.send(batch)["results"]
    assert [r["status"] for r in results] == ["applied", "applied", "rejected"]
    assert results[2]["field"] == "payload.entries[0].postings"
    assert till.totals()["points_total"] == 0


def test_one_bad_event_does_not_undo_the_good_ones(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    _member, batch = member_with_sales(4)
    batch[2]["payload"]["amount_rial"] = -1
    results = till.send(batch)["results"]
    assert [r["status"] for r in results] == [
        "applied",
        "applied",
        "rejected",
        "applied",
        "applied",
    ]
    assert results[2]["field"] == "payload.amount_rial"
    assert (till.count(sales), till.count(events), till.count(ledger_entries)) == (3, 4, 3)
    assert till.totals()["points_total"] == 15


def test_an_event_id_of_another_terminal_is_refused(cloud_app_any: Flask) -> None:
    first, second = Till(cloud_app_any), Till(cloud_app_any)
    _member, batch = member_with_sales(1)
    first.send(batch)
    (result,) = second.send([batch[0]])["results"]
    assert (result["status"], result["field"]) == ("rejected", "id")


def test_a_mobile_already_enrolled_elsewhere_is_refused(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    results = till.send([enrolment(1, new_id()), enrolment(2, new_id(), mobile="+98 912 123 4567")])
    assert [(r["status"], r.get("field")) for r in results["results"]] == [
        ("applied", None),
        ("rejected", "payload.mobile"),
    ]
    assert till.count(members) == 1


# -- hostile content must be refused naming the field, not crash the batch ----------------


def _with(batch: list[dict[str, Any]], index: int, path: str, value: Any) -> list[dict[str, Any]]:
    changed = copy.deepcopy(batch)
    target = changed[index]
    *parents, last = path.split(".")
    for name in parents:
        target = target[int(name)] if name.isdigit() else target[name]
    target[last] = value
    return changed


@pytest.mark.parametrize(
    ("index", "path", "value", "field"),
    [
        (1, "payload.channel", "x" * 21, "payload.channel"),
        (1, "payload.sale_id", "s" * 33, "payload.sale_id"),
        (1, "payload.amount_rial", 2**63, "payload.amount_rial"),
        (1, "payload.receipt_no", -(2**64), "payload.receipt_no"),
        (1, "payload.points_earned", 10**30, "payload.points_earned"),
        (1, "terminal_time", "t" * 41, "terminal_time"),
        (1, "payload.entries.0.kind", "k" * 21, "payload.entries[0].kind"),
        (1, "payload.entries.0.id", "e" * 33, "payload.entries[0].id"),
        (1, "payload.entries.0.reverses", {"id": 1}, "payload.entries[0].reverses"),
        (1, "payload.entries.0.reverses", "r" * 33, "payload.entries[0].reverses"),
        (1, "payload.entries.0.postings.0.account", "member:" + "m" * 80, None),
        (1, "seq", 2**63, "seq"),
        (1, "payload.channel", "in\x00store", "payload.channel"),
        (1, "terminal_time", "2026-11-22\x00", "terminal_time"),
        (1, "payload.entries.0.postings.1.account", "system:\x00", None),
        (0, "payload.card_code", "c" * 33, "payload.card_code"),
        (0, "payload.member_id", "m" * 33, "payload.member_id"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_field(
    cloud_app_any: Flask, index: int, path: str, value: Any, field: str | None
) -> None:
    till = Till(cloud_app_any)
    _member, batch = member_with_sales(2)
    results = till.send(_with(batch, index, path, value))["results"]
    assert results[index]["status"] == "rejected"
    if field is not None:
        assert results[index]["field"] == field
    else:
        assert results[index]["field"].startswith("payload.entries[0].postings")
    others = [(r["status"], r.get("field")) for i, r in enumerate(results) if i != index]
    if index == 0:  # the member was never enrolled, so the sales name an unknown member
        assert others == [("rejected", "payload.member_id")] * 2
    else:
        assert others == [("applied", None)] * 2


def test_two_postings_on_one_account_in_an_entry_are_refused(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    member_id, batch = member_with_sales(2)
    batch[1]["payload"]["entries"][0]["postings"] = [
        {"account": f"member:{member_id}:points", "amount": 5},
        {"account": "system:points_issued", "amount": -3},
        {"account": "system:points_issued", "amount": -2},
    ]
    results = till.send(batch)["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["field"] == "payload.entries[0].postings"
    assert till.totals()["sales"] == 1


def test_a_card_code_of_another_member_is_refused(cloud_app_any: Flask) -> None:
    till = Till(cloud_app_any)
    first = enrolment(1, new_id())
    second = enrolment(2, new_id(), mobile="09351234567")
    second["payload"]["card_code"] = first["payload"]["card_code"]
    till.send([first])
    results = till.send([second, sale(3, first["payload"]["member_id"])])["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("rejected", "payload.card_code"),
        ("applied", None),
    ]


def create_app_sqlite() -> Flask:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="vafa-ingest-"))
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'cloud.db'}",
            "PII_KEY_FILE": str(folder / "pii.key"),
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )

"""Enrolment demographics at the cloud, on SQLite and PostgreSQL: stored in members' own
columns, sent back in member snapshots, refused naming the field when not in the lists."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.tables import members
from common.protocol import canonical_json, new_id
from tests.cloud.test_sync_api import Signer


def _enrolment(seq: int, mobile: str, **about: Any) -> dict[str, Any]:
    payload = {
        "member_id": new_id(),
        "card_code": new_id()[:12],
        "mobile": mobile,
        "name": "پریسا",
        "marketing_consent": True,
        "birthday": "03-21",
        **about,
    }
    return {
        "id": new_id(),
        "seq": seq,
        "kind": "member.enrolled",
        "terminal_time": "2026-12-01T10:15:00+03:30",
        "payload": payload,
    }


def _send(signer: Signer, *batch: dict[str, Any]) -> list[dict[str, Any]]:
    body = canonical_json({"events": list(batch)})
    answer = signer.post(body, signer.headers(body))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    results: list[dict[str, Any]] = answer.get_json()["results"]
    return results


def test_demographics_are_stored_and_sent_back_in_snapshots(cloud_app_any: Flask) -> None:
    signer = Signer(cloud_app_any)
    full = _enrolment(
        1, "09121234567", gender="f", province="مازندران", city="بابل", birth_year=1369
    )
    old_terminal = _enrolment(2, "09121234568")  # a terminal from before: no such keys
    assert [r["status"] for r in _send(signer, full, old_terminal)] == ["applied", "applied"]
    with cloud_app_any.extensions["vafa"].engine.connect() as conn:
        rows = {
            row.id: tuple(row)[1:]
            for row in conn.execute(
                sa.select(
                    members.c.id,
                    members.c.gender,
                    members.c.province,
                    members.c.city,
                    members.c.birth_year,
                )
            )
        }
    assert rows[full["payload"]["member_id"]] == ("f", "مازندران", "بابل", 1369)
    assert rows[old_terminal["payload"]["member_id"]] == (None, None, None, None)

    body = canonical_json({"members_cursor": 0})
    pulled = cloud_app_any.test_client().post(
        "/api/v1/sync/pull", data=body, headers=signer.headers(body, path="/api/v1/sync/pull")
    )
    assert pulled.status_code == 200
    snapshots = {s["member_id"]: s for s in pulled.get_json()["members"]}
    mine = snapshots[full["payload"]["member_id"]]
    assert (mine["gender"], mine["province"], mine["city"], mine["birth_year"]) == (
        "f",
        "مازندران",
        "بابل",
        1369,
    )


@pytest.mark.parametrize(
    ("about", "field"),
    [
        ({"gender": "x"}, "payload.gender"),
        ({"gender": 1}, "payload.gender"),
        ({"province": "تهران", "city": "بابل"}, "payload.city"),
        ({"city": "بابل"}, "payload.province"),
        ({"province": "x" * 500}, "payload.province"),
        ({"birth_year": "1369"}, "payload.birth_year"),
        ({"birth_year": 1200}, "payload.birth_year"),
        ({"birth_year": 10**30}, "payload.birth_year"),
    ],
)
def test_a_bad_demographic_rejects_the_enrolment_naming_it(
    cloud_app_any: Flask, about: dict[str, Any], field: str
) -> None:
    signer = Signer(cloud_app_any)
    (result,) = _send(signer, _enrolment(1, "09121234569", **about))
    assert (result["status"], result["field"]) == ("rejected", field)
    assert signer.count(members) == 0

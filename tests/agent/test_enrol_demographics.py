"""Enrolment with gender, province, city and a full Jalali birth date, terminal to cloud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.errors import InputError
from agent.offline_queue import outbox
from cloud.tables import members as cloud_members
from common.demographics import BIRTH_DATE_FA
from tests.support.live_server import live_server


def _count(terminal) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    members = terminal.conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    return members, outbox.depth(terminal.conn)


def test_enrol_keeps_demographics_and_queues_them(terminal) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a newcomer who gives everything WHEN enrolled THEN the terminal keeps gender,
    place and birth year in clear, month and day sealed, and the event carries them all."""
    member = terminal.flow.enrol(
        "09121112233",
        "مریم کاظمی",
        True,
        birthday="۱۳۶۸/۰۲/۳۱",
        gender="f",
        province="اصفهان",
        city="كاشان",  # Arabic kaf, as some keyboards type it
    )
    assert (member.gender, member.province, member.city, member.birth_year) == (
        "f",
        "اصفهان",
        "کاشان",
        1368,
    )
    assert member.birthday == (2, 31)
    row = terminal.conn.execute("SELECT * FROM members WHERE id = ?", (member.id,)).fetchone()
    assert (row["gender"], row["province"], row["city"], row["birth_year"]) == (
        "f",
        "اصفهان",
        "کاشان",
        1368,
    )
    assert b"02-31" not in row["birthday_enc"]  # month and day stay sealed
    again = terminal.flow.identify("09121112233")
    assert again.demographics == member.demographics and again.birthday == (2, 31)
    (event,) = outbox.pending(terminal.conn, terminal.vault, 10)
    assert event.kind == "member.enrolled"
    assert {k: event.payload[k] for k in ("gender", "province", "city", "birth_year")} == {
        "gender": "f",
        "province": "اصفهان",
        "city": "کاشان",
        "birth_year": 1368,
    }
    assert event.payload["birthday"] == "02-31"


def test_every_demographic_is_optional(terminal) -> None:  # type: ignore[no-untyped-def]
    member = terminal.flow.enrol("09121112244", "رضا", False, birthday="07-15")
    assert (member.gender, member.province, member.city, member.birth_year) == (None,) * 4
    assert member.birthday == (7, 15)
    (event,) = outbox.pending(terminal.conn, terminal.vault, 10)
    assert event.payload["gender"] is None and event.payload["birth_year"] is None


@pytest.mark.parametrize(
    ("extra", "fa"),
    [
        ({"gender": "x"}, "جنسیت را درست انتخاب کنید"),
        ({"province": "تهران", "city": "تبریز"}, "این شهر در فهرست شهرهای استان نیست"),
        ({"city": "تبریز"}, "اول استان را انتخاب کنید"),
        ({"province": "نیویورک"}, "استان در فهرست نیست"),
        ({"birthday": "1401/12/30"}, BIRTH_DATE_FA),
        ({"birthday": "1250/01/01"}, "سال تولد باید سال شمسی باشد، مثل ۱۳۷۰"),
    ],
)
def test_a_bad_value_refuses_the_enrolment_and_stores_nothing(
    terminal,
    extra: dict[str, str],
    fa: str,  # type: ignore[no-untyped-def]
) -> None:
    before = _count(terminal)
    with pytest.raises(InputError) as caught:
        terminal.flow.enrol("09121112255", "سینا", True, **extra)
    assert caught.value.fa == fa
    assert _count(terminal) == before


def _sync_terminal(cloud_url: str, engine: sa.Engine, data_dir: Path, store_id: str | None):  # type: ignore[no-untyped-def]
    from agent.config import AgentConfig
    from agent.identity import enroll
    from agent.offline_queue.sync import SyncClient
    from agent.terminal import Terminal
    from cloud.fleet import create_enrolment_code, create_store

    with engine.begin() as conn:
        store = store_id or create_store(conn, "فروشگاه اصفهان")
        code = create_enrolment_code(conn, store)
    config = AgentConfig(data_dir=data_dir)
    identity = enroll(cloud_url, code, config.data_dir)
    return Terminal(config), SyncClient(identity, timeout=10), store


def test_demographics_reach_the_cloud_and_the_next_terminal(
    cloud_app,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """GIVEN a terminal that enrols a member with demographics and one without
    WHEN it syncs to the real cloud over loopback HTTP
    THEN the cloud's members rows hold gender, province, city and birth year, and a second
    terminal of the same store pulls a snapshot with them."""
    from agent.offline_queue.pull import pull

    engine = cloud_app.extensions["vafa"].engine
    with live_server(cloud_app) as cloud_url:
        first, client, store = _sync_terminal(cloud_url, engine, tmp_path / "t1", None)
        with_all = first.flow.enrol(
            "09131234567",
            "زهرا",
            True,
            birthday="1375/11/02",
            gender="f",
            province="اصفهان",
            city="نجف‌آباد",
        )
        plain = first.flow.enrol("09131234568", "حسن", False)
        assert client.drain(first.conn, first.vault).acked == 2
        with engine.connect() as conn:
            rows = {
                row.id: row
                for row in conn.execute(
                    sa.select(
                        cloud_members.c.id,
                        cloud_members.c.gender,
                        cloud_members.c.province,
                        cloud_members.c.city,
                        cloud_members.c.birth_year,
                    )
                )
            }
        assert tuple(rows[with_all.id])[1:] == ("f", "اصفهان", "نجف‌آباد", 1375)
        assert tuple(rows[plain.id])[1:] == (None, None, None, None)

        second, client2, _ = _sync_terminal(cloud_url, engine, tmp_path / "t2", store)
        assert pull(client2, second.conn, second.vault).members == 2
        seen = second.flow.identify("09131234567")
        assert (seen.gender, seen.province, seen.city, seen.birth_year) == (
            "f",
            "اصفهان",
            "نجف‌آباد",
            1375,
        )
        assert seen.birthday == (11, 2)
        for terminal, sync in ((first, client), (second, client2)):
            sync.close()
            terminal.close()


def test_the_cloud_rejects_a_forged_city_naming_the_field(enrolled) -> None:  # type: ignore[no-untyped-def]
    """GIVEN an enrolment event whose city is not in the province's list (a hand-made body)
    WHEN it reaches the cloud THEN it is rejected naming payload.city, and nothing stored."""
    terminal, client, cloud_app = enrolled
    terminal.flow.enrol("09141234567", "امیر", True, province="فارس", city="شیراز")
    (event,) = outbox.pending(terminal.conn, terminal.vault, 10)
    forged = {**event.to_dict(), "payload": {**event.payload, "city": "تبریز"}}
    answer = client.post_signed("/api/v1/sync/events", {"events": [forged]})
    (result,) = answer["results"]
    assert result["status"] == "rejected", json.dumps(answer, ensure_ascii=False)
    assert result["field"] == "payload.city"
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cloud_members)).scalar() == 0


def test_member_add_on_the_command_line_takes_demographics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main
    from agent.ledger import db

    data = ["--data-dir", str(tmp_path)]
    add = [*data, "member", "add", "--mobile", "09351234567", "--name", "لیلا"]
    place = ["--gender", "f", "--province", "گیلان", "--city", "رشت"]
    assert main([*add, *place, "--birthday", "1370-09-03"]) == 0
    assert json.loads(capsys.readouterr().out)["card_code"].startswith("29")
    refused = [*data, "member", "add", "--mobile", "09351234568", "--name", "نیما"]
    assert main([*refused, "--province", "گیلان", "--city", "شیراز"]) != 0
    assert "این شهر در فهرست شهرهای استان نیست" in capsys.readouterr().err
    conn = db.connect(tmp_path / "ledger.sqlite3")
    rows = conn.execute("SELECT gender, province, city, birth_year FROM members").fetchall()
    conn.close()
    assert [tuple(r) for r in rows] == [("f", "گیلان", "رشت", 1370)]

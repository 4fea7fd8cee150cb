"""Imports: channel orders (file and API) and an existing club's member list (CSV, xlsx).

Every bad row is reported with its spreadsheet line and reason and stores nothing; the good
rows go in once however often the file is imported; channel orders feed the analytics and
move no points.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from openpyxl import Workbook

from cloud.analytics.run import run_analytics
from cloud.cli import main
from cloud.fleet import create_enrolment_code, create_store, enroll_terminal
from cloud.hq import create_user
from cloud.hq_api import create_token
from cloud.imports import BadFile, Report, import_members, import_orders, read_rows
from cloud.imports import members as member_columns
from cloud.imports import orders as order_columns
from cloud.snapshots import pull
from cloud.tables import (
    channel_orders,
    grants,
    ledger_postings,
    member_analytics,
    member_categories,
    member_terminal_points,
    members,
    sale_lines,
    sales,
)
from common.signing import public_key_b64

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
MEMBERS_CSV = """موبایل,نام,تاریخ تولد,جنسیت,استان,شهر,تاریخ عضویت,امتیاز,رضایت پیامک
۰۹۱۲۱۲۳۴۵۶۷,مريم رضايي,1370/05/12,زن,تهران,تهران,1400/01/15,500,بله
+98 912 765 4321,علی احمدی,,مرد,,,,,
12345,شماره بد,,,,,,,
09121234567,همان موبایل سطر دو,,,,,,,
09351112233,,,,,,,,
09351112234,تولد بد,13/40,,,,,,
09351112235,جنسیت بد,,x,,,,,
09351112236,شهر بد,,,تهران,اصفهان,,,
09351112237,امتیاز بد,,,,,,abc,
09351112238,رضایت بد,,,,,,,شاید
09351112239,عضویت آینده,,,,,1499/01/01,,
"""
MEMBER_FAULTS = {
    4: "bad_mobile",
    5: "repeated",
    6: "bad_name",
    7: "bad_birthday",
    8: "bad_gender",
    9: "bad_city",
    10: "bad_points",
    11: "bad_consent",
    12: "future_date",
}
ORDERS_CSV = """شماره سفارش,موبایل,تاریخ,مبلغ (ریال),اقلام
A1,09121234567,1403/05/12 14:30,1250000,لبنیات:500000;نوشیدنی:250000
A2,0098 912 765 4321,2024-08-02T10:00:00+03:30,"2,000,000",
A3,09121234567,1403/05/12,125000.5,
A4,09121234567,1403/05/12,125000 تومان,
A5,09100000000,1403/05/12,125000,
A6,09121234567,1499/01/01,125000,
A7,09121234567,1403/13/01,125000,
A8,09121234567,1403/05/12,500,
A1,09121234567,1403/05/12 14:30,1350000,
A9,not a mobile,1403/05/12,125000,
A10,09121234567,1403/05/12,125000,لبنیات:900000
A11,09121234567,1403/05/12,125000,
,09121234567,1403/05/12,125000,
"""
ORDER_FAULTS = {
    4: "decimal_amount",
    5: "toman_amount",
    6: "unknown_member",
    7: "future_date",
    8: "bad_date",
    9: "toman_amount",
    10: "changed",
    11: "bad_mobile",
    12: "bad_lines",
    14: "bad_order_id",
}


def _engine(app: Flask) -> sa.Engine:
    engine: sa.Engine = app.extensions["vafa"].engine
    return engine


def _count(app: Flask, table: sa.Table) -> int:
    with _engine(app).connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _store(app: Flask, name: str = "شعبه ونک") -> str:
    with _engine(app).begin() as conn:
        return create_store(conn, name)


def _members(app: Flask, text: str = MEMBERS_CSV, store: str = "شعبه ونک") -> Report:
    rows = read_rows(
        io.BytesIO(text.encode()), "list.csv", member_columns.COLUMNS, member_columns.REQUIRED
    )
    return import_members(_engine(app), app.extensions["vafa"].vault, rows, store, "test", NOW)


def _orders(app: Flask, text: str = ORDERS_CSV, channel: str = "website") -> Report:
    rows = read_rows(
        io.BytesIO(text.encode()), "orders.csv", order_columns.COLUMNS, order_columns.REQUIRED
    )
    return import_orders(_engine(app), app.extensions["vafa"].vault, rows, channel, "test", now=NOW)


def _faults(report: Report) -> dict[int, str]:
    return {p.line: p.code for p in report.problems}


def test_a_member_list_adds_the_good_rows_once_and_names_each_bad_one(
    cloud_app_any: Flask,
) -> None:
    store_id = _store(cloud_app_any)
    first = _members(cloud_app_any)
    assert (first.read, first.added, first.already_there) == (11, 2, 0)
    assert _faults(first) == MEMBER_FAULTS
    assert all(p.reason and p.reason_fa for p in first.problems)
    again = _members(cloud_app_any)
    assert (again.read, again.added, again.already_there) == (11, 0, 2)
    assert _faults(again) == MEMBER_FAULTS
    assert _count(cloud_app_any, members) == 2
    vault = cloud_app_any.extensions["vafa"].vault
    with _engine(cloud_app_any).connect() as conn:
        maryam = conn.execute(
            sa.select(members).where(members.c.mobile_hmac == vault.lookup_hash("+989121234567"))
        ).one()
        opening = conn.execute(sa.select(grants.c.member_id, grants.c.amount, grants.c.kind))
        assert list(opening) == [(maryam.id, 500, "points")]  # booked once, by a terminal
    assert vault.decrypt(maryam.id, maryam.name_enc) == "مریم رضایی"  # Persian letters
    assert vault.decrypt(maryam.id, maryam.birthday_enc) == "05-12"
    assert (maryam.gender, maryam.province, maryam.city, maryam.birth_year) == (
        "f",
        "تهران",
        "تهران",
        1370,
    )
    assert maryam.marketing_consent is True and maryam.home_store_id == store_id
    assert maryam.enrolled_at.date() == dt.date(2021, 4, 4)  # 1400/01/15
    assert b"\xd9\x85\xd8\xb1\xdb\x8c\xd9\x85" not in maryam.name_enc  # sealed, not clear


def test_a_terminal_of_the_home_store_pulls_the_imported_members(cloud_app_any: Flask) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cloud.tables import terminals

    store_id = _store(cloud_app_any)
    with _engine(cloud_app_any).begin() as conn:
        code = create_enrolment_code(conn, store_id)
        key = public_key_b64(Ed25519PrivateKey.generate())
        terminal_id = enroll_terminal(conn, code, key, "till")["terminal_id"]
    _members(cloud_app_any)
    vault = cloud_app_any.extensions["vafa"].vault
    with _engine(cloud_app_any).begin() as conn:
        terminal = conn.execute(sa.select(terminals).where(terminals.c.id == terminal_id)).one()
        answer = pull(conn, vault, terminal, {})
    by_mobile = {m["mobile"]: m for m in answer["members"]}
    assert set(by_mobile) == {"+989121234567", "+989127654321"}
    assert by_mobile["+989121234567"]["name"] == "مریم رضایی"
    assert len(by_mobile["+989121234567"]["card_code"]) == 13
    assert [(g["kind"], g["amount"], g["reason"]) for g in answer["grants"]] == [
        ("points", 500, "opening_balance")
    ]


def test_an_xlsx_member_list_reads_numbers_and_spreadsheet_rows(
    cloud_app: Flask, tmp_path: Path
) -> None:
    _store(cloud_app)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["mobile", "name", "gender", "joined", "points"])
    sheet.append([9121234567, "سارا کریمی", "f", dt.datetime(2023, 5, 1, 10, 0), 1200])
    sheet.append([None, None, None, None, None])  # a blank row keeps its number
    sheet.append(["0912", "کوتاه", None, None, None])
    sheet.append(["09127654321", "رضا", "m", "1402/02/11", 12.5])
    path = tmp_path / "club.xlsx"
    book.save(path)
    with path.open("rb") as stream:
        rows = read_rows(stream, path.name, member_columns.COLUMNS, member_columns.REQUIRED)
        report = import_members(
            _engine(cloud_app), cloud_app.extensions["vafa"].vault, rows, "شعبه ونک", "t", NOW
        )
    assert (report.read, report.added) == (3, 1)
    assert _faults(report) == {4: "bad_mobile", 5: "bad_points"}
    with _engine(cloud_app).connect() as conn:
        joined = conn.execute(sa.select(members.c.enrolled_at)).scalar_one()
    assert (joined.year, joined.month, joined.day) == (2023, 5, 1)


@pytest.mark.parametrize(
    ("text", "name", "fa"),
    [
        ("mobile,name\n", "x.pdf", "CSV یا اکسل"),
        ("", "x.csv", "فایل خالی است"),
        ("name,city\nعلی,تهران\n", "x.csv", "موبایل"),
        ("mobile,name,مبلغ تومان\n", "x.csv", "تومان"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(text: str, name: str, fa: str) -> None:
    with pytest.raises(BadFile) as refused:
        list(
            read_rows(
                io.BytesIO(text.encode()), name, member_columns.COLUMNS, member_columns.REQUIRED
            )
        )
    assert fa in refused.value.fa


def test_a_damaged_xlsx_is_refused_on_the_page_not_a_server_error(cloud_app: Flask) -> None:
    """GIVEN an .xlsx whose sheet is cut short (a damaged download) WHEN uploaded THEN the
    page says in Persian the file cannot be read (400); nothing is stored."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["موبایل", "نام"])
    sheet.append(["09121234567", "مریم"])
    whole = io.BytesIO()
    book.save(whole)
    source, damaged = zipfile.ZipFile(io.BytesIO(whole.getvalue())), io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            out.writestr(item, data[: len(data) // 2] if "worksheets/" in item.filename else data)
    store_id = _store(cloud_app)
    client, token = _signed_in(cloud_app, "marketer")
    form = {"csrf": token, "kind": "members", "store": store_id}
    answer = client.post(
        "/hq/imports", data={**form, "file": (io.BytesIO(damaged.getvalue()), "club.xlsx")}
    )
    assert answer.status_code == 400
    assert "اکسل (xlsx) قابل خواندن نیست" in answer.get_data(as_text=True)
    assert _count(cloud_app, members) == 0


def test_a_csv_not_in_utf8_is_refused_naming_its_line() -> None:
    data = b"mobile,name\n09121234567," + "علي".encode("cp1256") + b"\n"
    with pytest.raises(BadFile) as refused:
        list(read_rows(io.BytesIO(data), "x.csv", member_columns.COLUMNS, {"mobile"}))
    assert "UTF-8" in refused.value.fa and "سطر ۲" in refused.value.fa


def test_channel_orders_go_in_once_and_each_bad_row_is_named(cloud_app_any: Flask) -> None:
    _store(cloud_app_any)
    _members(cloud_app_any)
    first = _orders(cloud_app_any)
    assert (first.read, first.added, first.already_there) == (13, 3, 0)
    assert _faults(first) == ORDER_FAULTS
    again = _orders(cloud_app_any)
    assert (again.read, again.added, again.already_there) == (13, 0, 3)
    assert _faults(again) == ORDER_FAULTS
    changed = next(p for p in again.problems if p.code == "changed")
    assert changed.key == "A1" and "۱٬۲۵۰٬۰۰۰" in changed.reason_fa
    with _engine(cloud_app_any).connect() as conn:
        stored = conn.execute(
            sa.select(sales.c.channel, sales.c.amount_rial, sales.c.points_earned).order_by(
                sales.c.amount_rial
            )
        ).all()
        a1 = conn.execute(
            sa.select(sales.c.received_at)
            .join(channel_orders, channel_orders.c.sale_id == sales.c.id)
            .where(channel_orders.c.order_id == "A1")
        ).scalar_one()
        lines = conn.execute(
            sa.select(sale_lines.c.category, sale_lines.c.amount_rial).order_by(
                sale_lines.c.line_no
            )
        ).all()
    assert stored == [("website", 125000, 0), ("website", 1250000, 0), ("website", 2000000, 0)]
    assert (a1.hour, a1.minute) == (11, 0)  # 14:30 Tehran on 1403/05/12 = 2024-08-02
    assert a1.date() == dt.date(2024, 8, 2)
    assert lines == [("لبنیات", 500000), ("نوشیدنی", 250000)]
    # The terminals' ledger is theirs: a channel order moves no points anywhere.
    assert _count(cloud_app_any, ledger_postings) == 0
    assert _count(cloud_app_any, member_terminal_points) == 0


def test_the_same_order_id_on_another_channel_is_another_order(cloud_app: Flask) -> None:
    _store(cloud_app)
    _members(cloud_app)
    _orders(cloud_app, channel="website")
    insta = _orders(cloud_app, channel="instagram")
    assert insta.added == 3 and _count(cloud_app, channel_orders) == 6


def test_analytics_see_a_channel_order_in_the_members_pattern(cloud_app_any: Flask) -> None:
    _store(cloud_app_any)
    _members(cloud_app_any)
    text = "order_id,mobile,ordered_at,total_rial,lines\n"
    text += "W1,09121234567,1405/08/01 10:00,3000000,لبنیات:1000000;نوشیدنی:2000000\n"
    text += "W2,09121234567,1405/08/20 18:00,1000000,\n"
    assert _orders(cloud_app_any, text, channel="whatsapp").added == 2
    run_analytics(_engine(cloud_app_any), NOW, cloud_app_any.extensions["vafa"].vault)
    with _engine(cloud_app_any).connect() as conn:
        seen = conn.execute(sa.select(member_analytics)).one()
        categories = {
            category: int(amount)
            for category, amount in conn.execute(
                sa.select(member_categories.c.category, member_categories.c.amount_rial)
            )
        }
    assert (seen.purchases, seen.value_rial) == (2, 4_000_000)
    assert json.loads(seen.channels) == {"whatsapp": 2}
    assert categories == {"لبنیات": 1_000_000, "نوشیدنی": 2_000_000}


def _token(app: Flask, role: str) -> dict[str, str]:
    with _engine(app).begin() as conn:
        create_user(conn, f"user-{role}", "a-long-password", role)
        return {"Authorization": f"Bearer {create_token(conn, f'user-{role}')}"}


ORDER = {"order_id": "IG-1", "mobile": "09121234567", "ordered_at": "1404/01/20 12:00"}


def _website(**fields: Any) -> dict[str, Any]:
    """Return a batch of one website order with these fields changed."""
    return {"channel": "website", "orders": [{**ORDER, "total_rial": 99000, **fields}]}


def test_the_api_stores_a_batch_once_and_reports_each_bad_order(cloud_app_any: Flask) -> None:
    _store(cloud_app_any)
    _members(cloud_app_any)
    client = cloud_app_any.test_client()
    body: dict[str, Any] = {
        "channel": "instagram",
        "orders": [
            {
                **ORDER,
                "total_rial": 990000,
                "lines": [{"category": "پوشاک", "amount_rial": 990000}],
            },
            {**ORDER, "order_id": "IG-2", "total_rial": 99000, "ordered_at": "1404/07/31"},
            {**ORDER, "order_id": "IG-3", "total_toman": 99000},
            {**ORDER, "order_id": "IG-4", "mobile": "09350000000", "total_rial": 99000},
            {"mobile": "09121234567"},
        ],
    }
    admin = _token(cloud_app_any, "admin")
    answer = client.post("/api/v1/hq/orders", json=body, headers=admin)
    assert answer.status_code == 200
    report = answer.get_json()
    assert (report["read"], report["added"], report["refused"]) == (5, 1, 4)
    assert [(p["index"], p["code"]) for p in report["problems"]] == [
        (1, "bad_date"),
        (2, "toman_amount"),
        (3, "unknown_member"),
        (4, "bad_order_id"),
    ]
    marketer = _token(cloud_app_any, "marketer")
    again = client.post("/api/v1/hq/orders", json=body, headers=marketer).get_json()
    assert (again["added"], again["already_there"]) == (0, 1)
    body["orders"][0]["total_rial"] = 1_100_000
    changed = client.post("/api/v1/hq/orders", json=body, headers=marketer).get_json()
    assert changed["problems"][0]["code"] == "changed"
    with _engine(cloud_app_any).connect() as conn:
        assert conn.execute(sa.select(sales.c.amount_rial)).scalar_one() == 990000
        assert conn.execute(sa.select(channel_orders.c.source)).scalar_one() == "api"


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-12:00", "0001-01-01 00:00"])
def test_a_date_at_the_calendars_edge_is_that_orders_refusal(cloud_app: Flask, when: str) -> None:
    """GIVEN an order dated where the shift to UTC leaves Python's calendar WHEN posted
    THEN that order is refused as a bad date (200 with its problem), not a 500."""
    _store(cloud_app)
    _members(cloud_app)
    answer = cloud_app.test_client().post(
        "/api/v1/hq/orders", json=_website(ordered_at=when), headers=_token(cloud_app, "admin")
    )
    assert answer.status_code == 200
    assert [p["code"] for p in answer.get_json()["problems"]] == ["bad_date"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "telegram", "orders": [ORDER]}, "channel"),
        ({"channel": "website", "orders": []}, "orders"),
        ({"channel": "website", "orders": {"a": 1}}, "orders"),
        ({"channel": "website", "orders": [ORDER] * 1001}, "orders"),
        ({"channel": "website", "orders": [ORDER], "store": 7}, "store"),
        ({"channel": "website", "orders": ["A1"]}, "orders[0]"),
        (
            {"channel": "website", "orders": [{**ORDER, "total_rial": 99000.5}]},
            "orders[0].total_rial",
        ),
        (
            {"channel": "website", "orders": [{**ORDER, "total_rial": "99000"}]},
            "orders[0].total_rial",
        ),
        ({"channel": "website", "orders": [{**ORDER, "order_id": 7}]}, "orders[0].order_id"),
        (
            {"channel": "website", "orders": [{**ORDER, "lines": [{"category": "x"}]}]},
            "orders[0].lines[0]",
        ),
        ({"channel": "website", "orders": [ORDER], "store": "شعبه ناپیدا"}, "store"),
    ],
)
def test_the_api_refuses_a_bad_batch_whole(
    cloud_app: Flask, body: dict[str, Any], field: str
) -> None:
    _store(cloud_app)
    answer = cloud_app.test_client().post(
        "/api/v1/hq/orders", json=body, headers=_token(cloud_app, "admin")
    )
    status = 404 if body.get("store") == "شعبه ناپیدا" else 400  # valid, but no such store
    assert answer.status_code == status and answer.get_json()["field"] == field
    assert answer.get_json()["message_fa"]
    assert _count(cloud_app, sales) == 0


def test_the_api_needs_a_token_of_an_admin_or_a_marketer(cloud_app: Flask) -> None:
    client = cloud_app.test_client()
    body = {"channel": "website", "orders": [{**ORDER, "total_rial": 10000}]}
    assert client.post("/api/v1/hq/orders", json=body).status_code == 401
    owner = client.post("/api/v1/hq/orders", json=body, headers=_token(cloud_app, "store_owner"))
    assert owner.status_code == 403 and owner.get_json()["error"] == "forbidden"
    assert _count(cloud_app, sales) == 0


def test_the_cli_prints_each_bad_row_in_persian_and_a_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    instance = str(tmp_path / "hq")
    assert main(["--instance", instance, "store", "create", "--name", "شعبه ونک"]) == 0
    capsys.readouterr()
    (tmp_path / "club.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    club = ["--instance", instance, "import", "members", str(tmp_path / "club.csv")]
    assert main([*club, "--store", "شعبه ونک"]) == 3
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "سطر ۴: شماره موبایل معتبر نیست"
    assert out[-1] == "خوانده: ۱۱ | افزوده: ۲ | از قبل بود: ۰ | رد شده: ۹"
    orders = ["--instance", instance, "import", "orders", str(tmp_path / "orders.csv")]
    assert main([*orders, "--channel", "website", "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["refused"]) == (3, 10)
    assert {p["line"]: p["code"] for p in report["problems"]} == ORDER_FAULTS
    good = tmp_path / "good.csv"
    good.write_text("order_id,mobile,ordered_at,total_rial\nG1,09121234567,1404/01/01,50000\n")
    assert main([*orders[:4], str(good), "--channel", "whatsapp"]) == 0
    assert capsys.readouterr().out.strip() == "خوانده: ۱ | افزوده: ۱ | از قبل بود: ۰ | رد شده: ۰"
    assert main([*orders[:4], str(tmp_path / "missing.csv"), "--channel", "website"]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_demo_data_is_a_top_level_command_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    instance = str(tmp_path / "hq")
    argv = ["--members", "30", "--seed", "7", "--date", "2026-11-30"]
    assert main(["--instance", instance, "demo-data", *argv]) == 0
    made = json.loads(capsys.readouterr().out)
    engine = sa.create_engine(f"sqlite:///{instance}/vafa-cloud.db")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(members)).scalar_one() == 30
    engine.dispose()
    assert made


def test_a_mobile_prefix_seen_valid_stands_for_every_number_it_starts() -> None:
    """The import's shortcut holds for the installed phonenumbers: whether a national
    number is a valid mobile depends on its first five digits only."""
    import random

    from cloud.imports.values import MOBILE_PREFIX, BadValue, mobile
    from common.errors import InvalidMobile
    from common.mobile import normalize_mobile

    def valid(national: str) -> bool:
        try:
            normalize_mobile("0" + national)
        except InvalidMobile:
            return False
        return True

    rng = random.Random(11)
    for prefix in [f"9{n:04d}" for n in rng.sample(range(10_000), 600)] + ["91212", "99810"]:
        answers = {valid(prefix + f"{rng.randrange(10**5):05d}") for _ in range(4)}
        assert len(answers) == 1, prefix
    assert mobile("09121234567") == "+989121234567"
    assert mobile("۰۹۱۲ ۷۷۷ ۸۸۸۸") == "+989127778888"  # the prefix is known now
    with pytest.raises(BadValue):
        mobile("09400000000")  # never a mobile, however many others were
    assert MOBILE_PREFIX == 5


def _signed_in(app: Flask, role: str) -> tuple[Any, str]:
    from tests.cloud.test_hq_ops import _log_in

    with _engine(app).begin() as conn:
        create_user(conn, f"page-{role}", "a-long-password", role)
    return _log_in(app, f"page-{role}", "a-long-password")


def test_the_import_page_takes_a_file_and_shows_each_bad_row(cloud_app_any: Flask) -> None:
    store_id = _store(cloud_app_any)
    client, token = _signed_in(cloud_app_any, "marketer")
    assert "ورود داده" in client.get("/hq/imports").get_data(as_text=True)
    form = {"csrf": token, "kind": "members", "store": store_id, "channel": "website"}
    answer = client.post(
        "/hq/imports", data={**form, "file": (io.BytesIO(MEMBERS_CSV.encode()), "club.csv")}
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'data-line="4"' in page and "شماره موبایل معتبر نیست" in page
    assert "<td>۲</td><td>۰</td><td>۹</td>" in page.replace("\n", "")  # added, there, refused
    orders = {**form, "kind": "orders", "store": ""}
    again = client.post(
        "/hq/imports", data={**orders, "file": (io.BytesIO(ORDERS_CSV.encode()), "o.csv")}
    )
    assert again.status_code == 200 and "این سفارش قبلاً با مبلغ" in again.get_data(as_text=True)
    assert _count(cloud_app_any, channel_orders) == 3
    bad = client.post("/hq/imports", data={**form, "file": (io.BytesIO(b"x"), "list.pdf")})
    assert bad.status_code == 400 and "CSV یا اکسل" in bad.get_data(as_text=True)


def test_the_import_page_needs_csrf_and_an_admin_or_a_marketer(cloud_app: Flask) -> None:
    store_id = _store(cloud_app)
    data = {"kind": "members", "store": store_id}
    client, _ = _signed_in(cloud_app, "admin")
    no_token = {**data, "file": (io.BytesIO(MEMBERS_CSV.encode()), "club.csv")}
    assert client.post("/hq/imports", data=no_token).status_code == 400
    owner, owner_token = _signed_in(cloud_app, "store_owner")
    assert owner.get("/hq/imports").status_code == 403
    with_token = {**data, "csrf": owner_token, "file": (io.BytesIO(b"a"), "club.csv")}
    assert owner.post("/hq/imports", data=with_token).status_code == 403
    assert _count(cloud_app, members) == 0
    assert cloud_app.test_client().get("/hq/imports").status_code == 302  # to the login


def test_a_chunk_that_clashes_is_written_row_by_row_refusing_only_the_clash(
    cloud_app: Flask,
) -> None:
    """Another import (or a terminal) storing the same row between the look-up and the
    write makes the chunk's insert fail; its rows then go one at a time."""
    from cloud.imports.rows import write_chunk

    _store(cloud_app)
    attempts: list[list[int]] = []

    def write(conn: sa.Connection, items: Any, pending: Report) -> None:
        attempts.append(list(items))
        if 2 in items:
            raise sa.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        pending.added += len(items)

    report = Report("orders")
    write_chunk(_engine(cloud_app), [1, 2, 3], write, report, lambda item: item + 1)
    assert attempts == [[1, 2, 3], [1], [2], [3]]
    assert report.added == 2 and [(p.line, p.code) for p in report.problems] == [(3, "conflict")]


def test_an_order_goes_to_its_store_else_the_files_else_the_members_home(
    cloud_app: Flask,
) -> None:
    vanak = _store(cloud_app)
    tajrish = _store(cloud_app, "شعبه تجریش")
    _members(cloud_app)  # home store: Vanak
    text = "order_id,mobile,ordered_at,total_rial,store\n"
    text += f"S1,09121234567,1404/01/01,50000,{tajrish}\n"
    text += "S2,09121234567,1404/01/02,50000,شعبه تجريش\n"  # by name, Arabic yeh
    text += "S3,09121234567,1404/01/03,50000,\n"
    text += "S4,09121234567,1404/01/04,50000,شعبه ناپیدا\n"
    rows = read_rows(io.BytesIO(text.encode()), "o.csv", order_columns.COLUMNS, {"order_id"})
    ext = cloud_app.extensions["vafa"]
    report = import_orders(ext.engine, ext.vault, rows, "website", "t", now=NOW)
    assert _faults(report) == {5: "bad_store"}
    rows = read_rows(io.BytesIO(text.encode()), "o.csv", order_columns.COLUMNS, {"order_id"})
    elsewhere = import_orders(ext.engine, ext.vault, rows, "whatsapp", "t", store=tajrish, now=NOW)
    with _engine(cloud_app).connect() as conn:
        placed = {
            order_id: store_id
            for order_id, store_id in conn.execute(
                sa.select(channel_orders.c.order_id, channel_orders.c.store_id).where(
                    channel_orders.c.channel == "website"
                )
            )
        }
        s3 = conn.execute(
            sa.select(channel_orders.c.store_id).where(
                channel_orders.c.channel == "whatsapp", channel_orders.c.order_id == "S3"
            )
        ).scalar_one()
    assert placed == {"S1": tajrish, "S2": tajrish, "S3": vanak}
    assert s3 == tajrish and elsewhere.added == 3


def test_migration_0023_goes_down_with_channel_orders_and_up_again(cloud_app_any: Flask) -> None:
    """Going back below 0023 removes the channel orders (a sale needs its terminal event
    there) and leaves the till's sales; going up again gives the schema back."""
    from alembic import command

    from cloud.storage import alembic_config, migrate

    _store(cloud_app_any)
    _members(cloud_app_any)
    assert _orders(cloud_app_any).added == 3
    engine = _engine(cloud_app_any)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0022")
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "channel_orders" not in inspector.get_table_names()
        nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("sales")}
        assert not nullable["event_id"] and not nullable["terminal_id"]
        assert conn.execute(sa.text("SELECT COUNT(*) FROM sales")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM sale_lines")).scalar_one() == 0
    migrate(engine)
    assert _orders(cloud_app_any).added == 3


def test_hq_pages_show_a_member_who_bought_only_online(cloud_app_any: Flask) -> None:
    """Sales without a terminal (channel orders) open in Member 360, the overview and the
    analytics pages after a run."""
    _store(cloud_app_any)
    _members(cloud_app_any)
    _orders(cloud_app_any)
    run_analytics(_engine(cloud_app_any), NOW, cloud_app_any.extensions["vafa"].vault)
    client, _ = _signed_in(cloud_app_any, "admin")
    vault = cloud_app_any.extensions["vafa"].vault
    with _engine(cloud_app_any).connect() as conn:
        member_id = conn.execute(
            sa.select(members.c.id).where(
                members.c.mobile_hmac == vault.lookup_hash("+989121234567")
            )
        ).scalar_one()
    timeline = client.get(f"/hq/members/{member_id}")
    assert timeline.status_code == 200
    assert "۱۲۵٬۰۰۰" in timeline.get_data(as_text=True)  # the online order, in Toman
    assert "سفارش وب‌سایت" in timeline.get_data(as_text=True)  # named by its channel
    for path in ("/hq/", "/hq/segments", "/hq/clv", "/hq/cohorts", "/hq/preferences"):
        assert client.get(path).status_code == 200, path


def test_imported_members_get_no_welcome_but_an_enrolled_one_does(
    cloud_app_any: Flask, tmp_path: Path
) -> None:
    """Members moved over from an old club's list joined long ago: the enrolment trigger
    (the welcome's points and text) leaves them out, whatever their joining date says,
    while a member enrolled at a till the same day still gets it."""
    from cloud.scenarios import store as scenarios
    from cloud.sms.providers import FileProvider
    from tests.cloud.test_ingest import Till, enrolment

    _store(cloud_app_any)
    assert _members(cloud_app_any, MEMBERS_CSV.replace("1400/01/15", "")).added >= 2
    welcome = {
        "name_fa": "خوش‌آمد",
        "trigger": {"type": "enrolment"},
        "actions": [{"type": "points", "amount": 100, "note": "خوش آمدید"}],
        "control_pct": 0,
        "guardrails": {"period": "once"},
    }
    with _engine(cloud_app_any).begin() as conn:
        scenarios.save(conn, "welcome", welcome)
        imported = conn.execute(
            sa.select(sa.func.count()).where(members.c.imported_at.is_not(None))
        ).scalar_one()
    assert imported >= 2
    vault = cloud_app_any.extensions["vafa"].vault
    sms = FileProvider(tmp_path / "sms.jsonl")
    assert scenarios.run_day(_engine(cloud_app_any), vault, sms, NOW).get("welcome", {}) == {}
    till = Till(cloud_app_any)
    new_member = "n" * 32
    assert till.statuses([enrolment(1, new_member, mobile="09127770000")]) == ["applied"]
    with _engine(cloud_app_any).connect() as conn:
        greeted = conn.execute(
            sa.select(grants.c.member_id).where(grants.c.reason == "scenario:welcome")
        ).scalars()
        assert list(greeted) == [new_member]

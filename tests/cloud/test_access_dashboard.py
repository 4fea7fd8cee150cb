"""HQ's analytics pages and exports within the user's scope, on SQLite and PostgreSQL:
a store owner who edits ``?store=``, an export's name or a member id reaches nothing of
another store; what they do see adds up to their own store's sales.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from openpyxl import load_workbook

from cloud.analytics.run import run_analytics
from cloud.dashboard_pages import TABLES
from cloud.tables import members, segment_changes
from tests.cloud.test_access_scope import (
    TAJRISH,
    VANAK,
    Chain,
    add_users,
    seed_chain,
    seed_preferences,
    signed_in,
)

AS_OF = dt.datetime(2025, 10, 5, tzinfo=dt.UTC)
PAGES = ["/hq/", "/hq/segments", "/hq/cohorts", "/hq/clv", "/hq/nps", "/hq/demographics"]
PAGES += ["/hq/preferences"]
# What only Tajrish's side of the chain would show: its name, its members' provinces,
# masked mobiles (m06-m08 end in 0006-0008) and the category only they buy.
TAJRISH_TRACES = ("تجریش", "اصفهان", "فارس", "۰۰۰۶", "۰۰۰۷", "۰۰۰۸", "زعفران", TAJRISH)
VANAK_SALES_RIAL = 1_200_000 + 800_000 + 900_000 + 300_000 + 450_000 + 2_500_000 + 150_000


@pytest.fixture
def analysed(cloud_app_any: Flask) -> tuple[Flask, Chain]:
    chain = seed_chain(cloud_app_any)
    add_users(cloud_app_any)
    run_analytics(cloud_app_any.extensions["vafa"].engine, AS_OF)
    seed_preferences(cloud_app_any, AS_OF.date())
    return cloud_app_any, chain


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode()), "Excel needs the BOM to read UTF-8 Persian"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_owner_pages_and_exports_show_no_other_store(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN Vanak's owner WHEN they open every page and export every table
    THEN nothing of Tajrish is in any answer."""
    app, _ = analysed
    client = signed_in(app, "vanak.owner")
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        for trace in TAJRISH_TRACES:
            assert trace not in page.text, (path, trace)
    for name in TABLES:
        for fmt in ("csv", "xlsx"):
            answer = client.get(f"/hq/export/{name}.{fmt}")
            assert answer.status_code == 200, (name, fmt)
            text = (
                answer.get_data().decode("utf-8-sig")
                if fmt == "csv"
                else _xlsx_text(answer.get_data())
            )
            for trace in TAJRISH_TRACES:
                assert trace not in text, (name, fmt, trace)


def _xlsx_text(body: bytes) -> str:
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    return " ".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row)


def test_owner_figures_add_up_to_their_store(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN Vanak's seven sales WHEN its owner exports KPIs and stores
    THEN revenue is Vanak's alone; the admin's chain row has Tajrish's too."""
    app, _ = analysed
    owner = _csv(signed_in(app, "vanak.owner").get("/hq/export/kpi_months.csv").get_data())
    assert owner[0][:3] == ["ماه", "خریدها", "مبلغ خرید"]
    assert sum(int(row[2]) for row in owner[1:]) == VANAK_SALES_RIAL
    assert sum(int(row[1]) for row in owner[1:]) == 7
    stores = _csv(signed_in(app, "vanak.owner").get("/hq/export/stores.csv").get_data())
    assert [row[0] for row in stores[1:]] == ["فروشگاه ونک"]
    fleet = _csv(signed_in(app, "vanak.owner").get("/hq/export/fleet.csv").get_data())
    assert [(row[0], row[1]) for row in fleet[1:]] == [("فروشگاه ونک", f"t-{VANAK}")]
    chain = _csv(signed_in(app, "admin").get("/hq/export/kpi_months.csv").get_data())
    assert sum(int(row[1]) for row in chain[1:]) == 12
    segments = _csv(signed_in(app, "vanak.owner").get("/hq/export/segments.csv").get_data())
    assert sum(int(row[1]) for row in segments[1:]) == 4  # m01, m02, m03, m05 bought
    gender = _csv(
        signed_in(app, "vanak.owner").get("/hq/export/demographics_gender.csv").get_data()
    )
    assert {row[0]: int(row[1]) for row in gender[1:]} == {"زن": 3, "مرد": 1, "نامشخص": 1}


def test_editing_store_in_the_url_is_refused(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN Vanak's owner WHEN they put Tajrish's id (or a made-up one) in ?store=
    on any page or export THEN 404 naming nothing; their own store's id works."""
    app, _ = analysed
    client = signed_in(app, "vanak.owner")
    for store in (TAJRISH, "no-such-store"):
        for path in [*PAGES, "/hq/export/kpi_months.csv", "/hq/export/top_members.xlsx"]:
            answer = client.get(path, query_string={"store": store})
            assert answer.status_code == 404, (path, store)
            assert "تجریش" not in answer.text and "عضو" not in answer.text
    assert client.get("/hq/segments", query_string={"store": VANAK}).status_code == 200


def test_admin_narrows_to_one_store(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN the admin WHEN they pick Tajrish THEN the tables hold Tajrish's figures only."""
    app, _ = analysed
    client = signed_in(app, "admin")
    stores = _csv(client.get("/hq/export/stores.csv?store=" + TAJRISH).get_data())
    assert [row[0] for row in stores[1:]] == ["فروشگاه تجریش"]
    top = _csv(client.get("/hq/export/top_members.csv?store=" + TAJRISH).get_data())
    assert {row[1] for row in top[1:]} == {"فروشگاه تجریش"}
    page = client.get("/hq/clv", query_string={"store": TAJRISH})
    assert "فروشگاه ونک</td>" not in page.text


def test_owner_of_no_store_sees_empty_pages(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN an owner with no store WHEN they open pages and exports THEN no rows at all."""
    app, _ = analysed
    client = signed_in(app, "nobody.owner")
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200
        assert "ونک" not in page.text and "تجریش" not in page.text, path
    for name in ("kpi_months", "stores", "top_members", "nps", "cohorts"):
        rows = _csv(client.get(f"/hq/export/{name}.csv").get_data())
        assert len(rows) == 1, name  # the titles only


def test_unknown_exports_and_anonymous_visitors_are_refused(
    analysed: tuple[Flask, Chain],
) -> None:
    """GIVEN made-up export names or formats, or no session THEN 404, or the login page."""
    app, _ = analysed
    client = signed_in(app, "admin")
    for path in ("/hq/export/members.csv", "/hq/export/kpi_months.json", "/hq/export/x.xlsx"):
        assert client.get(path).status_code == 404, path
    anonymous = app.test_client()
    for path in [*PAGES, "/hq/export/kpi_months.csv"]:
        answer = anonymous.get(path)
        assert answer.status_code == 302 and "/hq/login" in answer.headers["Location"], path


def test_excel_export_is_right_to_left_with_numbers(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN the KPI table WHEN exported as .xlsx THEN the sheet reads right to left,
    titles are Persian, Rials are numbers and rates are percentages."""
    app, _ = analysed
    answer = signed_in(app, "admin").get("/hq/export/kpi_months.xlsx")
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="vafa-kpi')
    assert answer.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(answer.get_data())).active
    assert sheet is not None and sheet.sheet_view.rightToLeft
    rows: list[tuple[Any, ...]] = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("ماه", "خریدها", "مبلغ خرید")
    assert sum(row[2] for row in rows[1:]) == VANAK_SALES_RIAL + 5_000_000 + 4_000_000 + (
        650_000 + 700_000 + 1_100_000
    )
    assert sheet.cell(row=2, column=6).number_format == "0.0%"


def test_store_view_follows_the_next_analytics_run(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN the owner read their top members WHEN a member buys again and analytics reruns
    THEN the owner's (per-process cached) table shows the new run's figures and moves."""
    from cloud.tables import events, sales

    app, _ = analysed
    client = signed_in(app, "vanak.owner")

    def purchases_of(suffix: str) -> int:
        rows = _csv(client.get("/hq/export/top_members.csv").get_data())
        (row,) = [r for r in rows[1:] if r[0].endswith(suffix)]
        return int(row[3])

    assert purchases_of("۰۰۰۵") == 1  # m05 bought once
    later = AS_OF + dt.timedelta(days=20)
    engine = app.extensions["vafa"].engine
    with engine.begin() as conn:
        conn.execute(
            sa.insert(events).values(
                id="e-late", terminal_id=f"t-{VANAK}", seq=99, kind="sale", digest="0" * 64,
                received_at=later - dt.timedelta(days=1),
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(sales).values(
                id="s-late", event_id="e-late", member_id="m05", store_id=VANAK,
                terminal_id=f"t-{VANAK}", receipt_no=99, amount_rial=9_000_000,
                points_earned=900, points_redeemed=0, channel="store",
                terminal_time=later.isoformat(), received_at=later - dt.timedelta(days=1),
            )
        )  # fmt: skip
    run_analytics(engine, later)
    assert purchases_of("۰۰۰۵") == 2
    moves = _csv(client.get("/hq/export/segment_moves.csv").get_data())
    with engine.connect() as conn:
        changed = conn.execute(
            sa.select(sa.func.count())
            .select_from(segment_changes.join(members, members.c.id == segment_changes.c.member_id))
            .where(segment_changes.c.changed_on == later.date(), members.c.home_store_id == VANAK)
        ).scalar_one()
    assert changed > 0 and sum(int(row[2]) for row in moves[1:]) == changed


def test_preferences_count_the_scope_members(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN category preferences WHEN the owner and the admin export them
    THEN the owner's counts are Vanak members' only; the chain's include saffron."""
    app, _ = analysed
    owner = signed_in(app, "vanak.owner")
    categories = _csv(owner.get("/hq/export/categories.csv").get_data())
    assert {row[0]: int(row[1]) for row in categories[1:]} == {
        "لبنیات": 2,
        "نوشیدنی": 1,
        "پوشاک": 1,
    }
    incentives = _csv(owner.get("/hq/export/incentives.csv").get_data())
    assert {row[0]: (int(row[2]), int(row[3])) for row in incentives[1:]} == {
        "پیامک": (4, 1),
        "کد تخفیف": (2, 1),
    }
    chain = _csv(signed_in(app, "admin").get("/hq/export/categories.csv").get_data())
    assert chain[1][0] == "زعفران"  # the most spent on, chain-wide
    assert {row[0]: int(row[1]) for row in chain[1:]}["لبنیات"] == 3


def test_exported_text_is_never_a_formula(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN a POS category named like a formula WHEN exported THEN CSV and Excel keep it
    as text (a leading apostrophe), so opening the file runs nothing."""
    from cloud.tables import analytics_categories

    app, _ = analysed
    evil = '=HYPERLINK("http://evil.example","x")'
    with app.extensions["vafa"].engine.begin() as conn:
        conn.execute(
            sa.insert(analytics_categories).values(
                computed_on=AS_OF.date(), category=evil, members=9, sales=9,
                amount_rial=10**12,
            )
        )  # fmt: skip
    client = signed_in(app, "admin")
    rows = _csv(client.get("/hq/export/categories.csv").get_data())
    assert rows[1][0] == "'" + evil
    sheet = load_workbook(io.BytesIO(client.get("/hq/export/categories.xlsx").get_data())).active
    assert sheet is not None
    assert sheet.cell(row=2, column=1).data_type == "s"
    assert sheet.cell(row=2, column=1).value == "'" + evil


def test_owner_of_two_stores_sees_both_and_can_pick_one(analysed: tuple[Flask, Chain]) -> None:
    """GIVEN an owner of Vanak and Tajrish WHEN they open the overview THEN both stores are
    compared and offered in the picker; ?store= narrows the exports to the one picked."""
    from cloud.access import set_user_stores
    from cloud.hq import create_user

    app, _ = analysed
    with app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "both.owner", "a-long-password", "store_owner")
        set_user_stores(conn, "both.owner", [VANAK, TAJRISH])
    client = signed_in(app, "both.owner")
    page = client.get("/hq/")
    assert f'<option value="{TAJRISH}"' in page.text and f'<option value="{VANAK}"' in page.text
    stores = _csv(client.get("/hq/export/stores.csv").get_data())
    assert sorted(row[0] for row in stores[1:]) == ["فروشگاه تجریش", "فروشگاه ونک"]
    kpis = _csv(client.get("/hq/export/kpi_months.csv", query_string={"store": VANAK}).get_data())
    assert sum(int(row[2]) for row in kpis[1:]) == VANAK_SALES_RIAL
    top = _csv(client.get("/hq/export/top_members.csv", query_string={"store": TAJRISH}).get_data())
    assert {row[1] for row in top[1:]} == {"فروشگاه تجریش"}


def test_owner_pages_read_their_stores_stored_rows_checked_by_hand(
    analysed: tuple[Flask, Chain],
) -> None:
    """GIVEN the tiny chain analysed WHEN Vanak's owner exports cohorts, segments, ages,
    genders and top members THEN the figures are Vanak's, counted here by hand from the
    seeded sales and members; the rows come from the run's stored per-store tables."""
    from cloud.tables import analytics_cohorts

    app, _ = analysed
    owner = signed_in(app, "vanak.owner")
    # First purchases at Vanak: m01, m02 in Tir; m03 in Mordad; m05 in Shahrivar. m01 came
    # back in Mordad and Shahrivar, m02 in Mehr (m01's purchase at Tajrish is not Vanak's).
    cohorts = _csv(owner.get("/hq/export/cohorts.csv").get_data())
    assert cohorts[1:] == [
        ["1404-04", "2", "1.0", "0.5", "0.5", "0.5"],
        ["1404-05", "1", "1.0", "", "", ""],
        ["1404-06", "1", "1.0", "", "", ""],
    ]
    # The same page for Tajrish, picked by the admin: m06 in Tir and back in Mordad; m01's
    # first purchase at Tajrish in Mordad; m07 in Shahrivar; m08 in Mehr.
    admin = signed_in(app, "admin")
    tajrish = _csv(admin.get("/hq/export/cohorts.csv", query_string={"store": TAJRISH}).get_data())
    assert [row[:4] for row in tajrish[1:]] == [
        ["1404-04", "1", "1.0", "1.0"],
        ["1404-05", "1", "1.0", ""],
        ["1404-06", "1", "1.0", ""],
        ["1404-07", "1", "1.0", ""],
    ]
    with app.extensions["vafa"].engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).where(analytics_cohorts.c.store_id == VANAK)
        ).scalar_one()
    assert stored == 6  # Tir's months 0-3, Mordad's and Shahrivar's month 0
    # m01 3,550,000 (its Tajrish purchase is in its value), m02 750,000, m03 2,500,000,
    # m05 150,000: four buying members.
    segments = _csv(owner.get("/hq/export/segments.csv").get_data())
    assert sum(int(row[1]) for row in segments[1:]) == 4
    assert sum(int(row[3]) for row in segments[1:]) == 6_950_000
    # Jalali 1404: m01 (1370) 34, m02 (1360) 44, m03 (1380) 24, m05 (1375) 29, m04 unsaid.
    ages = _csv(owner.get("/hq/export/demographics_age.csv").get_data())
    assert [(row[0], int(row[1]), int(row[2])) for row in ages[1:]] == [
        ("۱۸ تا ۲۴", 1, 1),
        ("۲۵ تا ۳۴", 2, 2),
        ("۳۵ تا ۴۴", 1, 1),
        ("نامشخص", 1, 0),
    ]
    gender = _csv(owner.get("/hq/export/demographics_gender.csv").get_data())
    assert {row[0]: (int(row[1]), int(row[2])) for row in gender[1:]} == {
        "زن": (3, 3),
        "مرد": (1, 1),
        "نامشخص": (1, 0),
    }
    top = _csv(owner.get("/hq/export/top_members.csv").get_data())
    assert sorted((row[0][-4:], int(row[3]), int(row[4])) for row in top[1:]) == [
        ("۰۰۰۱", 4, 3_550_000),
        ("۰۰۰۲", 2, 750_000),
        ("۰۰۰۳", 1, 2_500_000),
        ("۰۰۰۵", 1, 150_000),
    ]
    page = owner.get("/hq/cohorts")
    assert page.status_code == 200 and "۵۰٫۰٪" in page.text

"""The HQ aggregates an analytics run stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Flask

from cloud.analytics.aggregates import CLV_EDGES, previous_segments
from cloud.analytics.cohorts import retention_matrix
from cloud.analytics.demographics import age_group
from cloud.analytics.grid import kpis_and_cohorts
from cloud.analytics.run import run_analytics
from cloud.tables import (
    analytics_clv_buckets,
    analytics_cohorts,
    analytics_demographics,
    analytics_kpis,
    analytics_runs,
    analytics_segments,
    analytics_top_members,
    analytics_transitions,
    events,
    ledger_entries,
    ledger_postings,
    member_analytics,
    members,
    sales,
    segment_changes,
    segment_history,
    terminals,
)
from tests.cloud.analytics.test_kpis_cohorts import AS_OF, seeded  # noqa: F401
from tests.cloud.analytics.test_run import _seed

MONTHS = ["1404-03", "1404-04", "1404-05", "1404-06", "1404-07"]


def _add_points(engine: sa.Engine) -> None:
    """Book points to members at s1: a earns 100 in Tir; in Mordad a redeems 30, c draws 5."""
    moves = [("e1", "member:a:points", 100), ("e3", "member:a:points", -30)]
    moves.append(("e6", "member:c:drawn", -5))
    with engine.begin() as conn:
        for n, (event_id, account, amount) in enumerate(moves):
            conn.execute(
                sa.insert(ledger_entries), [{"id": f"x{n}", "event_id": event_id, "kind": "k"}]
            )
            conn.execute(
                sa.insert(ledger_postings),
                [
                    {"entry_id": f"x{n}", "account": account, "amount": amount},
                    {"entry_id": f"x{n}", "account": "system:points", "amount": -amount},
                ],
            )
        conn.execute(sa.update(sales).where(sales.c.id == "s1").values(points_earned=100))
        conn.execute(sa.update(sales).where(sales.c.id == "s3").values(points_redeemed=30))


def _buy(conn: sa.Connection, member: str, at: dt.datetime, seq: int, store: str = "s1") -> None:
    terminal = "t1" if store == "s1" else f"t-{store}"
    conn.execute(
        sa.insert(events),
        [
            {
                "id": f"e{seq}",
                "terminal_id": terminal,
                "seq": seq,
                "kind": "sale",
                "digest": "d",
                "received_at": at,
            }
        ],
    )
    conn.execute(
        sa.insert(sales),
        [
            {
                "id": f"s{seq}",
                "event_id": f"e{seq}",
                "member_id": member,
                "store_id": store,
                "terminal_id": terminal,
                "receipt_no": seq,
                "amount_rial": 500_000,
                "points_earned": 0,
                "points_redeemed": 0,
                "channel": "store",
                "terminal_time": at.isoformat(),
                "received_at": at,
            }
        ],
    )


def _chain(table: sa.Table) -> sa.ColumnElement[bool]:
    return table.c.store_id == "*"


def _kpis(engine: sa.Engine) -> dict[tuple[str, str], sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {(r.store_id, r.month): r for r in conn.execute(sa.select(analytics_kpis))}


def test_kpi_grid_every_store_and_month(seeded: sa.Engine) -> None:  # noqa: F811
    _add_points(seeded)
    result = run_analytics(seeded, AS_OF)
    kpis = _kpis(seeded)
    assert sorted(kpis) == sorted((s, m) for s in ("s1", "s2", "*") for m in MONTHS)
    assert all(row.computed_on == AS_OF.date() for row in kpis.values())
    khordad, tir, mordad, shahrivar, mehr = (kpis[("s1", m)] for m in MONTHS)
    # Everyone enrolled in Khordad (START); nobody had bought by its end.
    assert (khordad.new_members, khordad.members, khordad.activated_members) == (4, 4, 0)
    assert (khordad.sales, khordad.active_90d, khordad.average_purchase_rial) == (0, 0, 0)
    assert (tir.sales, tir.revenue_rial, tir.average_purchase_rial) == (3, 600_000, 200_000)
    assert (tir.buyers, tir.returning_buyers, tir.return_rate) == (2, 0, 0.0)
    assert (tir.new_members, tir.activated_members, tir.activation_rate) == (0, 2, 0.5)
    # Tir ends 2025-07-22 20:30 UTC: b's purchase on 06-22 09:00 is 30.5 days before it.
    assert (tir.active_30d, tir.active_90d) == (1, 2)
    assert (mordad.buyers, mordad.returning_buyers, mordad.return_rate) == (2, 1, 0.5)
    assert (mordad.activated_members, mordad.activation_rate) == (3, 0.75)
    # Mordad has 31 days: purchases on its first day (09:00 UTC) are 30.5 days before its end.
    assert (mordad.active_30d, mordad.active_90d) == (0, 3)
    assert (shahrivar.active_30d, shahrivar.active_90d) == (0, 3)
    # The current month ends at the analysis moment.
    assert (mehr.sales, mehr.active_30d, mehr.active_90d) == (0, 0, 3)
    assert (tir.points_earned, tir.points_redeemed, tir.points_liability) == (100, 0, 100)
    assert (mordad.points_redeemed, mordad.points_liability) == (30, 65)
    assert mehr.points_liability == 65
    assert all(kpis[("s2", m)].members == 0 and kpis[("s2", m)].sales == 0 for m in MONTHS)
    for month in MONTHS:  # one store with everything: the chain equals it
        chain, store = kpis[("*", month)]._asdict(), kpis[("s1", month)]._asdict()
        assert {k: v for k, v in chain.items() if k != "store_id"} == {
            k: v for k, v in store.items() if k != "store_id"
        }
    with seeded.connect() as conn:
        run = conn.execute(sa.select(analytics_runs)).one()
        cohorts = {
            (r.cohort, r.months_since): r for r in conn.execute(sa.select(analytics_cohorts))
        }
    assert (run.members, run.buying_members, run.activation_rate) == (4, 3, 0.75)
    assert (run.active_30d, run.active_90d, run.points_liability) == (0, 3, 65)
    assert run.clv_fitted is result["clv_fitted"] and run.seconds >= 0
    assert result["run"]["points_liability"] == 65
    assert sorted(cohorts) == [("1404-04", 0), ("1404-04", 1), ("1404-04", 2), ("1404-05", 0)]
    assert (cohorts[("1404-04", 1)].cohort_members, cohorts[("1404-04", 1)].active_members) == (
        2,
        1,
    )
    assert cohorts[("1404-04", 2)].retention == 0.5


def test_chain_counts_a_member_once_across_stores(seeded: sa.Engine) -> None:  # noqa: F811
    with seeded.begin() as conn:  # b's Shahrivar purchase moves to s2
        conn.execute(sa.update(sales).where(sales.c.id == "s5").values(store_id="s2"))
        conn.execute(
            sa.update(sales).where(sales.c.id == "s3").values(store_id="s2")
        )  # a's Mordad one too
    run_analytics(seeded, AS_OF)
    kpis = _kpis(seeded)
    assert (kpis[("s1", "1404-05")].buyers, kpis[("s2", "1404-05")].buyers) == (1, 1)
    assert kpis[("*", "1404-05")].buyers == 2
    # In the 90 days to Mehr's analysis moment a bought at s2 only, b at s2, c at s1.
    assert (kpis[("s1", "1404-07")].active_90d, kpis[("s2", "1404-07")].active_90d) == (1, 2)
    assert kpis[("*", "1404-07")].active_90d == 3
    # s2 enrolled nobody: its members stay 0 while the chain has all 4.
    assert (kpis[("s2", "1404-07")].members, kpis[("*", "1404-07")].members) == (0, 4)


def test_segment_counts_transitions_and_changes_between_runs(seeded: sa.Engine) -> None:  # noqa: F811
    later = AS_OF + dt.timedelta(days=200)
    run_analytics(seeded, AS_OF)
    with seeded.begin() as conn:  # c comes back often; a and b stay away
        for n in range(5):
            _buy(conn, "c", AS_OF + dt.timedelta(days=100 + 20 * n), 100 + n)
    run_analytics(seeded, later)
    run_analytics(seeded, later)  # a rerun of a day replaces that day's rows
    with seeded.connect() as conn:
        history = {
            (r.member_id, r.computed_on): r.segment
            for r in conn.execute(sa.select(segment_history))
        }
        counts = {
            (r.computed_on, r.segment): r.members
            for r in conn.execute(sa.select(analytics_segments).where(_chain(analytics_segments)))
        }
        moves = {
            (r.computed_on, r.from_segment, r.to_segment): r.members
            for r in conn.execute(
                sa.select(analytics_transitions).where(_chain(analytics_transitions))
            )
        }
        # Every member's home is s1: its rows are the chain's.
        assert counts == {
            (r.computed_on, r.segment): r.members
            for r in conn.execute(
                sa.select(analytics_segments).where(analytics_segments.c.store_id == "s1")
            )
        }
        changes = {
            r.member_id: (r.changed_on, r.from_segment, r.to_segment)
            for r in conn.execute(sa.select(segment_changes))
        }
        runs = list(conn.execute(sa.select(analytics_runs.c.computed_on)).scalars())
    first, second = AS_OF.date(), later.date()
    assert sorted(runs) == [first, second]

    def segment_on(member: str, day: dt.date) -> str:  # the latest recorded change
        return max((on, seg) for (m, on), seg in history.items() if m == member and on <= day)[1]

    # The first day records everyone; the second only those whose segment changed.
    assert {m for (m, on) in history if on == first} == {"a", "b", "c"}
    assert {m for (m, on) in history if on == second} == set(changes)
    for day in (first, second):
        by_segment: dict[str, int] = {}
        for member in ("a", "b", "c"):
            segment = segment_on(member, day)
            by_segment[segment] = by_segment.get(segment, 0) + 1
        assert {s: n for (d, s), n in counts.items() if d == day} == by_segment
    # The first run: everyone is new to the analysis, and nobody "changed".
    assert all(old == "" for (day, old, _), _n in moves.items() if day == first)
    assert sum(n for (day, _, _), n in moves.items() if day == first) == 3
    expected = {
        m: (second, segment_on(m, first), segment_on(m, second))
        for m in ("a", "b", "c")
        if segment_on(m, first) != segment_on(m, second)
    }
    assert changes == expected and "c" in expected  # c's came back: a new segment
    assert sum(n for (day, _, _), n in moves.items() if day == second) == 3
    for _changed_on, old, new in changes.values():
        assert moves[(second, old, new)] >= 1


def test_segment_history_records_changes_only(seeded: sa.Engine) -> None:  # noqa: F811
    """A run whose segments did not move adds no history rows; the previous segments the
    next run compares with are still everyone's latest."""
    run_analytics(seeded, AS_OF)
    next_day = AS_OF + dt.timedelta(days=1)
    run_analytics(seeded, next_day)
    with seeded.connect() as conn:
        days = [r.computed_on for r in conn.execute(sa.select(segment_history))]
        first = {
            r.member_id: r.segment
            for r in conn.execute(
                sa.select(segment_history).where(segment_history.c.computed_on == AS_OF.date())
            )
        }
        later = previous_segments(conn, next_day.date() + dt.timedelta(days=1))
        changed = conn.scalar(
            sa.select(sa.func.count())
            .select_from(segment_changes)
            .where(segment_changes.c.changed_on == next_day.date())
        )
    assert changed == 0 and days == [AS_OF.date()] * 3  # nobody moved: nothing new stored
    assert later == first and len(first) == 3


def test_clv_histogram_holds_every_fitted_member(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    many = {
        f"m{i:02}": [(d, 100_000 * (1 + i % 4), "store") for d in range(i % 7, 360, 20 + i)]
        for i in range(40)
    }
    with engine.begin() as conn:
        _seed(conn, many)
    day = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert run_analytics(engine, day)["clv_fitted"] is True
    with engine.connect() as conn:
        buckets = list(
            conn.execute(
                sa.select(analytics_clv_buckets)
                .where(_chain(analytics_clv_buckets))
                .order_by(analytics_clv_buckets.c.bucket)
            )
        )
        s1 = list(
            conn.execute(
                sa.select(analytics_clv_buckets.c.members)
                .where(analytics_clv_buckets.c.store_id == "s1")
                .order_by(analytics_clv_buckets.c.bucket)
            ).scalars()
        )
        assert s1 == [b.members for b in buckets]
        values = list(conn.execute(sa.select(member_analytics.c.clv_rial)).scalars())
    assert [b.low_rial for b in buckets] == list(CLV_EDGES)
    assert buckets[-1].high_rial is None
    assert sum(b.members for b in buckets) == 40
    for b in buckets:
        inside = [v for v in values if v >= b.low_rial and (b.high_rial is None or v < b.high_rial)]
        assert b.members == len(inside)


def test_age_groups_from_jalali_birth_years() -> None:
    assert age_group(None, 1405) == ""
    assert age_group(1388, 1405) == "under_18"  # 17
    assert age_group(1387, 1405) == "18_24"  # 18
    assert age_group(1371, 1405) == "25_34"  # 34
    assert age_group(1370, 1405) == "35_44"
    assert age_group(1340, 1405) == "65_plus"
    assert age_group(1406, 1405) == "under_18"  # a typo from the future still lands somewhere


def test_demographics_per_run(seeded: sa.Engine) -> None:  # noqa: F811
    people = {
        "a": ("f", "تهران", "تهران", 1370),
        "b": ("m", "اصفهان", "اصفهان", 1380),
        "c": ("f", "تهران", "شمیرانات", None),
    }
    with seeded.begin() as conn:
        for member, (gender, province, city, year) in people.items():
            conn.execute(
                sa.update(members)
                .where(members.c.id == member)
                .values(gender=gender, province=province, city=city, birth_year=year)
            )
    run_analytics(seeded, AS_OF)  # AS_OF 2025-10-01 is in Jalali 1404
    with seeded.connect() as conn:
        rows = {
            (r.dimension, r.value): (r.members, r.buying_members)
            for r in conn.execute(
                sa.select(analytics_demographics).where(_chain(analytics_demographics))
            )
        }
    assert rows[("gender", "f")] == (2, 2) and rows[("gender", "m")] == (1, 1)
    assert rows[("gender", "")] == (1, 0)  # "never" said nothing and bought nothing
    assert rows[("age", "25_34")] == (1, 1)  # a: 34
    assert rows[("age", "18_24")] == (1, 1)  # b: 24
    assert rows[("age", "")] == (2, 1)
    assert rows[("province", "تهران")] == (2, 2)
    assert rows[("city", "تهران/شمیرانات")] == (1, 1)
    for dimension in ("age", "gender", "province", "city"):
        assert sum(n for (d, _), (n, _b) in rows.items() if d == dimension) == 4


def test_grid_with_members_but_no_sales_is_zeros(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    with engine.begin() as conn:
        _seed(conn, {"quiet": []})
    run_analytics(engine, AS_OF)
    kpis = _kpis(engine)
    assert kpis and all(r.sales == 0 and r.active_90d == 0 for r in kpis.values())
    assert max(r.members for r in kpis.values()) == 1


def test_numpy_cohorts_match_the_sql_reference(seeded: sa.Engine) -> None:  # noqa: F811
    with seeded.connect() as conn:
        _, cohorts = kpis_and_cohorts(conn, AS_OF)
        assert cohorts == retention_matrix(conn, AS_OF)
    assert [c["cohort"] for c in cohorts] == ["1404-04", "1404-05"]


def test_store_rows_from_one_pass_match_each_store(seeded: sa.Engine) -> None:  # noqa: F811
    """GIVEN c's home moved to s2 and a and c buying at s2 in Shahrivar WHEN analysed THEN
    each store's segments, top members, demographics and cohorts are its own, the stores'
    rows add up to the chain's, and each store's cohorts match the SQL reference."""
    shahrivar = dt.datetime(2025, 8, 30, 9, tzinfo=dt.UTC)  # 1404-06
    with seeded.begin() as conn:
        conn.execute(
            sa.insert(terminals),
            [{"id": "t-s2", "store_id": "s2", "public_key": "k2", "created_at": shahrivar}],
        )
        conn.execute(sa.update(members).where(members.c.id == "c").values(home_store_id="s2"))
        _buy(conn, "a", shahrivar, 201, store="s2")
        _buy(conn, "c", shahrivar, 202, store="s2")
    run_analytics(seeded, AS_OF)
    with seeded.connect() as conn:
        segments: dict[str, dict[str, int]] = {}
        for r in conn.execute(sa.select(analytics_segments)):
            segments.setdefault(r.store_id, {})[r.segment] = r.members
        top: dict[str, list[str]] = {}
        for r in conn.execute(sa.select(analytics_top_members).order_by("store_id", "rank")):
            top.setdefault(r.store_id, []).append(r.member_id)
        gender = {
            (r.store_id, r.value): (r.members, r.buying_members)
            for r in conn.execute(
                sa.select(analytics_demographics).where(
                    analytics_demographics.c.dimension == "gender"
                )
            )
        }
        stored: dict[str, dict[tuple[str, int], int]] = {}
        for r in conn.execute(sa.select(analytics_cohorts)):
            stored.setdefault(r.store_id, {})[(r.cohort, r.months_since)] = r.active_members
        references = {
            store: {
                (c["cohort"], since): active
                for c in retention_matrix(conn, AS_OF, None if store == "*" else store)
                for since, active in enumerate(c["active"])
            }
            for store in ("*", "s1", "s2")
        }
        value = dict(
            conn.execute(
                sa.select(member_analytics.c.member_id, member_analytics.c.value_rial)
            ).all()
        )
    assert sum(segments["s1"].values()) == 2 and sum(segments["s2"].values()) == 1  # a, b | c
    for segment, n in segments["*"].items():
        assert segments["s1"].get(segment, 0) + segments["s2"].get(segment, 0) == n
    assert sorted(top["s1"]) == ["a", "b"] and top["s2"] == ["c"]
    assert top["*"] == sorted(value, key=lambda m: (-value[m], m))  # no CLV fit: by value
    assert gender[("s2", "")] == (1, 1) and gender[("s1", "")] == (3, 2)  # never bought
    assert gender[("*", "")] == (4, 3)
    assert stored == references
    # By hand: at s2, a and c first bought in Shahrivar, both in its month 0.
    assert stored["s2"] == {("1404-06", 0): 2}


def test_a_run_dated_in_the_past_counts_what_was_known_then(seeded: sa.Engine) -> None:  # noqa: F811
    """GIVEN points booked in Tir and Mordad and a member enrolled in Mordad WHEN the run is
    dated in Tir THEN its chain row counts the members enrolled and the points booked by
    then (the liability and the member count agree with the KPI grid of that day)."""
    _add_points(seeded)
    in_tir = dt.datetime(2025, 7, 22, 12, tzinfo=dt.UTC)  # Tir ends 20:30 UTC that day
    with seeded.begin() as conn:
        conn.execute(
            sa.update(members)
            .where(members.c.id == "never")
            .values(enrolled_at=in_tir + dt.timedelta(days=10))
        )
    result = run_analytics(seeded, in_tir)
    assert result["run"]["points_liability"] == 100  # Mordad's redemption not yet booked
    assert result["run"]["members"] == 3  # "never" enrolled in Mordad
    assert result["chain"]["members"] == 3

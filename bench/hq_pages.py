"""HQ dashboard pages with 1,000,000 members: the first request and p50/p95 per page, as
the admin (the chain's stored rows), as the owner of the largest store, then as the owner
of the smallest (their store's stored rows), through Flask's test client on one SQLite
file.

The cloud is filled directly with what an analytics run's member steps leave behind:
members (PII sealed as in production), ``member_analytics`` and two days of
``segment_history`` for the buying 70 %, their sales and events (two each), feedback on one
sale in ten, category preferences, suggestions and incentive responses. The HQ aggregates
are then written by the run's own code (``store_aggregates`` and
``store_preference_sums``: KPIs, feedback, cohorts, segments, moves, CLV buckets,
demographics, top members, categories, suggestions, incentives, per store and chain-wide),
timed (wall and CPU). Patterns, RFM and CLV on a million members are ``bench/analytics.py``'s
subject, not this one's.

Usage: ``python -m bench.hq_pages [MEMBERS] [REQUESTS]`` (default 1,000,000 and 30).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import Flask

from cloud.access import set_user_stores
from cloud.analytics.aggregates import store_aggregates, store_preference_sums
from cloud.analytics.bulk import Columns
from cloud.analytics.months import month_key, month_start, next_month
from cloud.analytics.rfm import load_segments
from cloud.app import create_app
from cloud.hq import create_user
from cloud.tables import (
    events,
    feedback,
    member_analytics,
    member_categories,
    member_incentives,
    member_suggestions,
    members,
    sales,
    segment_history,
    stores,
    terminals,
)

MEMBERS = 1_000_000
REQUESTS = 30
STORES = 50
MONTHS = 24
BUYING = 0.7
CHUNK = 50_000
AS_OF = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
PAGES = ["/hq/", "/hq/segments", "/hq/cohorts", "/hq/clv", "/hq/nps", "/hq/demographics"]
PAGES += ["/hq/preferences", "/hq/export/kpi_months.csv", "/hq/export/top_members.xlsx"]
CATEGORIES = ["لبنیات", "نان", "نوشیدنی", "تنقلات", "میوه", "پوشاک", "آرایشی", "بهداشتی"]
CATEGORIES += ["خشکبار", "ادویه", "کنسرو", "شوینده"]
PROVINCES = ["تهران", "اصفهان", "فارس", "خراسان رضوی", "البرز", "آذربایجان شرقی", "گیلان"]


def _chunks(n: int) -> Iterator[range]:
    for start in range(0, n, CHUNK):
        yield range(start, min(n, start + CHUNK))


def _months() -> list[str]:
    year, month = (int(p) for p in month_key(AS_OF).split("-"))
    index = year * 12 + month - 1 - (MONTHS - 1)
    keys = [f"{index // 12:04d}-{index % 12 + 1:02d}"]
    while len(keys) < MONTHS:
        keys.append(next_month(keys[-1]))
    return keys


def fill(app: Flask, n: int) -> str:
    """Fill the cloud with ``n`` members and their aggregates; return the largest store."""
    rng = np.random.default_rng(2026)
    engine: sa.Engine = app.extensions["vafa"].engine
    vault = app.extensions["vafa"].vault
    store_ids = [f"store{i:02d}" for i in range(STORES)]
    weights = 1 / np.arange(1, STORES + 1)  # Zipf: the first store is the largest
    home = rng.choice(STORES, size=n, p=weights / weights.sum())
    buying = rng.random(n) < BUYING
    months = _months()
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(stores),
            [
                {"id": s, "name": f"فروشگاه {i + 1}", "created_at": AS_OF}
                for i, s in enumerate(store_ids)
            ],
        )
        conn.execute(
            sa.insert(terminals),
            [
                {"id": f"t-{s}", "store_id": s, "public_key": s, "created_at": AS_OF}
                for s in store_ids
            ],
        )
        for part in _chunks(n):
            conn.execute(
                sa.insert(members), [_member(vault, i, store_ids[home[i]], rng) for i in part]
            )
    print(f"  members: {time.perf_counter() - started:.0f} s", flush=True)
    _fill_analytics(engine, rng, home, buying, store_ids, months)
    print(f"  member analytics, sales, feedback: {time.perf_counter() - started:.0f} s", flush=True)
    run_aggregates(engine, AS_OF)
    return store_ids[0]


def _member(vault: Any, i: int, store: str, rng: np.random.Generator) -> dict[str, Any]:
    member_id = f"m{i:08d}"
    mobile = f"+98912{i:07d}"
    return {
        "id": member_id,
        "card_code": f"29{i:011d}",
        "mobile_hmac": vault.lookup_hash(mobile),
        "mobile_enc": vault.encrypt(member_id, mobile),
        "name_enc": vault.encrypt(member_id, "عضو"),
        "home_store_id": store,
        "marketing_consent": True,
        "enrolled_at": AS_OF - dt.timedelta(days=int(rng.integers(1, 700))),
        "gender": ("f", "m", None)[int(rng.integers(3))],
        "province": PROVINCES[int(rng.integers(len(PROVINCES)))],
        "birth_year": int(rng.integers(1330, 1390)),
    }


def _fill_analytics(
    engine: sa.Engine,
    rng: np.random.Generator,
    home: np.ndarray[Any, Any],
    buying: np.ndarray[Any, Any],
    store_ids: list[str],
    months: list[str],
) -> None:
    keys = [s.key for s in load_segments()]
    day, before = AS_OF.date(), AS_OF.date() - dt.timedelta(days=7)
    first_moment = month_start(months[0])
    span = (AS_OF - first_moment).total_seconds()
    n = len(home)
    value_of = rng.integers(100_000, 50_000_000, size=n)
    segment_now = rng.integers(len(keys), size=n)
    segment_before = rng.integers(len(keys), size=n)
    moments = np.sort(rng.random((n, 2)) * span, axis=1)
    clv_of = rng.lognormal(16, 1.2, size=n).astype(np.int64)
    p_alive = rng.random(n)
    nps_of = rng.integers(0, 11, size=n)
    sale_no = 0
    with engine.begin() as conn:
        for part in _chunks(n):
            rows, history, sale_rows, event_rows, answers = [], [], [], [], []
            likes, suggestions, incentives = [], [], []
            for i in part:
                if not buying[i]:
                    continue
                member_id = f"m{i:08d}"
                value = int(value_of[i])
                segment = keys[segment_now[i]]
                times = [first_moment + dt.timedelta(seconds=float(t)) for t in moments[i]]
                rows.append(
                    {
                        "member_id": member_id,
                        "computed_on": day,
                        "purchases": 2,
                        "value_rial": value,
                        "avg_payment_rial": value // 2,
                        "first_purchase_at": times[0],
                        "last_purchase_at": times[1],
                        "mean_interval_days": (times[1] - times[0]).days,
                        "gap_days": (AS_OF - times[1]).days,
                        "cycle": "due",
                        "channels": '{"store": 2}',
                        "r": 3,
                        "f": 2,
                        "m": 3,
                        "segment": segment,
                        "p_alive": float(p_alive[i]),
                        "expected_purchases_90d": float(p_alive[i] * 3),
                        "clv_rial": int(clv_of[i]),
                    }
                )
                history.append({"member_id": member_id, "computed_on": day, "segment": segment})
                first, second = CATEGORIES[i % 7], CATEGORIES[7 + i % 5]
                for category in (first, second):
                    likes.append(
                        {
                            "member_id": member_id,
                            "category": category,
                            "computed_on": day,
                            "purchases": 1,
                            "amount_rial": value // 2,
                            "share": 0.5,
                            "affinity": 1.0,
                        }
                    )
                suggestions.append(
                    {
                        "member_id": member_id,
                        "rank": 1,
                        "computed_on": day,
                        "category": CATEGORIES[(i + 3) % 12],
                        "lift": 1.3,
                    }
                )
                if i % 10 == 0:
                    incentives.append(
                        {
                            "member_id": member_id,
                            "incentive": ("sms", "points", "coupon")[i % 3],
                            "computed_on": day,
                            "offers": 2,
                            "responses": int(p_alive[i] > 0.5),
                            "response_rate": float(p_alive[i] > 0.5) / 2,
                        }
                    )
                history.append(
                    {
                        "member_id": member_id,
                        "computed_on": before,
                        "segment": keys[segment_before[i]],
                    }
                )
                for at in times:
                    sale_no += 1
                    store = store_ids[home[i]]
                    event_rows.append(
                        {
                            "id": f"e{sale_no:010d}",
                            "terminal_id": f"t-{store}",
                            "seq": sale_no,
                            "kind": "sale",
                            "digest": "0" * 64,
                            "received_at": at,
                        }
                    )
                    sale_rows.append(
                        {
                            "id": f"s{sale_no:010d}",
                            "event_id": f"e{sale_no:010d}",
                            "member_id": member_id,
                            "store_id": store,
                            "terminal_id": f"t-{store}",
                            "receipt_no": sale_no,
                            "amount_rial": value // 2,
                            "points_earned": value // 20_000,
                            "points_redeemed": 0,
                            "channel": "store",
                            "terminal_time": at.isoformat(),
                            "received_at": at,
                        }
                    )
                    if sale_no % 10 == 0:
                        answers.append(
                            {
                                "id": f"f{sale_no:010d}",
                                "sale_id": f"s{sale_no:010d}",
                                "terminal_id": f"t-{store}",
                                "store_id": store,
                                "member_id": member_id,
                                "nps": int(nps_of[i]),
                                "created_at": at,
                            }
                        )
            for table, batch in (
                (member_analytics, rows),
                (segment_history, history),
                (member_categories, likes),
                (member_suggestions, suggestions),
                (member_incentives, incentives),
                (events, event_rows),
                (sales, sale_rows),
                (feedback, answers),
            ):
                if batch:
                    conn.execute(sa.insert(table), batch)


def _columns(conn: sa.Connection, table: sa.Table, names: list[str]) -> Columns:
    """Read stored member rows as columns, as the analytics run hands them on."""
    rows = conn.execute(sa.select(*(table.c[name] for name in names))).all()
    return Columns({name: [row[i] for row in rows] for i, name in enumerate(names)})


def run_aggregates(engine: sa.Engine, as_of: dt.datetime) -> tuple[float, float]:
    """Write the HQ aggregates with the analytics run's code from the stored member rows;
    print and return the wall and CPU seconds it took."""
    with engine.begin() as conn:
        analysed = _columns(
            conn, member_analytics, ["member_id", "segment", "value_rial", "clv_rial"]
        )
        liked = _columns(
            conn, member_categories, ["member_id", "category", "purchases", "amount_rial"]
        )
        likely = _columns(conn, member_suggestions, ["member_id", "rank", "category", "lift"])
        answered = _columns(
            conn, member_incentives, ["member_id", "incentive", "offers", "responses"]
        )
        wall, cpu = time.perf_counter(), time.process_time()
        fitted = conn.execute(sa.select(sa.func.count(member_analytics.c.clv_rial))).scalar()
        store_aggregates(conn, as_of, analysed, bool(fitted), time.monotonic())
        store_preference_sums(conn, as_of.date(), liked, likely, answered)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"  HQ aggregates ({len(analysed):,} analysed members): {wall:.1f} s wall, {cpu:.1f} s CPU",
        flush=True,
    )
    return wall, cpu


def _sign_in(app: Flask, username: str) -> Any:
    client = app.test_client()
    with client.session_transaction() as session:
        session["user"] = username
    return client


def measure(app: Flask, username: str, requests: int) -> None:
    """Print cold (first) and warm p50/p95 per page for one user."""
    client = _sign_in(app, username)
    print(f"  {username}: page  first_ms  p50_ms  p95_ms  (n={requests})")
    for path in PAGES:
        times = []
        for _ in range(requests + 1):
            start = time.perf_counter()
            answer = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
        warm = sorted(times[1:])
        p95 = warm[max(0, round(0.95 * len(warm)) - 1)]
        print(
            f"    {path:32s} {times[0]:8.0f} {statistics.median(warm):7.0f} {p95:7.0f}", flush=True
        )


def main(argv: list[str] | None = None) -> None:
    """Fill a cloud and time every HQ page as the admin and as a store owner."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else MEMBERS
    requests = int(args[1]) if len(args) > 1 else REQUESTS
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'cloud.db'}",
                "PII_KEY_FILE": str(Path(tmp) / "pii.key"),
                "SECRET_KEY": "bench",
            }
        )
        print(f"filling {n:,} members ({STORES} stores, {MONTHS} Jalali months)", flush=True)
        largest = fill(app, n)
        with app.extensions["vafa"].engine.begin() as conn:
            create_user(conn, "admin", "bench-password", "admin")
            create_user(conn, "owner", "bench-password", "store_owner")
            set_user_stores(conn, "owner", [largest])
            create_user(conn, "owner2", "bench-password", "store_owner")
            set_user_stores(conn, "owner2", [f"store{STORES - 1:02d}"])
            size = conn.execute(
                sa.select(sa.func.count())
                .select_from(members)
                .where(members.c.home_store_id == largest)
            ).scalar_one()
        print(f"  the owner's store has {size:,} members")
        measure(app, "admin", requests)
        measure(app, "owner", requests)
        measure(app, "owner2", requests)
        app.extensions["vafa"].engine.dispose()


if __name__ == "__main__":
    main()

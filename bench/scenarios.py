"""Scenario decisions on SQLite: how long each trigger takes to name its members, and what
the after-sync run adds to one sync batch.

    python -m bench.scenarios [members]   (default 100,000 members, 5 purchases each)

Members get demographics, purchases over two years (the last day busy), segment changes;
each scenario is previewed (decided, nothing written) at 10:00 Tehran on the last day.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from cloud.scenarios import store
from cloud.scenarios.engine import decide
from cloud.scenarios.model import parse
from cloud.sms.providers import FileProvider
from cloud.storage import make_engine, migrate
from cloud.tables import events, members, sales, segment_changes, stores, terminals
from common.persian import TEHRAN
from common.pii import PiiVault

DAY = dt.date(2026, 11, 22)
NOW = dt.datetime.combine(DAY, dt.time(10, 0), TEHRAN)
PER_MEMBER = 5
PROVINCES = ("تهران", "اصفهان", "فارس", "البرز", "گیلان")
POINTS = [
    {"type": "points", "amount": 50},
    {"type": "sms", "variants": ["{نام} عزیز، {امتیاز} امتیاز هدیهٔ شما."]},
]
SCENARIOS: dict[str, dict[str, Any]] = {
    "purchase": {"trigger": {"type": "purchase", "min_amount_rial": 1_000_000}},
    "rising_rate": {"trigger": {"type": "rising_rate"}},
    "gap": {"trigger": {"type": "gap", "k": 3}},
    "inactive": {"trigger": {"type": "inactive", "days": 90}},
    "segment_change": {"trigger": {"type": "segment_change", "to": ["at_risk"]}},
    "tier+audience": {
        "trigger": {"type": "tier", "tiers": ["normal"]},
        "conditions": {"genders": ["f"], "provinces": ["تهران"], "age_groups": ["25_34"]},
    },
}


def _fill(engine: sa.Engine, vault: PiiVault, count: int, rng: np.random.Generator) -> None:
    start = NOW.astimezone(dt.UTC) - dt.timedelta(days=730)
    with engine.begin() as conn:
        conn.execute(sa.insert(stores), [{"id": "s0", "name": "s", "created_at": start}])
        conn.execute(
            sa.insert(terminals),
            [{"id": "t0", "store_id": "s0", "public_key": "k", "created_at": start}],
        )
        for lo in range(0, count, 20_000):
            conn.execute(
                sa.insert(members),
                [
                    {
                        "id": f"m{i}",
                        "card_code": f"c{i}",
                        "mobile_hmac": i.to_bytes(32, "big"),
                        "mobile_enc": vault.encrypt(f"m{i}", f"+98912{i:07d}"),
                        "name_enc": vault.encrypt(f"m{i}", "سارا"),
                        "home_store_id": "s0",
                        "marketing_consent": True,
                        "enrolled_at": start,
                        "gender": "fm"[i % 2],
                        "province": PROVINCES[i % 5],
                        "birth_year": 1340 + i % 60,
                    }
                    for i in range(lo, min(lo + 20_000, count))
                ],
            )
        orders = count * PER_MEMBER
        buyer = rng.integers(0, count, orders)
        # Purchases spread over two years, a tenth of them on the last two days.
        minutes = np.where(
            rng.random(orders) < 0.1,
            rng.integers(728 * 1440, 730 * 1440 + 600, orders),
            rng.integers(0, 728 * 1440, orders),
        )
        amount = rng.integers(10, 500, orders) * 10_000
        for lo in range(0, orders, 20_000):
            span = range(lo, min(lo + 20_000, orders))
            at = [start + dt.timedelta(minutes=int(minutes[j])) for j in span]
            conn.execute(
                sa.insert(events),
                [
                    {
                        "id": f"e{j}",
                        "terminal_id": "t0",
                        "seq": j,
                        "kind": "sale.completed",
                        "digest": "d",
                        "received_at": at[j - lo],
                    }
                    for j in span
                ],
            )
            conn.execute(
                sa.insert(sales),
                [
                    {
                        "id": f"s{j}",
                        "event_id": f"e{j}",
                        "member_id": f"m{buyer[j]}",
                        "store_id": "s0",
                        "terminal_id": "t0",
                        "receipt_no": j,
                        "amount_rial": int(amount[j]),
                        "points_earned": 0,
                        "points_redeemed": 0,
                        "channel": "in_store",
                        "terminal_time": "",
                        "received_at": at[j - lo],
                    }
                    for j in span
                ],
            )
        moved = rng.choice(count, count // 20, replace=False)
        conn.execute(
            sa.insert(segment_changes),
            [
                {
                    "member_id": f"m{i}",
                    "changed_on": DAY - dt.timedelta(days=1),
                    "from_segment": "loyal",
                    "to_segment": "at_risk" if i % 2 else "sleeping",
                }
                for i in moved
            ],
        )


def main(count: int = 100_000) -> None:
    """Print each trigger's decision time and the after-sync run's time per batch."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'cloud.db'}")
        migrate(engine)
        vault = PiiVault(b"k" * 32)
        began = time.perf_counter()
        _fill(engine, vault, count, np.random.default_rng(2026))
        print(
            f"{count:,} members, {count * PER_MEMBER:,} purchases filled in "
            f"{time.perf_counter() - began:.1f} s"
        )
        for name, parts in SCENARIOS.items():
            scenario = parse(name, {"actions": POINTS, "control_pct": 10, **parts})
            with engine.connect() as conn:
                began = time.perf_counter()
                decisions = decide(conn, vault, scenario, NOW)
                seconds = time.perf_counter() - began
            print(f"  {name:15} {len(decisions):>8,} decisions in {seconds:6.2f} s")
        _after_sync(engine, vault, Path(folder))
        engine.dispose()


def _after_sync(engine: sa.Engine, vault: PiiVault, folder: Path) -> None:
    """Time run_events for one buyer with the purchase, rising-rate and referral scenarios."""
    with engine.begin() as conn:
        for name in ("purchase", "rising_rate"):
            store.save(conn, name, {"actions": POINTS, "control_pct": 0, **SCENARIOS[name]})
        store.save(conn, "referral", {"trigger": {"type": "referral"}, "actions": POINTS})
        buyers = list(
            conn.execute(
                sa.select(sales.c.member_id)
                .where(sales.c.received_at >= NOW.astimezone(dt.UTC) - dt.timedelta(hours=12))
                .distinct()
                .limit(50)
            ).scalars()
        )
    provider = FileProvider(folder / "sms.jsonl")
    times = []
    for buyer in buyers:
        began = time.perf_counter()
        store.run_events(engine, vault, provider, NOW, [("purchase", buyer)])
        times.append(time.perf_counter() - began)
    print(
        f"  after-sync run for one buyer (3 scenarios, acting): median "
        f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
        f"over {len(times)} buyers"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

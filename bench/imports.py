"""How long HQ's imports take: an existing club's member list, then channel orders.

A CSV of ``N`` members (Persian names, mobiles in mixed spellings, Jalali birthdays,
gender, province and city, a joined date, every tenth with opening points) is imported into
a fresh SQLite cloud, then a CSV of ``N`` website orders of those members (Jalali dates,
Rial totals, two category lines each), then both again (everything "already there"). Each
step reports wall and CPU time (the machine is shared) and rows per second.

Usage: ``python -m bench.imports [N]`` (default 100,000).
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.fleet import create_store
from cloud.imports import import_members, import_orders, read_rows
from cloud.imports import members as member_columns
from cloud.imports import orders as order_columns
from cloud.storage import make_engine, migrate
from common.persian import to_persian_digits
from common.pii import PiiVault

NAMES = ("مریم رضایی", "علی احمدی", "زهرا کریمی", "رضا محمدی", "فاطمه حسینی", "حسین موسوی")
PLACES = (("تهران", "تهران"), ("اصفهان", "اصفهان"), ("فارس", "شیراز"), ("", ""))
CATEGORIES = ("لبنیات", "نوشیدنی", "خشکبار", "پوشاک", "بهداشتی")


def _mobile(i: int) -> str:
    local = f"0912{i:07d}"
    return (local, to_persian_digits(local), "+98" + local[1:], f"{local[:4]} {local[4:]}")[i % 4]


def write_members(path: Path, n: int, rng: random.Random) -> None:
    """Write a member list of ``n`` rows."""
    with path.open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(
            ["موبایل", "نام", "تاریخ تولد", "جنسیت", "استان", "شهر", "تاریخ عضویت", "امتیاز"]
        )
        for i in range(n):
            province, city = PLACES[i % len(PLACES)]
            birthday = _jalali(rng, 1330, 1385)
            joined = _jalali(rng, 1395, 1403)
            points = str(rng.randint(1, 5000)) if i % 10 == 0 else ""
            name = NAMES[i % len(NAMES)]
            rows.writerow([_mobile(i), name, birthday, "fm"[i % 2], province, city, joined, points])


def _jalali(rng: random.Random, first: int, last: int) -> str:
    return f"{rng.randint(first, last)}/{rng.randint(1, 12):02d}/{rng.randint(1, 29):02d}"


def write_orders(path: Path, n: int, members: int, rng: random.Random) -> None:
    """Write ``n`` website orders of the first ``members`` members."""
    with path.open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["شماره سفارش", "موبایل", "تاریخ", "مبلغ (ریال)", "اقلام"])
        for i in range(n):
            first, second = rng.randint(10, 500) * 10_000, rng.randint(10, 500) * 10_000
            day = _jalali(rng, 1401, 1404)
            lines = f"{CATEGORIES[i % 5]}:{first};{CATEGORIES[(i + 2) % 5]}:{second}"
            rows.writerow(
                [f"W{i}", _mobile(rng.randrange(members)), f"{day} 12:30", first + second, lines]
            )


def timed(step: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run a step; return its result, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(n: int = 100_000) -> None:
    """Import ``n`` members and ``n`` orders twice each; print the figures."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        engine = make_engine(f"sqlite:///{work / 'cloud.db'}")
        migrate(engine)
        vault = PiiVault(b"b" * 32)
        with engine.begin() as conn:
            create_store(conn, "شعبه ونک")
        write_members(work / "members.csv", n, rng)
        write_orders(work / "orders.csv", n, n, rng)

        def members() -> Any:
            with (work / "members.csv").open("rb") as f:
                rows = read_rows(f, "members.csv", member_columns.COLUMNS, member_columns.REQUIRED)
                return import_members(engine, vault, rows, "شعبه ونک", "bench")

        def orders() -> Any:
            with (work / "orders.csv").open("rb") as f:
                rows = read_rows(f, "orders.csv", order_columns.COLUMNS, order_columns.REQUIRED)
                return import_orders(engine, vault, rows, "website", "bench")

        for label, step in (
            ("members", members),
            ("orders", orders),
            ("members again", members),
            ("orders again", orders),
        ):
            report, wall, cpu = timed(step)
            print(
                f"{label:14} {n:,} rows: {wall:6.1f} s wall, {cpu:6.1f} s CPU,"
                f" {n / wall:8,.0f} rows/s — added {report.added:,},"
                f" already there {report.already_there:,}, refused {report.refused:,}",
                flush=True,
            )
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

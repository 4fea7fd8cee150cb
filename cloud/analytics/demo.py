"""Demo data for the analytics and the HQ dashboard: a chain's two years, from a seed.

``vafa-cloud analytics demo-data --members N --seed S`` fills an empty cloud database with
stores (Tehran neighbourhoods) and a terminal each, members with demographics (gender,
province and city from ``common/iran_places.toml``, Jalali birth year, some left blank),
and their sales over the two years before ``as_of``: each member buys as a Poisson process
at their own rate until they silently leave (the BG/NBD story the CLV models expect), mostly
at their home store, with lines in categories their persona favours. Every sale is a
sealed ``sale.completed`` event (the lines travel only there, as from a real terminal),
a ledger entry moving the member's points, and now and then a refund; a few sales get
feedback (NPS and sometimes a Persian comment, sealed, its sentiment stored), and three
disabled demo scenarios leave entries for the incentive analysis. Names and mobiles are
made up and sealed like real ones. The same seed gives the same chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jdatetime
import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from cloud.analytics.bulk import insert_rows
from cloud.analytics.clv import AnalyticsError
from cloud.analytics.lines import lines_of, set_watermark
from cloud.analytics.satisfaction import sentiment_of
from cloud.tables import (
    events,
    feedback,
    ledger_entries,
    ledger_postings,
    members,
    sale_lines,
    sales,
    scenario_entries,
    scenarios,
    stores,
    terminals,
)
from common.demographics import provinces
from common.persian import TEHRAN
from common.pii import PiiVault

YEARS = 2
CHUNK = 50_000
STORE_NAMES = (
    "ونک",
    "تجریش",
    "پونک",
    "نارمک",
    "سعادت‌آباد",
    "شهرک غرب",
    "ستارخان",
    "پاسداران",
    "جردن",
    "ولنجک",
    "اکباتان",
    "تهرانپارس",
    "یوسف‌آباد",
    "امیرآباد",
    "میرداماد",
    "نیاوران",
    "صادقیه",
    "گیشا",
    "جنت‌آباد",
    "چیتگر",
)
FIRST_NAMES = ("مریم", "زهرا", "فاطمه", "سارا", "نگار", "علی", "محمد", "رضا", "حسین", "امیر")
LAST_NAMES = ("کریمی", "احمدی", "رضایی", "محمدی", "حسینی", "موسوی", "جعفری", "صادقی")
CATEGORIES = (
    "لبنیات",
    "نان",
    "میوه و سبزی",
    "گوشت و مرغ",
    "نوشیدنی",
    "تنقلات",
    "شوینده",
    "بهداشتی",
    "خشکبار",
    "کنسرو",
    "برنج و حبوبات",
    "قنادی",
)
# Personas: the categories each kind of household leans to (indices into CATEGORIES).
PERSONAS = ((0, 1, 2, 3, 10), (4, 5, 11, 8), (6, 7, 0, 1), (2, 8, 11, 4, 9))
CHANNELS = ("in_store",) * 17 + ("instagram", "website", "whatsapp")
COMMENTS = {
    "promoter": ("خیلی عالی بود ممنون", "پرسنل مودب و خوش برخورد", "همه چیز تازه و مرتب بود"),
    "passive": ("معمولی بود", "لطفا ساعت کاری را اعلام کنید", "قیمت‌ها مثل همیشه"),
    "detractor": ("صف خیلی طولانی بود", "قیمت‌ها گرونه", "فروشنده بداخلاق بود"),
}
DEMO_SCENARIOS = {
    "demo-points": ("یادآوری با امتیاز", {"type": "points", "amount": 200}),
    "demo-coupon": ("یادآوری با کوپن", {"type": "coupon", "value_rial": 500_000, "days": 14}),
    "demo-sms": ("یادآوری پیامکی", {"type": "sms", "variants": ["{نام} عزیز، دلمان تنگ شده!"]}),
}


def _ean13(body: str) -> str:
    total = sum(int(d) * w for d, w in zip(body, (1, 3) * 6, strict=True))
    return body + str((10 - total % 10) % 10)


def _chunks(n: int) -> Iterator[range]:
    for lo in range(0, n, CHUNK):
        yield range(lo, min(lo + CHUNK, n))


class _Ids:
    """Deterministic ids (32 characters at most) derived from the seed."""

    def __init__(self, seed: int) -> None:
        self.prefix = f"d{seed % 10_000:04d}"

    def __call__(self, kind: str, n: int) -> str:
        return f"{self.prefix}{kind}{n:012d}"


def fill(
    engine: sa.Engine,
    vault: PiiVault,
    n_members: int,
    seed: int,
    as_of: dt.datetime,
    lines_copied: bool = False,
    chunked: bool = False,
) -> dict[str, int]:
    """Fill an empty cloud database with a demo chain; return how many rows of each kind.

    ``lines_copied`` also writes ``sale_lines`` and their watermark, as an analytics pass
    would have copied them out of the sealed events (the benchmark of the daily pass at a
    million members starts there instead of opening ten million events first).

    All in one transaction, unless ``chunked``: then committed after the members and each
    chunk of sales, with a large SQLite page cache. A million members' chain in one
    transaction slowed to a crawl as SQLite's write-ahead log grew past 7 GB (every page
    read searches it); the benchmark fills a file it renames only when done.
    """
    if n_members < 1:
        raise AnalyticsError("demo data needs at least one member")
    rng = np.random.default_rng(seed)
    ids = _Ids(seed)
    start = as_of - dt.timedelta(days=365 * YEARS)
    counts: dict[str, int] = {}
    with engine.connect() if chunked else engine.begin() as conn:
        if chunked and conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size = -1000000")  # about 1 GB
        commit = conn.commit if chunked else None
        if conn.execute(sa.select(sa.func.count()).select_from(members)).scalar_one():
            raise AnalyticsError("demo data goes only into a cloud database without members")
        store_ids = _stores(conn, ids, n_members, start)
        counts["stores"] = len(store_ids)
        home = rng.integers(0, len(store_ids), n_members)
        enrolled = _members(conn, vault, ids, rng, store_ids, home, start, as_of)
        counts["members"] = n_members
        if commit:
            commit()
        buyer, at = _purchase_times(rng, enrolled)
        counts |= _sales(conn, vault, ids, rng, store_ids, home, buyer, at, lines_copied, commit)
        counts["scenario_entries"] = _scenarios(conn, ids, rng, n_members, as_of)
        if commit:
            commit()
    return counts


def _stores(conn: sa.Connection, ids: _Ids, n_members: int, start: dt.datetime) -> list[str]:
    count = min(len(STORE_NAMES), max(3, n_members // 5_000))
    store_ids = [ids("s", k) for k in range(count)]
    conn.execute(
        sa.insert(stores),
        [{"id": s, "name": STORE_NAMES[k], "created_at": start} for k, s in enumerate(store_ids)],
    )
    conn.execute(
        sa.insert(terminals),
        [
            {
                "id": ids("t", k),
                "store_id": s,
                "public_key": hashlib.sha256(s.encode()).hexdigest(),
                "hostname": f"pos-{k}",
                "created_at": start,
            }
            for k, s in enumerate(store_ids)
        ],
    )
    return store_ids


def _members(
    conn: sa.Connection,
    vault: PiiVault,
    ids: _Ids,
    rng: np.random.Generator,
    store_ids: list[str],
    home: npt.NDArray[np.int64],
    start: dt.datetime,
    as_of: dt.datetime,
) -> npt.NDArray[np.float64]:
    """Insert members; return each one's enrolment, in days after ``start``."""
    n = len(home)
    span = (as_of - start).total_seconds() / 86400
    # A third were members before the period; the rest joined at a steady pace.
    enrolled = np.where(rng.random(n) < 0.33, 0.0, rng.random(n) * span * 0.97)
    places = provinces()
    names = list(places)
    weights = np.array([8.0 if p == "تهران" else 1.0 for p in names])
    province = rng.choice(len(names), n, p=weights / weights.sum())
    this_year = jdatetime.date.fromgregorian(date=as_of.astimezone(TEHRAN).date()).year
    birth = this_year - np.clip(rng.normal(38, 12, n), 16, 85).astype(int)
    told = rng.random((n, 3))  # each field given by most, not all
    for part in _chunks(n):
        rows = []
        for i in part:
            member_id = ids("m", i)
            cities = places[names[province[i]]]
            mobile = f"+98912{i:07d}"
            rows.append(
                {
                    "id": member_id,
                    "card_code": _ean13(f"29{i:010d}"),
                    "mobile_hmac": vault.lookup_hash(mobile),
                    "mobile_enc": vault.encrypt(member_id, mobile),
                    "name_enc": vault.encrypt(
                        member_id, f"{FIRST_NAMES[i % 10]} {LAST_NAMES[(i // 10) % 8]}"
                    ),
                    "home_store_id": store_ids[home[i]],
                    "marketing_consent": bool(told[i, 0] < 0.8),
                    "enrolled_at": start + dt.timedelta(days=float(enrolled[i])),
                    "gender": ("f" if i % 2 else "m") if told[i, 0] < 0.9 else None,
                    "province": names[province[i]] if told[i, 1] < 0.85 else None,
                    "city": cities[i % len(cities)] if told[i, 1] < 0.7 else None,
                    "birth_year": int(birth[i]) if told[i, 2] < 0.75 else None,
                }
            )
        insert_rows(conn, members, list(rows[0]), (tuple(r.values()) for r in rows))
    return enrolled


def _purchase_times(
    rng: np.random.Generator, enrolled: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return (member index, day after start) of every purchase, in time order."""
    n = len(enrolled)
    span = 365.0 * YEARS
    rate = rng.gamma(1.2, 1 / 30, n)  # purchases a day: every month or so, widely spread
    lifetime = rng.exponential(420, n)  # then they silently leave
    active = np.clip(np.minimum(span - enrolled, lifetime), 0, None)
    count = rng.poisson(rate * active)
    count[rng.random(n) < 0.12] = 0  # some never buy: activation below 100 %
    buyer = np.repeat(np.arange(n), count)
    at = enrolled[buyer] + rng.random(len(buyer)) * active[buyer]
    order = np.argsort(at, kind="stable")
    return buyer[order], at[order]


def _sales(
    conn: sa.Connection,
    vault: PiiVault,
    ids: _Ids,
    rng: np.random.Generator,
    store_ids: list[str],
    home: npt.NDArray[np.int64],
    buyer: npt.NDArray[np.int64],
    at: npt.NDArray[np.float64],
    lines_copied: bool = False,
    commit: Callable[[], None] | None = None,
) -> dict[str, int]:
    n_members, total = len(home), len(buyer)
    start = _start(conn)
    elsewhere = rng.random(total) < 0.15
    store = np.where(elsewhere, rng.integers(0, len(store_ids), total), home[buyer])
    base = rng.lognormal(np.log(1_200_000), 0.6, n_members)
    amount = np.maximum(20_000, np.round(base[buyer] * rng.lognormal(0, 0.5, total), -4))
    persona = rng.integers(0, len(PERSONAS), n_members)
    redeem = rng.random(total) < 0.1
    refunded = rng.random(total) < 0.01
    answered = rng.random(total) < 0.04
    mood = np.clip(rng.normal(8.0, 2.0, n_members), 0, 10)
    # Receipt numbers run per store in time order.
    seq = np.zeros(total, dtype=np.int64)
    for k in range(len(store_ids)):
        mine = store == k
        seq[mine] = np.arange(1, int(np.count_nonzero(mine)) + 1)
    counts = {"sales": 0, "refunds": 0, "feedback": 0, "lines": 0}
    for part in _chunks(total):
        lo, hi = part.start, part.stop
        items = _items(rng, persona[buyer[lo:hi]], amount[lo:hi].astype(np.int64))
        chain = _Chain(
            ids, store_ids, buyer, store, seq, amount, redeem, refunded, at, start, lines_copied
        )
        rows = _sale_rows(vault, chain, part, items)
        counts["lines"] += sum(len(i) for i in items)
        for j in np.flatnonzero(answered[lo:hi]) + lo:
            member, k = int(buyer[j]), int(store[j])
            moment = start + dt.timedelta(days=float(at[j]))
            rows[feedback].append(
                _feedback(
                    vault,
                    ids("f", int(j)),
                    ids("x", int(j)),
                    ids("t", k),
                    store_ids[k],
                    ids("m", member),
                    int(np.rint(mood[member])),
                    int(j),
                    moment,
                )
            )
        for table, batch in rows.items():
            if batch and table is feedback:
                conn.execute(sa.insert(table), batch)
            elif batch and (table is not sale_lines or lines_copied):
                insert_rows(conn, table, list(batch[0]), (tuple(r.values()) for r in batch))
        counts["sales"] += len(part)
        counts["refunds"] += int(np.count_nonzero(refunded[lo:hi]))
        counts["feedback"] += len(rows[feedback])
        if commit:
            commit()
    if lines_copied and total:
        set_watermark(conn, start + dt.timedelta(days=float(at[-1])))
    return counts


@dataclass(frozen=True)
class _Chain:
    """Every sale's drawn figures (arrays indexed by sale, in time order)."""

    ids: _Ids
    store_ids: list[str]
    buyer: npt.NDArray[np.int64]
    store: npt.NDArray[np.int64]
    seq: npt.NDArray[np.int64]
    amount: npt.NDArray[np.float64]
    redeem: npt.NDArray[np.bool_]
    refunded: npt.NDArray[np.bool_]
    at: npt.NDArray[np.float64]
    start: dt.datetime
    lines_copied: bool


def _sale_rows(
    vault: PiiVault, chain: _Chain, part: range, items: list[list[dict[str, Any]]]
) -> dict[sa.Table, list[dict[str, Any]]]:
    """Return one chunk's event, sale, ledger and line rows (feedback comes after)."""
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        t: [] for t in (events, sales, ledger_entries, ledger_postings, sale_lines, feedback)
    }
    ids, store_ids, buyer, store, seq = (
        chain.ids,
        chain.store_ids,
        chain.buyer,
        chain.store,
        chain.seq,
    )
    amount, redeem, refunded, start = chain.amount, chain.redeem, chain.refunded, chain.start
    at_days = chain.at
    for n, j in enumerate(part):
        member, k = int(buyer[j]), int(store[j])
        moment = start + dt.timedelta(days=float(at_days[j]))
        terminal_time = moment.isoformat()
        sale_id, event_id, member_id = ids("x", j), ids("e", j), ids("m", member)
        terminal_id = ids("t", k)
        rial = int(amount[j])
        earned = rial // 100_000
        spent = int(min(earned * 3, 50 + (j % 400))) if redeem[j] else 0
        body = {
            "id": event_id,
            "seq": int(seq[j]),
            "kind": "sale.completed",
            "terminal_time": terminal_time,
            "payload": {"sale_id": sale_id, "member_id": member_id, "items": items[n]},
        }
        # With the lines copied already, only the events a next pass reopens (its overlap
        # before the watermark) need their sealed body: sealing ten million costs minutes.
        sealed = not chain.lines_copied or at_days[j] >= chain.at[-1] - 2 / 24
        wire = json.dumps(body, ensure_ascii=False, sort_keys=True) if sealed else event_id
        rows[events].append(
            {
                "id": event_id,
                "terminal_id": terminal_id,
                "seq": int(seq[j]),
                "kind": "sale.completed",
                "digest": hashlib.sha256(wire.encode()).hexdigest(),
                "body_enc": vault.encrypt(event_id, wire) if sealed else None,
                "received_at": moment,
            }
        )
        rows[sales].append(
            {
                "id": sale_id,
                "event_id": event_id,
                "member_id": member_id,
                "store_id": store_ids[k],
                "terminal_id": terminal_id,
                "receipt_no": int(seq[j]),
                "amount_rial": rial,
                "points_earned": earned,
                "points_redeemed": spent,
                "channel": CHANNELS[j % len(CHANNELS)],
                "terminal_time": terminal_time,
                "received_at": moment,
                "refunded_at": moment + dt.timedelta(days=1) if refunded[j] else None,
            }
        )
        rows[sale_lines].extend(lines_of(body, moment))
        if earned != spent and not refunded[j]:
            rows[ledger_entries].append({"id": sale_id, "event_id": event_id, "kind": "sale"})
            rows[ledger_postings].extend(
                [
                    {
                        "entry_id": sale_id,
                        "account": f"member:{member_id}:points",
                        "amount": earned - spent,
                    },
                    {
                        "entry_id": sale_id,
                        "account": "system:points_issued",
                        "amount": spent - earned,
                    },
                ]
            )
    return rows


def _start(conn: sa.Connection) -> dt.datetime:
    first: dt.datetime = conn.execute(sa.select(sa.func.min(stores.c.created_at))).scalar_one()
    return first if first.tzinfo else first.replace(tzinfo=dt.UTC)


def _items(
    rng: np.random.Generator, persona: npt.NDArray[np.int64], rial: npt.NDArray[np.int64]
) -> list[list[dict[str, Any]]]:
    """Split each sale into 1-4 lines, mostly in its buyer's persona's categories."""
    n = rng.integers(1, 5, len(rial))
    sale = np.repeat(np.arange(len(rial)), n)
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    lines = len(sale)
    sizes = np.array([len(p) for p in PERSONAS])
    table = np.array([list(p) + [p[0]] * (sizes.max() - len(p)) for p in PERSONAS])
    mine = persona[sale]
    favoured = table[mine, (rng.random(lines) * sizes[mine]).astype(np.int64)]
    picks = np.where(rng.random(lines) < 0.8, favoured, rng.integers(0, len(CATEGORIES), lines))
    shares = rng.random(lines) + 0.2
    parts = np.floor(rial[sale] * shares / np.add.reduceat(shares, first)[sale] / 1000) * 1000
    parts[first] += rial - np.add.reduceat(parts, first)  # the lines add up to the sale
    sku = rng.integers(1, 60, lines)
    quantity = rng.integers(1, 4, lines)
    flat = [
        {"sku": f"{c:02d}-{k:03d}", "category": CATEGORIES[c], "quantity": q, "amount_rial": p}
        for c, k, q, p in zip(
            picks.tolist(),
            sku.tolist(),
            quantity.tolist(),
            parts.astype(np.int64).tolist(),
            strict=True,
        )
    ]
    bounds = [*first.tolist(), lines]
    return [flat[bounds[i] : bounds[i + 1]] for i in range(len(rial))]


def _feedback(
    vault: PiiVault,
    feedback_id: str,
    sale_id: str,
    terminal_id: str,
    store_id: str,
    member_id: str,
    nps: int,
    j: int,
    moment: dt.datetime,
) -> dict[str, Any]:
    kind = "promoter" if nps >= 9 else "passive" if nps >= 7 else "detractor"
    comment = COMMENTS[kind][j % 3] if j % 5 < 2 else ""  # two in five write something
    return {
        "id": feedback_id,
        "sale_id": sale_id,
        "terminal_id": terminal_id,
        "store_id": store_id,
        "member_id": member_id,
        "nps": nps,
        "comment_enc": vault.encrypt(feedback_id, comment) if comment else None,
        "created_at": moment + dt.timedelta(hours=2),
        **sentiment_of(comment),
    }


def demo_definitions() -> dict[str, dict[str, Any]]:
    """Return the demo scenarios' definitions (a win-back with one incentive each)."""
    return {
        key: {
            "name_fa": name,
            "trigger": {"type": "inactive", "days": 45},
            "actions": [action],
            "guardrails": {"period": "month"},
            "control_pct": 10,
        }
        for key, (name, action) in DEMO_SCENARIOS.items()
    }


def _scenarios(
    conn: sa.Connection, ids: _Ids, rng: np.random.Generator, n_members: int, as_of: dt.datetime
) -> int:
    """Store the demo scenarios (disabled) and entries for a tenth of the members."""
    definitions = demo_definitions()
    conn.execute(
        sa.insert(scenarios),
        [
            {
                "id": key,
                "definition": json.dumps(d, ensure_ascii=False),
                "enabled": False,
                "updated_at": as_of,
            }
            for key, d in definitions.items()
        ],
    )
    chosen = np.flatnonzero(rng.random(n_members) < 0.1)
    keys = list(definitions)
    rows = []
    for n, i in enumerate(chosen):
        control = rng.random() < 0.1
        rows.append(
            {
                "id": ids("n", n),
                "scenario_id": keys[int(rng.integers(len(keys)))],
                "member_id": ids("m", int(i)),
                "period": "demo",
                "arm": "control" if control else "A",
                "outcome": "control" if control else "acted",
                "created_at": as_of - dt.timedelta(days=float(rng.uniform(20, 180))),
            }
        )
    for part in _chunks(len(rows)):
        conn.execute(sa.insert(scenario_entries), rows[part.start : part.stop])
    return len(rows)

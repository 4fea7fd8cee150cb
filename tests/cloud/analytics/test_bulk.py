"""Bulk inserts store exactly what SQLAlchemy's own insert stores, on both back-ends."""

from __future__ import annotations

import datetime as dt

import numpy as np
import sqlalchemy as sa
from flask import Flask

from cloud.analytics import bulk
from cloud.analytics.bulk import insert_columns, insert_rows
from cloud.tables import sale_lines

AT = dt.datetime(2026, 6, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)


def _row(sale_id: str) -> dict[str, object]:
    return {
        "sale_id": sale_id,
        "line_no": 0,
        "member_id": "m1",
        "category": "لبنیات",
        "sku": "01-002",
        "quantity": 2,
        "amount_rial": 1_250_000,
        "received_at": AT,
    }


def test_bulk_rows_read_back_like_sqlalchemy_inserts(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    names = [c.name for c in sale_lines.columns]
    with engine.begin() as conn:
        conn.execute(sa.insert(sale_lines), [_row("plain")])
        written = insert_rows(
            conn, sale_lines, names, (tuple(_row(f"bulk{n}").values()) for n in range(3))
        )
    assert written == 3
    with engine.connect() as conn:
        # The raw stored text too: SQLite compares times as strings, so the format matters.
        raw = conn.exec_driver_sql("SELECT sale_id, received_at FROM sale_lines").all()
        rows = {r.sale_id: r for r in conn.execute(sa.select(sale_lines))}
    assert len({str(at) for _, at in raw}) == 1
    plain = rows.pop("plain")
    assert sorted(rows) == ["bulk0", "bulk1", "bulk2"]
    for row in rows.values():
        assert row._asdict() | {"sale_id": "plain"} == plain._asdict()
    assert plain.received_at.replace(tzinfo=dt.UTC) == AT


def test_columns_read_back_like_sqlalchemy_inserts(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    rows = [_row("plain"), *(_row(f"col{n}") for n in range(3))]
    rows[2]["received_at"] = AT + dt.timedelta(seconds=1)  # one column differs, one does not
    with engine.begin() as conn:
        conn.execute(sa.insert(sale_lines), rows[:1])
        written = insert_columns(conn, sale_lines, {k: [r[k] for r in rows[1:]] for k in rows[0]})
    assert written == 3
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT sale_id, received_at FROM sale_lines").all()
        read = {r.sale_id: r._asdict() for r in conn.execute(sa.select(sale_lines))}
    assert len({str(at) for sale_id, at in raw if sale_id != "col1"}) == 1  # the same text
    for row in rows:
        stored = read[str(row["sale_id"])]
        assert stored | {"received_at": stored["received_at"].replace(tzinfo=dt.UTC)} == row


def test_columns_given_as_numpy_arrays_are_stored_as_python_values(cloud_app_any: Flask) -> None:
    """GIVEN int64 and object arrays longer than a chunk WHEN written as columns THEN every
    row reads back with its numbers and texts (SQLite's driver binds no numpy integer)."""
    engine = cloud_app_any.extensions["vafa"].engine
    n = bulk.CHUNK + 7
    amounts = np.arange(n, dtype=np.int64) * 1_000 + 3
    columns = {
        "sale_id": np.array([f"n{i}" for i in range(n)], dtype=object),
        "line_no": np.zeros(n, dtype=np.int64),
        "member_id": ["m1"] * n,
        "category": np.array(["لبنیات", "نان"], dtype=object)[np.arange(n) % 2],
        "sku": [""] * n,
        "quantity": np.ones(n, dtype=np.int64),
        "amount_rial": amounts,
        "received_at": [AT] * n,
    }
    with engine.begin() as conn:
        assert insert_columns(conn, sale_lines, columns) == n
    with engine.connect() as conn:
        read = {
            r.sale_id: (r.category, r.amount_rial, r.quantity)
            for r in conn.execute(sa.select(sale_lines))
        }
    assert len(read) == n
    assert read["n0"] == ("لبنیات", 3, 1)
    assert read[f"n{n - 1}"] == ("نان" if (n - 1) % 2 else "لبنیات", int(amounts[-1]), 1)
    assert sum(amount for _, amount, _ in read.values()) == int(amounts.sum())

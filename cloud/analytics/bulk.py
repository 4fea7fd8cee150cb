"""Write a large number of rows fast, on SQLite and PostgreSQL alike.

``conn.execute(table.insert(), list_of_dicts)`` spends most of its time building and
reading a dict per row. Here rows are tuples in the table's column order, sent in chunks
to the driver: on SQLite its own ``executemany`` (values first turned into what
SQLAlchemy would store, by the column types' own bind processors), on PostgreSQL one
``COPY … FROM STDIN`` per chunk. Both run in the caller's transaction. Any other database
gets the plain SQLAlchemy insert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

import sqlalchemy as sa

CHUNK = 50_000


def insert_rows(
    conn: sa.Connection, table: sa.Table, names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples of the ``names`` columns' values); return how many."""
    columns = [table.c[name] for name in names]
    dialect = conn.dialect.name
    it = iter(rows)
    written = 0
    while chunk := list(islice(it, CHUNK)):
        if dialect == "sqlite":
            _sqlite(conn, table, columns, chunk)
        elif dialect == "postgresql":
            _copy(conn, table, columns, chunk)
        else:
            conn.execute(sa.insert(table), [dict(zip(names, row, strict=True)) for row in chunk])
        written += len(chunk)
    return written


def _sqlite(
    conn: sa.Connection, table: sa.Table, columns: list[sa.Column[Any]], chunk: list[Any]
) -> None:
    processors: list[Callable[[Any], Any] | None] = [
        c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns
    ]
    if any(processors):
        chunk = [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in chunk
        ]
    marks = ", ".join("?" * len(columns))
    names = ", ".join(conn.dialect.identifier_preparer.quote(c.name) for c in columns)
    sql = f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} ({names}) "
    conn.exec_driver_sql(sql + f"VALUES ({marks})", chunk)


def _copy(
    conn: sa.Connection, table: sa.Table, columns: list[sa.Column[Any]], chunk: list[Any]
) -> None:
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(c.name) for c in columns)
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        statement = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in chunk:
                copy.write_row(row)

"""Write and read a large number of rows fast, on SQLite and PostgreSQL alike.

``conn.execute(table.insert(), list_of_dicts)`` spends most of its time building and
reading a dict per row. Here rows are tuples in the table's column order, sent in chunks
to the driver: on SQLite its own ``executemany`` (values first turned into what
SQLAlchemy would store, by the column types' own bind processors), on PostgreSQL one
``COPY … FROM STDIN`` per chunk. Both run in the caller's transaction. Any other database
gets the plain SQLAlchemy insert.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, overload

import numpy as np
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


def insert_columns(
    conn: sa.Connection, table: sa.Table, columns: Mapping[str, Sequence[Any] | np.ndarray]
) -> int:
    """Insert rows given as columns (name → values, all as long); return how many.

    On SQLite each column that needs converting is converted whole and the rows are
    streamed to the driver straight from the columns: a million members' rows are never
    made into tuples and taken apart again, as ``insert_rows`` does chunk by chunk. A
    column may be a numpy array: it becomes Python values a chunk at a time, so millions
    of rows are never held as Python numbers all at once.
    """
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    if conn.dialect.name != "sqlite":
        streams = [_values(columns[name]) for name in names]
        return insert_rows(conn, table, names, zip(*streams, strict=True))
    streams = []
    for name, p in zip(names, _processors(conn, [table.c[n] for n in names]), strict=True):
        column = columns[name]
        if p is None:
            streams.append(_values(column))
        else:
            listed = column.tolist() if isinstance(column, np.ndarray) else column
            streams.append(iter(_converted(p, listed)))
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.executemany(_insert_sql(conn, table, names), zip(*streams, strict=True))
    finally:
        cursor.close()
    return count


def _values(column: Sequence[Any] | np.ndarray) -> Iterator[Any]:
    """Iterate a column's values as Python objects (a numpy array's a chunk at a time)."""
    if not isinstance(column, np.ndarray):
        return iter(column)
    return itertools.chain.from_iterable(
        column[start : start + CHUNK].tolist() for start in range(0, len(column), CHUNK)
    )


def _processors(
    conn: sa.Connection, columns: list[sa.Column[Any]]
) -> list[Callable[[Any], Any] | None]:
    return [c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns]


def _insert_sql(conn: sa.Connection, table: sa.Table, names: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer
    listed = ", ".join(quote.quote(name) for name in names)
    marks = ", ".join("?" * len(names))
    return f"INSERT INTO {quote.format_table(table)} ({listed}) VALUES ({marks})"


def _sqlite(
    conn: sa.Connection, table: sa.Table, columns: list[sa.Column[Any]], chunk: list[Any]
) -> None:
    processors = _processors(conn, columns)
    if any(processors):
        # Column by column, each distinct value converted once: a per-value generator over
        # every row took two thirds of the writing (a run's rows share their day).
        columns_of = list(zip(*chunk, strict=True))
        converted = [
            values if p is None else _converted(p, values)
            for p, values in zip(processors, columns_of, strict=True)
        ]
        chunk = list(zip(*converted, strict=True))
    conn.exec_driver_sql(_insert_sql(conn, table, [c.name for c in columns]), chunk)


def _converted(processor: Callable[[Any], Any], values: Sequence[Any]) -> Sequence[Any]:
    if values and values.count(values[0]) == len(values):  # a run's day, say: counted in C
        return [processor(values[0])] * len(values)
    memo: dict[Any, Any] = {}
    try:
        return [memo[v] if v in memo else memo.setdefault(v, processor(v)) for v in values]
    except TypeError:  # an unhashable value (a JSON column's dict): no memo
        return [processor(v) for v in values]


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


def driver_chunks(
    conn: sa.Connection, query: sa.Select[Any], size: int = CHUNK
) -> Iterator[Sequence[Any]]:
    """Yield a query's rows in chunks, as the driver gives them: plain tuples of what it
    read (SQLite's text for a time, say), without SQLAlchemy's row and type processing,
    which cost as much again as reading a million sales."""
    result = conn.execute(query)
    try:
        while chunk := result.cursor.fetchmany(size):
            yield chunk
    finally:
        result.close()


class Columns(Sequence[Mapping[str, Any]]):
    """Rows kept as columns (one list per column), for a million members' rows.

    Read as a sequence of mappings (``rows[i]["segment"]``) where rows are expected; a row
    is a light view on the columns, made when asked for, not a dict held per row.
    """

    def __init__(self, columns: dict[str, Any]) -> None:
        self.columns = columns
        self._length = len(columns["member_id"])

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_RowView(self.columns, i) for i in range(self._length)[index]]
        if not -self._length <= index < self._length:
            raise IndexError(index)
        return _RowView(self.columns, index % self._length)

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return (_RowView(self.columns, i) for i in range(self._length))

    def column(self, name: str) -> Any:
        """Return one column's values, in member order (a list or a numpy array)."""
        return self.columns[name]


class _RowView(Mapping[str, Any]):
    __slots__ = ("_columns", "_i")

    def __init__(self, columns: dict[str, Any], i: int) -> None:
        self._columns, self._i = columns, i

    def __getitem__(self, key: str) -> Any:
        return self._columns[key][self._i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

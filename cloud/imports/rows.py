"""Rows of an imported file (CSV or Excel), streamed, and the report of what became of them.

A row's ``line`` is the number a spreadsheet shows beside it: the header is line 1. Blank
rows are skipped without a word; columns are found by their header in English or Persian.
"""

from __future__ import annotations

import csv
import logging
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, TypeVar

import sqlalchemy as sa

from cloud.errors import BadRequest
from cloud.imports.values import TOMAN_WORDS, BadValue
from common.persian import group_thousands, normalize_text, to_persian_digits

log = logging.getLogger(__name__)
T = TypeVar("T")
Lines = Generator[tuple[int, list[Any]], None, None]  # (spreadsheet line, cells)
BATCH = 1_000  # rows checked, looked up and written together, in one transaction
MAX_PROBLEMS_SHOWN = 1_000  # a page or an API answer lists at most this many bad rows


class BadFile(BadRequest):
    """A file that cannot be imported at all (format, encoding, missing columns)."""

    code, fa = "bad_file", "فایل قابل خواندن نیست"


@dataclass(frozen=True)
class Row:
    """One non-blank row: its spreadsheet line and its cells by column name."""

    line: int
    cells: Mapping[str, Any]


@dataclass(frozen=True)
class Problem:
    """Why one row (``line``) or one API item (its index) was not stored."""

    line: int
    code: str
    reason: str
    reason_fa: str
    key: str = ""  # the order id, when the row had a readable one


@dataclass
class Report:
    """What an import did: rows read, added, already there, refused (and why)."""

    kind: str  # orders | members
    read: int = 0
    added: int = 0
    already_there: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def refused(self) -> int:
        """Count the rows not stored."""
        return len(self.problems)

    def refuse(self, line: int, fault: BadValue, key: str = "") -> None:
        """Record a refused row (and log it in English, without its personal data)."""
        self.problems.append(Problem(line, fault.code, str(fault), fault.fa, key))
        log.info("import %s: line %d refused (%s): %s", self.kind, line, fault.code, fault)

    def merge(self, other: Report) -> None:
        """Take over what a committed chunk recorded."""
        self.added += other.added
        self.already_there += other.already_there
        self.problems.extend(other.problems)

    def as_dict(
        self, limit: int | None = MAX_PROBLEMS_SHOWN, position: str = "line"
    ) -> dict[str, Any]:
        """Return the report as JSON: the counts and the first ``limit`` problems (None:
        all of them), each placed by ``position`` (a file's line, an API item's index)."""
        return {
            "read": self.read,
            "added": self.added,
            "already_there": self.already_there,
            "refused": self.refused,
            "problems": [
                {
                    position: p.line,
                    "code": p.code,
                    "reason": p.reason,
                    "reason_fa": p.reason_fa,
                    **({"order_id": p.key} if p.key else {}),
                }
                for p in self.problems[:limit]
            ],
        }

    def summary_fa(self) -> str:
        """Return the counts in one Persian line."""
        return (
            f"خوانده: {group_thousands(self.read)} | افزوده: {group_thousands(self.added)}"
            f" | از قبل بود: {group_thousands(self.already_there)}"
            f" | رد شده: {group_thousands(self.refused)}"
        )

    def lines_fa(self) -> list[str]:
        """Return one Persian line per refused row, then the summary."""
        return [
            f"سطر {to_persian_digits(str(p.line))}: {p.reason_fa}"
            + (f" (سفارش {p.key})" if p.key else "")
            for p in self.problems
        ] + [self.summary_fa()]


def header_key(text: str) -> str:
    """Return a header cell in the form the column aliases are written in."""
    cleaned = normalize_text(text).lower()
    for char in "_-()[]:":
        cleaned = cleaned.replace(char, " ")
    return " ".join(cleaned.split())


def read_rows(
    stream: IO[bytes], filename: str, columns: Mapping[str, tuple[str, ...]], required: set[str]
) -> Iterator[Row]:
    """Stream the non-blank rows of a CSV (UTF-8) or Excel (.xlsx) file by column name."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix in ("xlsx", "xlsm"):
        raw = _xlsx_rows(stream)
    elif suffix in ("csv", "txt"):
        raw = _csv_rows(stream)
    else:
        raise BadFile(
            f"{filename}: a .csv or .xlsx file is needed",
            fa="فایل باید CSV یا اکسل (xlsx) باشد",
        )
    try:
        header = next(raw, None)
        if header is None:
            raise BadFile(f"{filename}: the file is empty", fa="فایل خالی است")
        where = _columns(header[1], columns, required)
        for line, values in raw:
            if not any(v is not None and str(v).strip() for v in values):
                continue
            cells = {name: values[i] if i < len(values) else None for name, i in where.items()}
            yield Row(line, cells)
    finally:
        raw.close()  # while the caller's stream is still open


def _columns(
    header: list[Any], columns: Mapping[str, tuple[str, ...]], required: set[str]
) -> dict[str, int]:
    keys = [header_key(str(cell or "")) for cell in header]
    if any(word in key for key in keys for word in TOMAN_WORDS):
        raise BadFile(
            "a column is in Toman; amounts must be in Rials",
            fa="ستونی به تومان است؛ مبلغ‌ها باید به ریال باشند",
        )
    where: dict[str, int] = {}
    for name, aliases in columns.items():
        for i, key in enumerate(keys):
            if key == name or key in aliases:
                where.setdefault(name, i)
    missing = sorted(required - where.keys())
    if missing:
        names_fa = "، ".join(columns[name][0] for name in missing)
        raise BadFile(
            f"missing column(s): {', '.join(missing)}",
            fa=f"ستون لازم در سطر اول نیست: {names_fa}",
        )
    return where


def _csv_rows(stream: IO[bytes]) -> Lines:
    line = 0
    try:
        for line, values in enumerate(csv.reader(_decoded(stream)), start=1):
            yield line, values
    except csv.Error as exc:
        raise BadFile(
            f"line {line + 1}: {exc}", fa=f"سطر {to_persian_digits(str(line + 1))}: CSV خراب است"
        ) from exc


def _decoded(stream: IO[bytes]) -> Iterator[str]:
    """Decode the file line by line, so a line that is not UTF-8 is named (Excel on
    Windows may save Persian as Windows-1256)."""
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadFile(
                f"line {number}: not UTF-8 text ({exc.reason})",
                fa=f"سطر {to_persian_digits(str(number))}: فایل را با کدگذاری UTF-8 ذخیره کنید",
            ) from exc
        yield text.removeprefix("\ufeff") if number == 1 else text


def _xlsx_rows(stream: IO[bytes]) -> Lines:
    from openpyxl import load_workbook

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadFile(f"not an Excel file: {exc}", fa="فایل اکسل (xlsx) قابل خواندن نیست") from exc
    line = 0
    try:
        # A read-only sheet yields every row from the first, blank ones too (gaps filled).
        for line, values in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
            yield line, list(values)
    except (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError) as exc:
        # The sheet is parsed as it is read: a damaged one fails here, not at the load
        # (SyntaxError: the XML parsers' errors, ElementTree's and lxml's).
        raise BadFile(
            f"Excel sheet unreadable after line {line}: {exc}",
            fa="فایل اکسل (xlsx) قابل خواندن نیست",
        ) from exc
    finally:
        book.close()


def chunks(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """Yield the items in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def write_chunk(
    engine: sa.Engine,
    items: Sequence[T],
    write: Callable[[sa.Connection, Sequence[T], Report], None],
    report: Report,
    line_of: Callable[[T], int],
) -> None:
    """Write checked items in one transaction. If it fails on a uniqueness clash (another
    import or a terminal stored the same thing meanwhile), write them one at a time, so
    only the clashing ones are refused and nothing is stored half-way."""
    pending = Report(report.kind)
    try:
        with engine.begin() as conn:
            write(conn, items, pending)
    except sa.exc.IntegrityError:
        for item in items:
            single = Report(report.kind)
            try:
                with engine.begin() as conn:
                    write(conn, [item], single)
            except sa.exc.IntegrityError:
                single = Report(report.kind)
                single.refuse(line_of(item), _raced())
            report.merge(single)
        return
    report.merge(pending)


def _raced() -> BadValue:
    return BadValue(
        "conflict",
        "stored meanwhile by another import or a terminal; import the file again",
        "هم‌زمان جای دیگری ثبت شد؛ فایل را دوباره وارد کنید",
    )

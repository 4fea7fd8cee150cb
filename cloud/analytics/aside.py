"""Three of the pass's reads, done by a second process while the pass does the rest.

Members' spend per category (``keptspend.read_spend``: the kept sums, brought up to date
and committed by the pass first, and the lines since), their incentive answers
(``preferences.incentive_rows``) and the KPI grid with the cohorts
(``grid.sales_aggregates``) read only what the pass does not write, and take about as
long as the pass's own work on members. On a server with two cores or more the pass ends
sooner when another process reads them meanwhile: it opens its own connection to the same
database (SQLite in WAL mode lets it read beside the pass's write transaction), reads the
spend first (the pass needs it sooner) and hands back arrays and a few thousand rows. The
grid's points liability is read from the ledger by the pass itself (``points_by_month``,
which keeps the closed months' in the pass's transaction) and added to the rows.

An in-memory SQLite database cannot be shared, and for a small chain starting a process
costs more than it saves: then all is read in the pass's own connection, when needed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import pickle
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from cloud.analytics.grid import Aggregates, add_liability, points_by_month, sales_aggregates
from cloud.analytics.keptspend import read_spend
from cloud.analytics.preferences import Spend, incentive_rows
from cloud.storage import make_engine
from cloud.tables import members

# From how many members the reads are worth a process of their own (starting one and
# importing numpy, SciPy and SQLAlchemy there takes about a second of CPU).
ASIDE_FROM_MEMBERS = 20_000


def shareable(engine: sa.Engine) -> bool:
    """Whether another process can open the same database (a file or a server)."""
    url = engine.url
    return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")


def worth_it(engine: sa.Engine) -> bool:
    """Whether the chain is large enough, and its database shareable, to read aside."""
    if not shareable(engine):
        return False
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(members)).scalar_one()
    return int(count) >= ASIDE_FROM_MEMBERS


class AsideFailed(RuntimeError):
    """The other process failed or died; the pass fails with it (nothing is stored)."""


class Reads:
    """The spend, incentives and grid as of a moment: read aside (``start``) or in place."""

    def __init__(self, process: subprocess.Popen[bytes] | None = None) -> None:
        self._process = process
        self._got: dict[str, Any] = {}
        self._points: dict[tuple[str, str], int] | None = None
        self.aside = process is not None

    @classmethod
    def start(cls, engine: sa.Engine, as_of: dt.datetime) -> Reads:
        """Start reading in another process: ``python -m cloud.analytics.aside``, handed the
        database and the moment on its stdin, answering pickles on its stdout. A process
        of its own rather than multiprocessing's: that would import the caller's main
        script again, and a fork would copy the caller's threads and connections half-way.
        """
        package_root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (package_root, os.environ.get("PYTHONPATH")) if p
            ),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "cloud.analytics.aside"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert process.stdin is not None
        url = engine.url.render_as_string(hide_password=False)
        pickle.dump((url, as_of), process.stdin)
        process.stdin.close()
        return cls(process)

    def spend(self, conn: sa.Connection, as_of: dt.datetime) -> Spend:
        """Return the members' spend per category: the other process's, or read now."""
        return self._answer("spend") if self.aside else read_spend(conn, as_of)

    def incentives(self, conn: sa.Connection, as_of: dt.datetime) -> list[dict[str, Any]]:
        """Return the members' incentive answers: the other process's, or read now."""
        return self._answer("incentives") if self.aside else incentive_rows(conn, as_of)

    def meanwhile(self, conn: sa.Connection, as_of: dt.datetime) -> None:
        """Read the ledger's points per store and month here (the grid's liability), while
        the other process reads, and keep the closed months' for later passes."""
        if self._points is None:
            self._points = points_by_month(conn, as_of, keep=True)

    def grid(self, conn: sa.Connection, as_of: dt.datetime) -> Aggregates:
        """Return the KPI grid and cohorts: the other process's, or counted now."""
        self.meanwhile(conn, as_of)
        if self.aside:
            rows, cohorts = self._answer("grid")
        else:
            rows, cohorts = sales_aggregates(conn, as_of, with_liability=False)
        add_liability(rows, self._points or {})
        return rows, cohorts

    def figures(self) -> dict[str, Any]:
        """Return what the other process measured of itself (CPU and wall seconds per
        read, peak memory), once it has answered; {} when read in place."""
        return self._answer("figures") if self.aside else {}

    def _answer(self, name: str) -> Any:
        assert self._process is not None and self._process.stdout is not None
        while name not in self._got:
            try:
                kind, value = pickle.load(self._process.stdout)
            except EOFError:
                code = self._process.wait()
                raise AsideFailed(f"the analytics reads process died (exit code {code})") from None
            if kind == "error":
                raise AsideFailed(f"the analytics reads process failed:\n{value}")
            self._got[kind] = value
        return self._got.pop(name)

    def close(self) -> None:
        """Stop the other process: it has answered, or the pass failed before it did."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            assert self._process.stdout is not None
            self._process.stdout.close()
            self._process = None


def main() -> None:
    """Read the spend, the incentive answers and the grid, and write each, then the
    figures, as pickles on stdout."""
    url, as_of = pickle.load(sys.stdin.buffer)
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answers
    engine = make_engine(url)
    figures: dict[str, Any] = {}
    gc.disable()  # see run._collector_paused
    # Answers are written by another thread: the pass takes the spend (hundreds of MB) off
    # the pipe only when it needs it, and the grid is counted meanwhile.
    with ThreadPoolExecutor(1) as writer:
        try:
            with engine.connect() as conn:
                with _measured(figures, "spend"):
                    writer.submit(_send, answers, "spend", read_spend(conn, as_of))
                with _measured(figures, "incentives"):
                    writer.submit(_send, answers, "incentives", incentive_rows(conn, as_of))
                with _measured(figures, "grid"):
                    grid = sales_aggregates(conn, as_of, with_liability=False)
                writer.submit(_send, answers, "grid", grid)
            writer.submit(_send, answers, "figures", {**figures, "peak_rss_mb": _peak_kb() // 1024})
        except Exception:
            writer.submit(_send, answers, "error", traceback.format_exc())
        finally:
            engine.dispose()


def _peak_kb() -> int:
    """Return this process's peak resident memory in kB: the address space's high-water
    mark, which starts afresh at exec (``ru_maxrss`` keeps the parent's from the fork)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss, an upper bound
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


@contextlib.contextmanager
def _measured(figures: dict[str, Any], name: str) -> Iterator[None]:
    wall, cpu = time.monotonic(), time.process_time()
    yield
    figures[f"{name}_s"] = round(time.monotonic() - wall, 3)
    figures[f"{name}_cpu_s"] = round(time.process_time() - cpu, 3)


def _send(out: BinaryIO, kind: str, value: Any) -> None:
    pickle.dump((kind, value), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


if __name__ == "__main__":
    main()

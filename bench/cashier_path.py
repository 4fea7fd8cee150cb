"""The cashier path: lookup → rules → durable ledger+outbox commit → receipt image → ESC/POS.

Reference, measured in the same run on the same disk: one bare single-row INSERT committed
with WAL and synchronous=FULL (one fsync'd SQLite commit).
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from agent.config import AgentConfig
from agent.drivers.escpos_printer import compose_receipt
from agent.receipt import render_receipt
from agent.terminal import Terminal
from bench.stats import summary_ms

SALES = 300
MEMBERS = 50


def bare_commit_times(folder: Path, count: int) -> list[float]:
    """Time single-row fsync'd commits on a WAL database."""
    conn = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for index in range(count):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {index}",))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def cashier_times(folder: Path, count: int) -> tuple[list[float], list[float]]:
    """Time the full cashier path and the commit part alone."""
    terminal = Terminal(AgentConfig(data_dir=folder / "terminal"), store_name="فروشگاه ونک")
    mobiles = [f"0912{index:07d}" for index in range(MEMBERS)]
    for index, mobile in enumerate(mobiles):
        terminal.flow.enrol(mobile, f"عضو {index}", consent=True)
    full, commit = [], []
    for index in range(count):
        start = time.perf_counter()
        member = terminal.flow.identify(mobiles[index % MEMBERS])
        sale = terminal.flow.sale(member.id, 250_000 + index * 1_000)
        committed = time.perf_counter()
        image = render_receipt(terminal.receipt_data(sale), terminal.printer_profile.dots)
        compose_receipt(image, terminal.printer_profile, kick_drawer=True)
        done = time.perf_counter()
        full.append(done - start)
        commit.append(committed - start)
    terminal.close()
    return full, commit


def main() -> None:
    """Print the cashier-path figures."""
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        bare = bare_commit_times(folder, SALES)
        full, commit = cashier_times(folder, SALES)
    bare_median = statistics.median(bare)
    print(f"bare fsync'd commit:            {summary_ms(bare)}")
    print(f"lookup+rules+commit:            {summary_ms(commit)}")
    print(f"full path incl. receipt+ESC/POS: {summary_ms(full)}")
    print(f"ratio full/bare (median):       {statistics.median(full) / bare_median:.1f}x")
    print(f"ratio commit/bare (median):     {statistics.median(commit) / bare_median:.1f}x")
    print(f"sales per second (commit only): {1 / statistics.median(commit):.0f}")


if __name__ == "__main__":
    main()

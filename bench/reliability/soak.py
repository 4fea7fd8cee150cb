"""The agent through tens of thousands of sales with its memory sampled.

Runs in a fresh interpreter so the figures are the agent's alone: each sale goes through
the cashier path and its receipt is rendered, composed into ESC/POS bytes and written
through python-escpos's File backend (to /dev/null), as at the counter; resident memory
is read from /proc every thousand sales.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHILD = """
import json, os, sys
from pathlib import Path
from agent.config import AgentConfig
from agent.terminal import Terminal

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

folder, sales = Path(sys.argv[1]), int(sys.argv[2])
# A printer file that keeps nothing: the in-memory simulator keeps every receipt it gets.
config = AgentConfig(data_dir=folder, printer_transport="file", printer_target="/dev/null")
terminal = Terminal(config)
members = [terminal.flow.enrol(f"0912400{n:04d}", f"عضو {n}", consent=True).id for n in range(50)]
samples = [(0, rss_mb())]
for n in range(1, sales + 1):
    sale = terminal.flow.sale(members[n % 50], 100_000 + n)
    terminal.print_receipt(sale)
    if n % 1000 == 0:
        samples.append((n, rss_mb()))
print(json.dumps(samples))
"""


@dataclass
class SoakReport:
    """Memory over the run, in MiB."""

    sales: int
    start_mb: float
    after_first_thousand_mb: float
    end_mb: float
    peak_mb: float
    growth_after_warmup_mb: float
    samples: list[tuple[int, float]]


def run(folder: Path, sales: int) -> SoakReport:
    """Sell ``sales`` times in a fresh process; return the memory samples."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder / "terminal"), str(sales)],
        check=True,
        capture_output=True,
        text=True,
    )
    samples = [(int(n), float(mb)) for n, mb in json.loads(done.stdout.strip().splitlines()[-1])]
    warm = samples[1][1]
    return SoakReport(
        sales=sales,
        start_mb=samples[0][1],
        after_first_thousand_mb=warm,
        end_mb=samples[-1][1],
        peak_mb=max(mb for _, mb in samples),
        growth_after_warmup_mb=samples[-1][1] - warm,
        samples=samples,
    )

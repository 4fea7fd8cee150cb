"""The store owner's pages on the terminal: p50/p95 per page over a busy month.

A terminal's ledger is filled through the real cashier flow (``CashierFlow.sale`` with a
clock walking back over 30 Tehran days, a refund in fifty), then each owner page is asked
through Flask's test client as a signed-in owner. The figures say whether the pages stay
quick on the terminal's own small CPU when a store sells about 330 times a day for a month.

Usage: ``python -m bench.owner_pages [SALES] [REQUESTS]`` (default 10,000 and 20).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent.config import AgentConfig
from agent.terminal import Terminal
from agent.web.app import create_app, set_owner_password
from bench.stats import percentile
from common.persian import TEHRAN, jalali_date

SALES = 10_000
REQUESTS = 20
DAYS = 30
MEMBERS = 200
PASSWORD = "bench-owner-1405"


def fill(terminal: Terminal, sales: int) -> float:
    """Enrol members and record ``sales`` sales over the last 30 days; return the seconds."""
    flow = terminal.flow
    today = dt.datetime.now(TEHRAN).date()
    started = time.perf_counter()
    ids = [flow.enrol(f"0912{n:07d}", f"عضو {n}", n % 2 == 0).id for n in range(MEMBERS)]
    for n in range(sales):
        day = today - dt.timedelta(days=DAYS - 1 - n * DAYS // sales)
        moment = dt.datetime.combine(day, dt.time(9), TEHRAN) + dt.timedelta(seconds=n % 40_000)
        flow.clock = lambda moment=moment: moment  # type: ignore[misc]
        sale = flow.sale(ids[n % MEMBERS], 100_000 + 1_000 * (n % 500))
        if n % 50 == 49:
            flow.refund(sale.sale_id)
    return time.perf_counter() - started


def main() -> None:
    """Fill a terminal, then time every owner page."""
    sales = int(sys.argv[1]) if len(sys.argv) > 1 else SALES
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else REQUESTS
    with tempfile.TemporaryDirectory() as tmp:
        terminal = Terminal(AgentConfig(data_dir=Path(tmp), printer_transport="memory"))
        seconds = fill(terminal, sales)
        print(f"filled {sales:,} sales for {MEMBERS} members in {seconds:.1f} s")
        set_owner_password(terminal, PASSWORD)
        client = create_app(terminal, {"TESTING": True}).test_client()
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(True))
        assert token is not None
        client.post("/login", data={"password": PASSWORD, "csrf": token.group(1)})
        yesterday = jalali_date(dt.datetime.now(TEHRAN) - dt.timedelta(days=1))
        pages = [
            "/",
            "/owner/week",
            "/owner/sales",
            f"/owner/sales?day={yesterday}&page=3",
            "/owner/members?q=09120000007",
            f"/owner/report?day={yesterday}",
            "/owner/sync",
            "/receipts/",
        ]
        for path in pages:
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, (path, response.status_code)
            p50, p95 = statistics.median(samples) * 1000, percentile(samples, 95) * 1000
            print(f"{path:40s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        terminal.close()


if __name__ == "__main__":
    main()

"""Kill -9 during a stream of sales: no confirmed sale is lost or counted twice.

GIVEN a terminal process selling as fast as it can and printing each sale id only after
its commit returned, WHEN it is killed with SIGKILL at a random moment, 200 times over,
THEN after every restart each confirmed sale is in the ledger exactly once, the outbox
sequence has no gap, and ``ledger verify`` finds nothing wrong.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import time
from pathlib import Path

from agent.config import AgentConfig
from agent.ledger import book
from agent.terminal import Terminal

KILLS = 200


def _sell_forever(config: AgentConfig, member_id: str, write_fd: int) -> None:
    """Child process: sell in a loop; report each sale id only after it committed."""
    terminal = Terminal(config)
    os.write(write_fd, b"up\n")  # booted: the random kill window starts now
    amount = 100_000
    while True:
        sale = terminal.flow.sale(member_id, amount)
        os.write(write_fd, f"{sale.sale_id}\n".encode())
        amount += 10_000


def _run_child_until_killed(config: AgentConfig, member_id: str, rng: random.Random) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        os.close(read_fd)
        try:
            _sell_forever(config, member_id, write_fd)
        finally:
            os._exit(1)
    os.close(write_fd)
    confirmed = bytearray()
    if rng.random() < 0.9:  # most kills land among the sales, the rest during the boot
        confirmed += _read_until(read_fd, time.monotonic() + 60.0, b"up\n")
    confirmed += _read_until(read_fd, time.monotonic() + rng.uniform(0.0, 0.08))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 65536):
        confirmed += chunk
    os.close(read_fd)
    # A line cut by the kill was never a confirmation.
    return [line for line in confirmed.decode().split("\n")[:-1] if len(line) == 32]


def _read_until(read_fd: int, deadline: float, marker: bytes | None = None) -> bytes:
    """Read what the child wrote until ``marker`` came (or the pipe closed) or ``deadline``."""
    data = bytearray()
    while time.monotonic() < deadline and (marker is None or marker not in data):
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    return bytes(data)


def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config = AgentConfig(data_dir=tmp_path / "terminal")
    setup = Terminal(config)
    member_id = setup.flow.enrol("09123456789", "زهرا محمدی", consent=True).id
    setup.close()
    rng = random.Random(20261122)
    confirmed: list[str] = []
    for _ in range(KILLS):
        confirmed += _run_child_until_killed(config, member_id, rng)
        terminal = Terminal(config)  # boot: integrity check and migrations run again
        try:
            _check_invariants(terminal.conn, confirmed)
        finally:
            terminal.close()
    assert len(confirmed) > KILLS  # the test did sell while being killed


def _check_invariants(conn: sqlite3.Connection, confirmed: list[str]) -> None:
    stored = {row[0] for row in conn.execute("SELECT id FROM sales")}
    missing = [sale_id for sale_id in confirmed if sale_id not in stored]
    assert not missing, f"confirmed sales lost: {missing[:3]}"
    assert len(confirmed) == len(set(confirmed))
    assert book.verify(conn) == []
    seqs = [row[0] for row in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)), "outbox sequence has a gap"
    (sales,) = conn.execute("SELECT COUNT(*) FROM sales").fetchone()
    (events,) = conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'sale.completed'").fetchone()
    assert sales == events, "a sale without its outbox event, or the reverse"

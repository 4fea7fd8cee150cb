"""The till header's device status: asked at most every few seconds, never waiting on a sale."""

from __future__ import annotations

import threading
from typing import Any

from agent.web.cashier import DeviceStatusCache


class CountingTerminal:
    """A terminal stand-in that counts how often the devices are asked."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.asked = 0

    def device_status(self) -> dict[str, Any]:
        self.asked += 1
        return dict(self.status)


READY = {
    "printer_ready": True,
    "printer_known": True,
    "paper_near_end": False,
    "printer_fa": "چاپگر آماده است",
    "drawer_open": False,
    "drawer_fa": "کشوی پول بسته است",
}


def test_the_devices_are_asked_once_per_ttl() -> None:
    now = [0.0]
    cache = DeviceStatusCache(ttl=5.0, clock=lambda: now[0])
    terminal, lock = CountingTerminal(READY), threading.Lock()
    first = cache.get(terminal, lock)  # type: ignore[arg-type]
    assert first == {
        "printer": "ok",
        "printer_fa": "چاپگر آماده است",
        "drawer": "ok",
        "drawer_fa": "کشوی پول بسته است",
    }
    now[0] = 4.9
    cache.get(terminal, lock)  # type: ignore[arg-type]
    assert terminal.asked == 1
    now[0] = 5.0
    terminal.status = {**READY, "paper_near_end": True, "drawer_open": True}
    later = cache.get(terminal, lock)  # type: ignore[arg-type]
    assert terminal.asked == 2
    assert (later["printer"], later["printer_fa"]) == ("warn", "کاغذ چاپگر رو به اتمام است")
    assert later["drawer"] == "warn"


def test_a_sale_holding_the_printer_is_not_waited_for() -> None:
    cache = DeviceStatusCache(ttl=0.0)
    terminal, lock = CountingTerminal(READY), threading.Lock()
    before = cache.get(terminal, lock)  # type: ignore[arg-type]
    with lock:  # a sale is printing
        assert cache.get(terminal, lock) == before  # type: ignore[arg-type]
    assert terminal.asked == 1
    assert not lock.locked()


def test_unknown_and_failing_printers() -> None:
    cache = DeviceStatusCache(ttl=0.0)
    lock = threading.Lock()
    silent = {
        **READY,
        "printer_known": False,
        "printer_fa": "وضعیت چاپگر نامعلوم است",
        "drawer_open": None,
        "drawer_fa": "وضعیت کشو نامعلوم است",
    }
    assert cache.get(CountingTerminal(silent), lock)["printer"] == "unknown"  # type: ignore[arg-type]
    out = {**READY, "printer_ready": False, "printer_fa": "کاغذ چاپگر تمام شده است"}
    assert cache.get(CountingTerminal(out), lock)["printer"] == "bad"  # type: ignore[arg-type]

    class Broken(CountingTerminal):
        def device_status(self) -> dict[str, Any]:
            raise OSError("the printer's socket died mid-answer")

    before = cache.last
    assert cache.get(Broken(READY), lock) == before  # type: ignore[arg-type]
    assert not lock.locked()

"""What the one-time code step adds to an enrolment at the till.

A real cloud on loopback (SQLite, texts to its file provider) and a terminal enrolled with
it over HTTP. Two figures:

1. The till's two server steps, through the till's own Flask app: the form sent without a
   code (the till asks HQ, HQ makes the code, keeps its HMAC and "texts" it) and the form
   sent with the code (HQ checks it, the till enrols the member). Median and slowest per
   step, wall time and this process's CPU time (cloud, till and HTTP all run here).
2. A cashier in Debian's Chromium typing at a key every ``KEY_DELAY_MS`` (as
   ``bench/enrol_form.py``): the whole form, Enter, then the six digits the member reads
   out, Enter; from the first key to the member card.

Usage: ``python -m bench.enrol_code [STEPS] [RUNS]`` (defaults 40 and 3).
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from agent.web.app import create_app
from agent.web.cashier import set_cashier_pin
from bench.enrol_form import KEY_DELAY_MS, PIN
from tests.support.cloud_terminal import cloud_and_terminal
from tests.support.live_server import live_server
from tests.web.test_cashier_web import unlock

FORM = {"name": "سارا احمدی", "birthday": "1370/07/15", "gender": "f", "consent": "yes"}


def _last_code(sms_file: Path) -> str:
    found = re.search(
        r"\b(\d{6})\b", json.loads(sms_file.read_text("utf-8").splitlines()[-1])["text"]
    )
    assert found
    return found.group(1)


def server_steps(folder: Path, steps: int) -> dict[str, list[tuple[float, float]]]:
    """Time the two server steps ``steps`` times; return (wall, cpu) seconds per step."""
    cloud, terminal, sms_file, stack = cloud_and_terminal(folder, "when_online")
    cloud.config["MOBILE_CODE_PER_TERMINAL_HOUR"] = steps + 1
    set_cashier_pin(terminal, "مریم", PIN)
    till = create_app(terminal, {"TESTING": True}).test_client()
    csrf = unlock(till)
    timings: dict[str, list[tuple[float, float]]] = {"send": [], "verify_enrol": []}
    with stack:
        for n in range(steps):
            form = {"csrf": csrf, "mobile": f"0912800{n:04d}", **FORM}
            for step, extra, status in (("send", {}, 200), ("verify_enrol", None, 302)):
                data = {**form, "otp": _last_code(sms_file)} if extra is None else form
                wall, cpu = time.perf_counter(), time.process_time()
                answer = till.post("/cashier/enrol", data=data)
                timings[step].append((time.perf_counter() - wall, time.process_time() - cpu))
                assert answer.status_code == status, answer.get_data(as_text=True)[-300:]
    terminal.close()
    return timings


def keyboard_runs(folder: Path, runs: int) -> list[float]:
    """Enrol ``runs`` members by keyboard through the code step; return seconds each."""
    _cloud, terminal, sms_file, stack = cloud_and_terminal(folder, "when_online")
    set_cashier_pin(terminal, "مریم", PIN)
    times = []
    with stack, live_server(create_app(terminal)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1024, "height": 600}, locale="fa-IR")
        page.goto(base + "/cashier/pin")
        page.locator("#pin").fill(PIN)
        page.locator("#pin").press("Enter")
        for n in range(runs):
            page.goto(base + "/cashier/enrol")
            started = time.monotonic()
            page.keyboard.type(f"0912900{n:04d}", delay=KEY_DELAY_MS)
            for key, text in (("Tab", FORM["name"]), ("Tab", "1370/07/15")):
                page.keyboard.press(key)
                page.keyboard.type(text, delay=KEY_DELAY_MS)
            page.keyboard.press("Enter")  # no code yet: HQ texts one, the code field has focus
            page.wait_for_selector(".notice")
            page.keyboard.type(_last_code(sms_file), delay=KEY_DELAY_MS)
            page.keyboard.press("Enter")
            page.wait_for_selector(".member")
            times.append(time.monotonic() - started)
        browser.close()
    terminal.close()
    return times


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, slowest {max(values) * 1000:.0f} ms"


def main() -> None:
    """Print both figures."""
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        timings = server_steps(Path(tmp) / "steps", steps)
        for step, pairs in timings.items():
            walls, cpus = [w for w, _ in pairs], [c for _, c in pairs]
            print(f"code step {step!r}, {steps} times: wall {_ms(walls)}; CPU {_ms(cpus)}")
        times = keyboard_runs(Path(tmp) / "keyboard", runs)
    print(
        f"enrolment with the code step by keyboard, a key every {KEY_DELAY_MS} ms, {runs} runs:"
        f" median {statistics.median(times):.1f} s, slowest {max(times):.1f} s"
    )


if __name__ == "__main__":
    main()

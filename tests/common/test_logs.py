"""Logs as JSON lines for the journal, or plain lines for a person."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from common.logs import JsonFormatter

CHILD = """
import logging
from common.logs import configure_logging
configure_logging()
log = logging.getLogger("vafa.test")
log.warning("sync offline: %s", "cannot reach", extra={"terminal_id": "t1", "queue": 7})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("printer failed")
"""


def _run(fmt: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={"VAFA_LOG_FORMAT": fmt, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr.strip().splitlines()


def test_json_lines_carry_level_logger_message_extras_and_the_exception() -> None:
    first, second = (json.loads(line) for line in _run("json") if line.startswith("{"))
    assert (first["level"], first["logger"]) == ("warning", "vafa.test")
    assert first["message"] == "sync offline: cannot reach"
    assert (first["terminal_id"], first["queue"]) == ("t1", 7)
    assert first["ts"].endswith("+00:00")
    assert second["message"] == "printer failed"
    assert "ZeroDivisionError" in second["exception"]


def test_plain_lines_by_default() -> None:
    lines = _run("")
    assert "WARNING vafa.test: sync offline: cannot reach" in lines[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_persian_stays_readable_in_json() -> None:
    record = logging.makeLogRecord({"msg": "چاپگر کاغذ ندارد", "levelname": "ERROR"})
    assert "چاپگر کاغذ ندارد" in JsonFormatter().format(record)

"""Logging for both programs: plain lines for a person, or JSON lines for the journal.

``VAFA_LOG_FORMAT=json`` (set by the systemd units) writes one JSON object per record to
stderr, which journald keeps with the unit: time, level, logger, message, the exception
if any, and any ``extra=`` fields, so `journalctl -o cat | jq` can filter on them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from typing import Any

# The attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON object on one line."""
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Send logs to stderr, as JSON if VAFA_LOG_FORMAT=json, else as plain lines."""
    handler = logging.StreamHandler()
    if os.environ.get("VAFA_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not root.handlers:  # like basicConfig: a host that set up logging keeps its own
        root.addHandler(handler)
        root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)

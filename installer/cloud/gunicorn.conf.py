"""gunicorn settings for the Vafa cloud (read by vafa-cloud.service with --config).

Every value comes from the environment (/etc/vafa/cloud.env), so one file serves every site.
Several workers share nothing but the database: sessions must be signed with one
VAFA_CLOUD_SECRET_KEY, or a login made on one worker is refused by the next; this file
refuses to start them without it.
"""

from __future__ import annotations

import os
from typing import Any

workers = int(os.environ.get("VAFA_CLOUD_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
bind = os.environ.get("VAFA_CLOUD_BIND", "127.0.0.1:8400")
timeout = int(os.environ.get("VAFA_CLOUD_TIMEOUT", "120"))
# The reverse proxy on this machine sets X-Forwarded-For/Proto; trust it alone.
forwarded_allow_ips = os.environ.get("VAFA_CLOUD_PROXY_IPS", "127.0.0.1")
accesslog = "-"
# Recycle workers now and then so a slow leak never takes the cloud down.
max_requests = 5000
max_requests_jitter = 500

if workers > 1 and not os.environ.get("VAFA_CLOUD_SECRET_KEY"):
    raise SystemExit(
        "vafa-cloud: set VAFA_CLOUD_SECRET_KEY (e.g. `openssl rand -hex 32`) in "
        "/etc/vafa/cloud.env: each of the several workers would otherwise sign sessions "
        "with a key of its own and HQ logins would fail at random"
    )


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's Prometheus samples (multi-process mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

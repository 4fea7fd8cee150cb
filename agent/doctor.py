"""``vafa-agent doctor``: what a technician checks before a terminal goes into service.

Each check returns a Finding with what it saw (English for logs, Persian for people) and,
when something is wrong, the fix. Nothing here changes the terminal.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from agent import backup
from agent.config import AgentConfig
from agent.errors import IntegrityFailure, NotEnrolled, PrinterError
from agent.identity import IDENTITY_FILE, KEY_FILE, load_identity
from agent.receipt import find_font
from common.protocol import canonical_json
from common.signing import sign_request

Level = Literal["ok", "warn", "fail"]
MIN_FREE_BYTES, LOW_FREE_BYTES = 50 * 2**20, 500 * 2**20
CLOCK_WARN_S, CLOCK_FAIL_S = 120.0, 86_400.0


@dataclass(frozen=True)
class Finding:
    """One check's verdict."""

    check: str
    level: Level
    message: str
    fa: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the finding as JSON-ready text."""
        return asdict(self)


def run_checks(
    config: AgentConfig,
    transport: httpx.BaseTransport | None = None,
    min_free: int = MIN_FREE_BYTES,
) -> list[Finding]:
    """Run every check; never raise."""
    checks: list[Callable[[], Finding | list[Finding]]] = [
        lambda: _data_folder(config.data_dir),
        lambda: _key_file("pii_key", config.key_file),
        lambda: _ledger(config.database),
        lambda: _disk(config.data_dir, min_free),
        _font,
        lambda: _printer(config),
        lambda: _scanner(config),
        lambda: _drawer(config),
        *_cloud(config, transport),
    ]
    found: list[Finding] = []
    for check in checks:
        try:
            result = check()
        except Exception as exc:  # a doctor reports; it never dies half-way
            result = Finding("internal", "fail", f"check crashed: {exc!r}", "خطای بررسی")
        found.extend(result if isinstance(result, list) else [result])
    return found


def _mode_problem(path: Path, want: int) -> str:
    info = path.stat()
    problems = []
    if stat.S_IMODE(info.st_mode) & ~want:
        problems.append(f"mode {stat.S_IMODE(info.st_mode):o}, want {want:o}")
    if info.st_uid != os.geteuid():
        problems.append(f"owner uid {info.st_uid}, not {os.geteuid()}")
    return "; ".join(problems)


def _data_folder(folder: Path) -> Finding:
    if not folder.is_dir():
        return Finding(
            "data_folder",
            "fail",
            f"{folder} does not exist",
            "پوشه داده‌ها وجود ندارد",
            f"run the installer, or: install -d -m 0700 {folder}",
        )
    problem = _mode_problem(folder, 0o700)
    if problem:
        return Finding(
            "data_folder",
            "fail",
            f"{folder}: {problem}",
            "دسترسی پوشه داده‌ها باز است",
            f"chmod 700 {folder} && chown $(id -u) {folder}",
        )
    return Finding("data_folder", "ok", f"{folder} is private", "پوشه داده‌ها امن است")


def _key_file(name: str, path: Path) -> Finding:
    if not path.exists():
        return Finding(
            name,
            "fail",
            f"{path} is missing",
            "فایل کلید پیدا نشد",
            "restore the key from its backup; a new key cannot read existing members",
        )
    problem = _mode_problem(path, 0o600)
    if problem:
        return Finding(
            name,
            "fail",
            f"{path}: {problem}",
            "فایل کلید برای دیگران خواناست",
            f"chmod 600 {path}",
        )
    return Finding(name, "ok", f"{path} is readable by this user only", "کلید امن است")


def _ledger(database: Path) -> Finding:
    if not database.exists():
        return Finding("ledger", "warn", f"{database} not created yet", "دفتر هنوز ساخته نشده")
    try:
        backup.check(database)  # the same integrity check and replay a backup must pass
    except IntegrityFailure as exc:
        return Finding(
            "ledger",
            "fail",
            str(exc)[:300],
            "دفتر امتیازها سالم نیست",
            "stop the agent and restore the last backup: vafa-agent restore --input FILE",
        )
    return Finding("ledger", "ok", "integrity check and ledger replay pass", "دفتر سالم است")


def _disk(folder: Path, min_free: int) -> Finding:
    free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
    text = f"{free / 2**20:,.0f} MiB free for {folder}"
    if free < min_free:
        return Finding("disk", "fail", text, "فضای دیسک تمام شده است", "free disk space")
    if free < max(LOW_FREE_BYTES, min_free):
        return Finding("disk", "warn", text, "فضای دیسک کم است", "free disk space soon")
    return Finding("disk", "ok", text, "فضای دیسک کافی است")


def _font() -> Finding:
    try:
        path = find_font()
    except PrinterError as exc:
        return Finding(
            "font", "fail", str(exc), "قلم فارسی نصب نیست", "apt-get install fonts-farsiweb"
        )
    return Finding("font", "ok", f"Persian font {path}", "قلم فارسی نصب است")


def _device_path(check: str, path: str, what: str, group: str) -> Finding:
    device = Path(path)
    if not device.exists():
        return Finding(
            check,
            "fail",
            f"{what} {path} not found",
            "دستگاه پیدا نشد",
            "plug it in, or fix the path in /etc/vafa/agent.toml",
        )
    if not os.access(device, os.R_OK | os.W_OK):
        return Finding(
            check,
            "fail",
            f"{what} {path}: permission denied",
            "اجازه دسترسی به دستگاه نیست",
            f"add the vafa user to the {group} group (the installer's udev rules do it)",
        )
    return Finding(check, "ok", f"{what} {path} is reachable", "دستگاه در دسترس است")


def _printer(config: AgentConfig) -> Finding:
    transport, target = config.printer_transport, config.printer_target
    if transport == "memory":
        return Finding("printer", "warn", "printer is simulated (memory)", "چاپگر شبیه‌سازی است")
    if transport in ("serial", "file"):
        return _device_path(
            "printer", target, "printer", "lp" if transport == "file" else "dialout"
        )
    if transport == "network":
        host, _, port = target.partition(":")
        try:
            with socket.create_connection((host, int(port or 9100)), timeout=2):
                pass
        except (OSError, ValueError) as exc:
            return Finding(
                "printer",
                "fail",
                f"network printer {target}: {exc}",
                "چاپگر شبکه پاسخ نمی‌دهد",
                "check the printer's power, cable and IP address",
            )
        return Finding("printer", "ok", f"network printer {target} answers", "چاپگر پاسخ می‌دهد")
    return Finding("printer", "ok", f"printer over {transport}", "چاپگر تنظیم شده است")


def _drawer(config: AgentConfig) -> Finding:
    if config.drawer_transport == "printer":
        return Finding("drawer", "ok", "drawer on the printer's kick port", "کشو روی چاپگر است")
    if config.drawer_transport == "none":
        return Finding("drawer", "warn", "no cash drawer configured", "کشوی پول تنظیم نشده")
    if config.drawer_transport != "serial" or not config.drawer_url:
        return Finding(
            "drawer",
            "fail",
            f"drawer_transport {config.drawer_transport!r} with drawer_url"
            f" {config.drawer_url!r} cannot work",
            "تنظیم کشوی پول نادرست است",
            'set drawer_transport to "printer", "serial" (with drawer_url) or "none"',
        )
    if "://" in config.drawer_url:
        return Finding("drawer", "ok", f"drawer at {config.drawer_url}", "کشو تنظیم شده است")
    return _device_path("drawer", config.drawer_url, "drawer", "dialout")


def _scanner(config: AgentConfig) -> Finding:
    url = config.scanner_url
    if not url:
        return Finding("scanner", "warn", "no serial scanner configured", "بارکدخوان تنظیم نشده")
    if "://" in url:
        return Finding("scanner", "ok", f"scanner at {url}", "بارکدخوان تنظیم شده است")
    nodes = [node.strip() for node in url.split(",") if node.strip()]
    # A keyboard-wedge scanner's event nodes belong to the input group, serial ports to dialout.
    group = "input" if any("/input/" in node for node in nodes) else "dialout"
    findings = [_device_path("scanner", node, "scanner", group) for node in nodes]
    return next((f for f in findings if f.level != "ok"), findings[0])


def _cloud(
    config: AgentConfig, transport: httpx.BaseTransport | None
) -> list[Callable[[], Finding | list[Finding]]]:
    try:
        identity = load_identity(config.data_dir)
    except NotEnrolled:
        return [
            lambda: Finding(
                "enrolment",
                "fail",
                f"no {IDENTITY_FILE} in {config.data_dir}",
                "پایانه ثبت نشده است",
                "vafa-agent enroll --cloud URL --code CODE",
            )
        ]
    key = config.data_dir / KEY_FILE
    return [lambda: _key_file("terminal_key", key), lambda: _reach(identity, transport)]


def _reach(identity: Any, transport: httpx.BaseTransport | None) -> list[Finding]:
    body = canonical_json({"events": []})
    path = "/api/v1/sync/events"
    with httpx.Client(base_url=identity.cloud_url, transport=transport, timeout=5.0) as http:
        try:
            health = http.get("/api/v1/health")
            headers = sign_request(
                identity.private_key,
                identity.terminal_id,
                "POST",
                path,
                body,
                now=float(health.headers.get("X-Vafa-Server-Time", time.time())),
            )
            answer = http.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return [
                Finding(
                    "cloud",
                    "fail",
                    f"cannot reach {identity.cloud_url}: {exc!r}",
                    "سرور در دسترس نیست",
                    "check the network, DNS and the cloud URL",
                )
            ]
    skew = time.time() - float(health.headers.get("X-Vafa-Server-Time", time.time()))
    return [_enrolment(identity.cloud_url, answer), _clock(skew)]


def _enrolment(cloud_url: str, answer: httpx.Response) -> Finding:
    if answer.status_code in (401, 403):
        return Finding(
            "cloud",
            "fail",
            f"the cloud refuses this terminal ({answer.status_code}: {answer.text[:120]})",
            "سرور این پایانه را نمی‌پذیرد",
            "ask HQ for a new code and run vafa-agent enroll again",
        )
    if answer.status_code != 200:
        return Finding(
            "cloud",
            "fail",
            f"the cloud answered {answer.status_code}",
            "پاسخ سرور نادرست است",
            "try again later; tell HQ if it lasts",
        )
    return Finding("cloud", "ok", f"enrolled at {cloud_url}", "اتصال به سرور برقرار است")


def _clock(skew: float) -> Finding:
    if abs(skew) > CLOCK_WARN_S:
        level: Level = "fail" if abs(skew) > CLOCK_FAIL_S else "warn"
        return Finding(
            "clock",
            level,
            f"terminal clock is {skew:+.0f} s from the cloud's",
            "ساعت پایانه نادرست است",
            "enable NTP: timedatectl set-ntp true",
        )
    return Finding("clock", "ok", f"clock within {abs(skew):.0f} s of the cloud's", "ساعت درست است")

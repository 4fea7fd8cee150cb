"""``vafa-agent run``: the long-running terminal service.

Serves the local web page with waitress and drains the outbox in the background when the
terminal is enrolled; a scanner thread feeds each scan to the cashier screen (polled by it);
a device thread notices devices plugged in and out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from waitress import serve as waitress_serve

from agent.drivers.discovery import DeviceWatcher, discover
from agent.drivers.profiles import ScannerProfile, load_profile, load_profiles
from agent.drivers.reconnect import ReconnectingScanner
from agent.drivers.registry import open_scanner
from agent.errors import NotEnrolled, ProfileError
from agent.identity import load_identity
from agent.ledger import db
from agent.metrics import start_metrics
from agent.offline_queue.poller import SyncPoller
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal
from agent.web.app import create_app
from agent.web.cashier import ScanFeed

log = logging.getLogger(__name__)


def start_sync(terminal: Terminal) -> SyncPoller | None:
    """Start the background drain if this terminal is enrolled; return the poller."""
    try:
        identity = load_identity(terminal.config.data_dir)
    except NotEnrolled as exc:
        log.warning("not syncing: %s", exc)
        return None
    # The poller gets a connection of its own: sqlite3 connections are not shared by threads.
    poller = SyncPoller(
        db.connect(terminal.config.database, check_integrity=False),
        terminal.vault,
        SyncClient(identity),
        terminal.config.sync_interval_s,
    )
    poller.on_rules_changed = terminal.refresh_rules
    poller.start()
    return poller


def should_grab(setting: str, profile: ScannerProfile, url: str, root: Path = Path("/")) -> bool:
    """Decide whether to grab a keyboard-wedge scanner's keys for the agent alone.

    A grabbed device types into nothing else, so a keyboard wrongly taken for a scanner would
    go dead: "auto" grabs only when every configured node belongs to a USB device whose ids
    match the scanner's profile (a generic profile has none, so it is never grabbed on its
    own); "yes" is the technician's explicit word; "no" never grabs (the scans then also
    type into the focused field, which the cashier screen tolerates).
    """
    if setting in ("yes", "no"):
        return setting == "yes"
    if setting != "auto":
        raise ProfileError(f"scanner_grab must be auto, yes or no, not {setting!r}")
    nodes = {Path(p.strip()).resolve() for p in url.split(",") if p.strip()}
    confirmed = {
        Path(device.node).resolve()
        for device in discover(root, load_profiles())
        if device.role == "input" and profile.name in device.profiles
    }
    grab = bool(nodes) and nodes <= confirmed
    if not grab:
        log.info("not grabbing scanner %s: its USB ids do not confirm %s", url, profile.name)
    return grab


def start_scanner(terminal: Terminal, feed: ScanFeed, stop: threading.Event) -> bool:
    """Read the scanner (serial, or keyboard-wedge through evdev) in a thread and push each
    scan to the cashier screen."""
    config = terminal.config
    if not config.scanner_url:
        return False
    profile = load_profile(config.scanner_profile)
    if not isinstance(profile, ScannerProfile):
        raise ProfileError(f"{config.scanner_profile} is not a scanner profile")

    grab = profile.type == "hid" and should_grab(config.scanner_grab, profile, config.scanner_url)

    def read_loop() -> None:
        # Unplugs are reopened with backoff (never a busy loop); stop.wait ends a wait early.
        scanner = ReconnectingScanner(
            lambda: open_scanner(profile, config.scanner_url, grab),
            name=f"scanner {config.scanner_url}",
            sleep=stop.wait,
        )
        while not stop.is_set():
            code = scanner.read(timeout=0.5)
            if code:
                feed.push(code)
        scanner.close()

    threading.Thread(target=read_loop, name="vafa-scanner", daemon=True).start()
    return True


def start_device_watcher(
    terminal: Terminal, stop: threading.Event, root: Path = Path("/"), interval_s: float = 2.0
) -> threading.Thread:
    """Watch for devices plugged in and out (sysfs under ``root``) every ``interval_s``.

    Plugs and unplugs (debounced by DeviceWatcher) are logged and handed to the terminal,
    which reopens a returning printer before its next job; the scanner thread reopens its
    own port. A failed look at sysfs is logged and tried again, never fatal.
    """
    profiles = load_profiles()
    watcher = DeviceWatcher(lambda: discover(root, profiles))

    def watch() -> None:
        while True:
            try:
                added, removed = watcher.poll()
            except OSError as exc:
                log.warning("device discovery failed: %s", exc)
            else:
                for device in added:
                    log.info(
                        "device plugged in: %s at %s (%s)",
                        device.key,
                        device.node,
                        ", ".join(device.profiles) or "no matching profile",
                    )
                if added or removed:
                    terminal.devices_changed(list(watcher.present.values()), added, removed)
            if stop.wait(interval_s):
                return

    thread = threading.Thread(target=watch, name="vafa-devices", daemon=True)
    thread.start()
    return thread


def sd_notify(state: str) -> bool:
    """Send a state line to systemd over NOTIFY_SOCKET; return whether one was sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)
    return True


def _sync_thread_alive() -> bool:
    return any(t.name == "vafa-sync" and t.is_alive() for t in threading.enumerate())


def start_watchdog(poller: SyncPoller | None, stop: threading.Event) -> threading.Thread | None:
    """Ping systemd's watchdog at half its interval while the sync loop is alive."""
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    if usec <= 0:
        return None

    def beat() -> None:
        while not stop.wait(usec / 2_000_000):
            # A dead sync thread stops the pings, so systemd restarts the agent.
            if poller is None or _sync_thread_alive():
                sd_notify("WATCHDOG=1")

    thread = threading.Thread(target=beat, name="vafa-watchdog", daemon=True)
    thread.start()
    return thread


def serve(terminal: Terminal) -> None:
    """Run the web page and background sync until interrupted."""
    poller = start_sync(terminal)
    config = terminal.config
    metrics = start_metrics(config.web_host, config.metrics_port, config.database, poller)
    stop = threading.Event()
    start_watchdog(poller, stop)
    scans = ScanFeed()
    start_scanner(terminal, scans, stop)
    start_device_watcher(terminal, stop)
    sd_notify("READY=1")
    log.info("owner page on http://%s:%d/", config.web_host, config.web_port)
    try:
        waitress_serve(
            create_app(terminal, scans=scans), host=config.web_host, port=config.web_port, threads=4
        )
    finally:
        stop.set()
        if poller is not None:
            poller.stop()
        if metrics is not None:
            metrics.shutdown()

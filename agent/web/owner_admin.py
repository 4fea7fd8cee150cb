"""The store owner's terminal pages: device health, sync status, settings, cashier PINs.

Every page needs the owner's login and every POST its CSRF token; a refused change stores
nothing and shows the form again with a Persian error.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from agent import cashier_pins, store_settings
from agent.errors import NotEnrolled
from agent.identity import load_identity
from agent.offline_queue import outbox
from agent.offline_queue import status as sync_status
from agent.terminal import Terminal
from common.errors import VafaError
from common.persian import jalali_datetime
from common.webauth import check_csrf

log = logging.getLogger(__name__)
bp = Blueprint("owner_admin", __name__, url_prefix="/owner")
DEVICE_FIELDS = ("printer_", "scanner_", "drawer_")


@bp.before_request
def _owner_only() -> Response | None:
    if not session.get("owner"):
        return redirect(url_for("login"))
    return None


def _terminal() -> Terminal:
    terminal: Terminal = current_app.extensions["vafa_terminal"]
    return terminal


@bp.get("/devices")
def devices() -> str:
    """Show what the printer and drawer report now, and how the devices are configured."""
    terminal = _terminal()
    try:
        with current_app.extensions["vafa_flow_lock"]:
            health: dict[str, Any] | None = terminal.device_status()
    except (VafaError, OSError) as exc:  # the page says it could not ask; it never breaks
        log.warning("device status failed: %s", exc)
        health = None
    config = {
        k: v for k, v in dataclasses.asdict(terminal.config).items() if k.startswith(DEVICE_FIELDS)
    }
    profile = terminal.printer_profile
    return render_template("owner_devices.html", health=health, config=config, profile=profile)


@bp.get("/sync")
def sync() -> str:
    """Show the queue to HQ and when a push and a pull last succeeded."""
    terminal = _terminal()
    state = sync_status.read(terminal.conn)
    try:
        identity = load_identity(terminal.config.data_dir)
        enrolled = {"terminal_id": identity.terminal_id, "cloud_url": identity.cloud_url}
    except NotEnrolled:
        enrolled = {}

    def when(moment: Any) -> str:
        return jalali_datetime(moment) if moment else "هرگز"

    return render_template(
        "owner_sync.html",
        depth=outbox.depth(terminal.conn),
        oldest=when(state.oldest_pending) if state.oldest_pending else "",
        last_push=when(state.last_push),
        last_pull=when(state.last_pull),
        last_error=state.last_error,
        last_error_at=when(state.last_error_at) if state.last_error_at else "",
        enrolled=enrolled,
    )


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Response | tuple[str, int]:
    """Change the printer model, the drawer pulse and Toman or Rial."""
    terminal = _terminal()
    error, status = "", 200
    if request.method == "POST":
        check_csrf()
        form = {k: request.form.get(k, "") for k in ("money_unit", "printer_profile")}
        form.update({k: request.form.get(k, "") for k in ("drawer_on_ms", "drawer_off_ms")})
        try:
            chosen = store_settings.parse(form)
            with current_app.extensions["vafa_flow_lock"]:
                store_settings.apply(terminal, chosen)  # a printer that will not open: refused
                store_settings.save(terminal.conn, chosen)
        except VafaError as exc:
            log.info("settings refused: %s", exc)
            error, status = exc.fa, 400
        else:
            return redirect(url_for("owner_admin.settings", saved=1))
        shown: dict[str, Any] = form
    else:
        shown = dataclasses.asdict(store_settings.current(terminal))
    return render_template(
        "owner_settings.html",
        form=shown,
        profiles=store_settings.printer_profiles(),
        units=store_settings.UNITS,
        error=error,
        saved=request.args.get("saved") == "1",
    ), status


@bp.route("/cashiers", methods=["GET", "POST"])
def cashiers() -> Response | tuple[str, int]:
    """Add, rename, give a new PIN to, disable or enable a cashier."""
    terminal = _terminal()
    error, status = "", 200
    if request.method == "POST":
        check_csrf()
        try:
            with current_app.extensions["vafa_flow_lock"]:
                done = _cashier_action(terminal, request.form)
        except VafaError as exc:
            log.info("cashier change refused: %s", exc)
            error, status = exc.fa, 400
        else:
            return redirect(url_for("owner_admin.cashiers", done=done))
    return render_template(
        "owner_cashiers.html",
        cashiers=cashier_pins.cashiers(terminal.conn),
        error=error,
        done=request.args.get("done", ""),
        typed_name=request.form.get("name", "") if error else "",
    ), status


def _cashier_action(terminal: Terminal, form: Any) -> str:
    """Do the one change the form asks for; return its name for the confirmation."""
    action, name = str(form.get("action", "")), str(form.get("cashier", ""))
    if action == "add":
        cashier_pins.add(terminal, form.get("name", ""), form.get("pin", ""))
    elif action == "rename":
        cashier_pins.rename(terminal.conn, name, form.get("new_name", ""))
    elif action == "pin":
        cashier_pins.new_pin(terminal, name, form.get("pin", ""))
    elif action in ("disable", "enable"):
        cashier_pins.set_active(terminal.conn, name, action == "enable")
    else:
        raise VafaError(f"unknown cashier action {action[:20]!r}", fa="درخواست نامعتبر است")
    return action


def init_app(app: Flask) -> None:
    """Attach the owner's terminal pages to the local web app."""
    app.register_blueprint(bp)

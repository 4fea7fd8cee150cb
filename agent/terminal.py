"""One terminal, assembled from its configuration: database, vault, cashier flow, devices.

The entry points (CLI, local web, demo) build a ``Terminal`` once and call it; nothing
below here reads configuration on its own.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from agent.config import AgentConfig
from agent.drivers.base import Drawer, Printer
from agent.drivers.discovery import FoundDevice
from agent.drivers.escpos_printer import PrinterDrawer, compose_receipt, open_printer
from agent.drivers.printer_status import PrinterNotReady
from agent.drivers.profiles import PrinterProfile, load_profile
from agent.drivers.serial_drawer import NoDrawer, ReopeningSerialDrawer, SerialDrawerSettings
from agent.errors import DrawerError, InputError, NotEnrolled, PrinterError, ProfileError
from agent.flow import CashierFlow, SaleResult
from agent.identity import load_identity
from agent.ledger import db
from agent.ledger.db import write_transaction
from agent.offline_queue.pull import load_rules
from agent.receipt import ReceiptData, render_receipt
from agent.rules import TIER_LABELS
from common.mobile import mask_mobile
from common.persian import MoneyUnit, now_tehran
from common.pii import PiiVault, load_or_create_key
from common.tokens import feedback_link

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintedReceipt:
    """A receipt as it went to the printer."""

    job_id: str
    escpos: bytes
    printed: bool  # False when this job had already been printed before


_DRAWER_FA: dict[bool | None, str] = {
    True: "کشوی پول باز است",
    False: "کشوی پول بسته است",
    None: "وضعیت کشو نامعلوم است",
}


def open_drawer(config: AgentConfig, printer: Printer, profile: PrinterProfile) -> Drawer:
    """Return the drawer the configuration names: on the printer's kick port, on a serial
    port of its own (opened when first used, reopened after an unplug), or none."""
    if config.drawer_transport == "printer":
        return PrinterDrawer(printer, profile)
    if config.drawer_transport == "serial":
        if not config.drawer_url:
            raise InputError("drawer_transport is serial but drawer_url is empty")
        try:
            settings = SerialDrawerSettings(
                sensor_line=config.drawer_sensor_line,
                open_when_high=config.drawer_open_when_high,
            )
        except ValueError as exc:
            raise InputError(f"drawer_sensor_line: {exc}") from exc
        return ReopeningSerialDrawer(config.drawer_url, settings)
    if config.drawer_transport == "none":
        return NoDrawer()
    raise InputError(f"unknown drawer_transport {config.drawer_transport!r}")


class Terminal:
    """The terminal's moving parts, wired together."""

    def __init__(self, config: AgentConfig, store_name: str = "") -> None:
        self.config = config
        self.conn: sqlite3.Connection = db.connect(config.database)
        self.vault = PiiVault(load_or_create_key(config.key_file))
        self.flow = CashierFlow(self.conn, self.vault, load_rules(self.conn))
        self.store_name = store_name or "فروشگاه"
        profile = load_profile(config.printer_profile)
        if not isinstance(profile, PrinterProfile):
            raise ProfileError(f"{config.printer_profile} is not a printer profile")
        self.printer_profile = profile
        self.printer = open_printer(
            profile, config.printer_transport, config.printer_target, config.printer_timeout_s
        )
        self.drawer = open_drawer(config, self.printer, profile)
        self.devices: list[FoundDevice] = []  # what the device watcher last saw plugged in

    def devices_changed(
        self, present: list[FoundDevice], added: list[FoundDevice], removed: list[FoundDevice]
    ) -> None:
        """Hear the device watcher: keep what is plugged in, and when the printer comes back
        (a USB printer, or the node or port it is configured on) open it afresh."""
        self.devices = present
        target = self.config.printer_target
        for device in added:
            if device.role == "printer" or (target and device.node == target):
                self.printer.replugged()
        for device in removed:
            log.warning("device unplugged: %s (%s)", device.key, device.node)

    def device_status(self) -> dict[str, Any]:
        """Say how the printer and the drawer are, in English and Persian, for the cashier."""
        status = self.printer.status()
        if isinstance(self.drawer, PrinterDrawer):
            drawer_open = status.drawer_open  # read in the same DLE EOT 1 answer (bit 2)
        else:
            drawer_open = self.drawer.is_open()  # its own line, or None without a sensor
        return {
            "printer_ready": status.ready,
            "printer_known": status.known,
            "printer_problems": list(status.problems),
            "printer": str(status),
            "printer_fa": status.fa,
            "paper_near_end": bool(status.paper_near_end),
            "drawer_open": drawer_open,
            "drawer_fa": _DRAWER_FA[drawer_open],
            "devices": [device.to_dict() for device in self.devices],
        }

    def refresh_rules(self) -> None:
        """Use the earning rules last pulled from the cloud."""
        self.flow.rules = load_rules(self.conn)

    def _feedback_url(self, sale: SaleResult) -> str:
        """Return the receipt QR's signed link to the feedback page ('' if not enrolled)."""
        if not self.config.feedback_base_url:
            return ""
        try:
            identity = load_identity(self.config.data_dir)
        except NotEnrolled:
            return ""
        return feedback_link(
            self.config.feedback_base_url,
            identity.private_key,
            identity.terminal_id,
            sale.sale_id,
            sale.moment,
        )

    def receipt_data(self, sale: SaleResult) -> ReceiptData:
        """Collect what the receipt of a sale shows."""
        unit: MoneyUnit = "rial" if self.config.money_unit == "rial" else "toman"
        feedback = self._feedback_url(sale)
        return ReceiptData(
            store_name=self.store_name,
            receipt_no=sale.receipt_no,
            moment=sale.moment,
            member_name=sale.member.name,
            masked_mobile=mask_mobile(sale.member.mobile),
            tier_label=TIER_LABELS.get(sale.member.tier, sale.member.tier),
            amount_rial=sale.amount_rial,
            points_earned=sale.points_earned,
            points_redeemed=sale.points_redeemed,
            balance=sale.balance,
            unit=unit,
            feedback_url=feedback,
        )

    def print_receipt(self, sale: SaleResult, kick_drawer: bool = True) -> PrintedReceipt:
        """Print a sale's receipt once: a retry with the same sale never prints twice.

        A drawer on the printer's kick port opens with the receipt's own bytes; a drawer of
        its own is kicked once the receipt is printed (a drawer that fails to open does not
        undo the print: the cashier opens it with the button)."""
        through_printer = kick_drawer and isinstance(self.drawer, PrinterDrawer)
        job_id = sale.sale_id
        row = self.conn.execute(
            "SELECT escpos, printed_at FROM receipts WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is not None and row["printed_at"]:
            return PrintedReceipt(job_id, bytes(row["escpos"]), printed=False)
        if row is None:
            image = render_receipt(self.receipt_data(sale), self.printer_profile.dots)
            data = compose_receipt(image, self.printer_profile, through_printer)
            with write_transaction(self.conn):
                self.conn.execute(
                    "INSERT INTO receipts (job_id, sale_id, escpos) VALUES (?, ?, ?)",
                    (job_id, sale.sale_id, data),
                )
        else:
            data = bytes(row["escpos"])
        status = self.printer.status()  # unknown (silent, failed) never stops the print
        if not status.ready:
            raise PrinterNotReady(status)
        self.printer.send(data)
        with write_transaction(self.conn):
            self.conn.execute(
                "UPDATE receipts SET printed_at = ? WHERE job_id = ?",
                (now_tehran().isoformat(), job_id),
            )
        if kick_drawer and not through_printer and not isinstance(self.drawer, NoDrawer):
            try:
                self.drawer.kick()
            except DrawerError as exc:
                log.warning("receipt %s printed but the drawer did not open: %s", job_id, exc)
        return PrintedReceipt(job_id, data, printed=True)

    def close(self) -> None:
        """Release the devices and the database."""
        with contextlib.suppress(PrinterError):
            self.printer.close()
        self.drawer.close()
        self.conn.close()

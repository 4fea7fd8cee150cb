"""``vafa-agent``: the terminal agent's commands."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import AgentConfig, load_config
from agent.errors import AgentError, InputError, IntegrityFailure
from agent.ledger import book
from common.errors import VafaError
from common.logs import configure_logging
from common.referral import referral_code

if TYPE_CHECKING:
    from agent.terminal import Terminal


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and option."""
    parser = argparse.ArgumentParser(prog="vafa-agent", description="Vafa checkout terminal agent.")
    parser.add_argument("--config", type=Path, help="settings file (default /etc/vafa/agent.toml)")
    parser.add_argument("--data-dir", type=Path, help="data folder (default /var/lib/vafa)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="run the terminal: local web page, scanner and background sync")

    enroll = sub.add_parser("enroll", help="enrol this terminal with HQ using a one-time code")
    enroll.add_argument("--cloud", required=True, help="cloud base URL, e.g. https://vafa.example")
    enroll.add_argument("--code", required=True, help="one-time enrolment code from HQ")

    member = sub.add_parser("member", help="manage members").add_subparsers(
        dest="member_command", required=True, metavar="ACTION"
    )
    add = member.add_parser("add", help="enrol a new member")
    add.add_argument("--mobile", required=True, help="mobile in any form: 0912…, +98912…, ۰۹۱۲…")
    add.add_argument("--name", required=True, help="full name")
    add.add_argument("--consent", action="store_true", help="the member agreed to marketing SMS")
    add.add_argument(
        "--birthday", help="Jalali birth date YYYY-MM-DD or MM-DD, e.g. 1370-09-03 or 09-03"
    )
    add.add_argument("--referral", help="a friend's referral code, e.g. R-7KQ2M9XH")
    add.add_argument("--gender", choices=("f", "m"), help="f or m (optional)")
    add.add_argument("--province", help="province as common/iran_places.toml writes it")
    add.add_argument("--city", help="city of that province, from the same list")

    sale = sub.add_parser("sale", help="record a sale for a member (for scripts and POS software)")
    sale.add_argument("--member", required=True, help="member card code or mobile")
    sale.add_argument("--amount", required=True, type=int, help="purchase amount in Rials")
    sale.add_argument("--redeem", type=int, default=0, help="points to redeem (default 0)")
    sale.add_argument(
        "--redeem-credit", type=int, default=0, help="credit to spend, in Rials (default 0)"
    )
    sale.add_argument("--coupon", help="the member's coupon code, e.g. CP-7KQ2M9XHTA")
    sale.add_argument(
        "--items",
        help='lines as JSON: [{"sku": "...", "category": "...", "quantity": 1, "amount_rial": N}]',
    )
    sale.add_argument("--json", action="store_true", help="print the result as JSON")

    sub.add_parser("sync", help="send every queued event to the cloud now")

    ledger = sub.add_parser("ledger", help="ledger tools").add_subparsers(
        dest="ledger_command", required=True, metavar="ACTION"
    )
    ledger.add_parser("verify", help="replay the ledger and check every invariant")

    doctor = sub.add_parser(
        "doctor", help="check folders, keys, ledger, disk, font, devices, cloud and clock"
    )
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")

    take = sub.add_parser("backup", help="copy the ledger (online) to a folder and check the copy")
    take.add_argument("--output", required=True, type=Path, help="folder for the backup file")
    back = sub.add_parser(
        "restore", help="replace the ledger with a checked backup (stop the agent first)"
    )
    back.add_argument("--input", required=True, type=Path, help="backup file to restore")
    back.add_argument(
        "--force", action="store_true", help="even over a healthy ledger newer than the backup"
    )

    owner = sub.add_parser("owner-password", help="set the store owner's web login password")
    owner.add_argument("--password", required=True, help="at least 8 characters")

    cashier = sub.add_parser(
        "cashier", help="manage the PINs of the cashier screen"
    ).add_subparsers(dest="cashier_command", required=True)
    pin_add = cashier.add_parser("add", help="set a cashier's PIN (a new cashier or a new PIN)")
    pin_add.add_argument("--name", required=True, help="the cashier's name, shown on the screen")
    pin_add.add_argument(
        "--pin", default=None, help="4 to 8 digits; asked without echo when left out"
    )
    pin_remove = cashier.add_parser("remove", help="remove a cashier's PIN")
    pin_remove.add_argument("--name", required=True, help="the cashier's name")
    cashier.add_parser("list", help="list the cashiers who have a PIN")

    test_print = sub.add_parser(
        "print-test", help="write the ESC/POS bytes of a sample Persian receipt to a file"
    )
    test_print.add_argument("--profile", required=True, help="printer profile, e.g. xprinter-xp80c")
    test_print.add_argument("--output", required=True, type=Path, help="file to write the bytes to")

    devices = sub.add_parser(
        "devices",
        help="list the serial ports, keyboard-wedge scanners and USB printers plugged in",
        description="Enumerate /dev/serial/by-id, /dev/input/by-id and USB printers through"
        " sysfs, keyed by stable ids, with the firmware profiles whose VID:PID match.",
    )
    devices.add_argument("--json", action="store_true", help="print the list as JSON")
    devices.add_argument(
        "--root", type=Path, default=Path("/"), help="file system root to look under (tests)"
    )

    demo = sub.add_parser(
        "demo", help="run a local cloud and a simulated terminal through a morning"
    )
    demo.add_argument(
        "--once", action="store_true", help="run the scripted sales, print JSON, exit"
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder")
    return parser


def _config(args: argparse.Namespace) -> AgentConfig:
    return load_config(args.config, {"data_dir": args.data_dir})


def _run(args: argparse.Namespace) -> Any:
    if args.command == "demo":
        from agent.demo import run_demo

        return run_demo(args.out, once=args.once)
    if args.command == "print-test":
        return _print_test(args.profile, args.output)
    if args.command == "devices":
        return _devices(args.root, args.json)
    config = _config(args)
    if args.command in ("backup", "restore"):
        return _backup_command(args, config)
    if args.command == "doctor":
        return _doctor(config, args.json)
    if args.command == "enroll":
        from agent.identity import enroll

        identity = enroll(args.cloud, args.code, config.data_dir)
        return {"terminal_id": identity.terminal_id, "store": identity.store_name}
    from agent.terminal import Terminal

    terminal = Terminal(config)
    try:
        return _terminal_command(args, terminal)
    finally:
        terminal.close()


def _devices(root: Path, as_json: bool) -> None:
    from agent.drivers.discovery import discover
    from agent.drivers.profiles import load_profiles

    found = discover(root, load_profiles())
    if as_json:
        print(json.dumps([d.to_dict() for d in found], ensure_ascii=False, indent=2))
        return None
    for d in found:
        ids = f"{d.usb_vid}:{d.usb_pid}" if d.usb_vid else "no usb ids"
        print(f"{d.role:8} {d.key}  ({ids}) -> {', '.join(d.profiles) or 'no profile'}")
    if not found:
        print("no devices found")
    return None


def _doctor(config: AgentConfig, as_json: bool) -> Any:
    from agent.doctor import run_checks

    findings = run_checks(config)
    failed = [f for f in findings if f.level == "fail"]
    if as_json:
        print(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        marks = {"ok": "✓", "warn": "!", "fail": "✗"}
        for f in findings:
            print(f"{marks[f.level]} {f.check}: {f.message} — {f.fa}")
            if f.fix and f.level != "ok":
                print(f"    fix: {f.fix}")
    if failed:
        raise IntegrityFailure(
            f"doctor found {len(failed)} problem(s): {', '.join(f.check for f in failed)}",
            fa="پایانه آماده کار نیست",
        )
    return None


def _backup_command(args: argparse.Namespace, config: AgentConfig) -> dict[str, Any]:
    from agent import backup
    from common.persian import now_tehran

    if args.command == "backup":
        info = backup.backup(config.database, args.output, now_tehran())
    else:
        info = backup.restore(args.input, config.database, force=args.force)
    return {
        args.command: str(info.path),
        "sales": info.sales,
        "entries": info.entries,
        "outbox_seq": info.outbox_seq,
    }


def _json_arg(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{option} is not valid JSON: {exc}", fa="ورودی JSON نامعتبر است") from exc


def _print_test(profile_name: str, output: Path) -> dict[str, Any]:

    from agent.drivers.escpos_printer import compose_receipt
    from agent.drivers.profiles import PrinterProfile, load_profile
    from agent.errors import ProfileError
    from agent.receipt import ReceiptData, render_receipt
    from common.persian import now_tehran

    profile = load_profile(profile_name)
    if not isinstance(profile, PrinterProfile):
        raise ProfileError(f"{profile_name} is a {profile.kind} profile, not a printer")
    sample = ReceiptData(
        store_name="آزمایش چاپگر وفا",
        receipt_no=1,
        moment=now_tehran(),
        member_name="مشتری نمونه",
        masked_mobile="۰۹۱۲***۶۷۸۹",
        tier_label="طلایی",
        amount_rial=1_250_000,
        points_earned=125,
        points_redeemed=0,
        balance=1_402,
        gift_message="پ چ ژ گ ک ی  ۰۱۲۳۴۵۶۷۸۹",
        feedback_url="https://vafa.example/f/test",
    )
    data = compose_receipt(render_receipt(sample, profile.dots), profile, kick_drawer=True)
    output.write_bytes(data)
    return {
        "profile": profile.name,
        "dots": profile.dots,
        "bytes": len(data),
        "output": str(output),
    }


def _terminal_command(args: argparse.Namespace, terminal: Any) -> Any:
    if args.command == "member":
        member = terminal.flow.enrol(
            args.mobile,
            args.name,
            args.consent,
            args.birthday,
            referred_by=args.referral,
            gender=args.gender,
            province=args.province,
            city=args.city,
        )
        return {
            "member_id": member.id,
            "card_code": member.card_code,
            "referral_code": referral_code(member.id),
        }
    if args.command == "sale":
        items = _json_arg(args.items, "--items") if args.items else None
        member = terminal.flow.identify(args.member)
        result = terminal.flow.sale(
            member.id,
            args.amount,
            args.redeem,
            items,
            redeem_credit_rial=args.redeem_credit,
            coupon=args.coupon,
        )
        if not args.json:
            print(
                f"sale {result.receipt_no}: +{result.points_earned} −{result.points_redeemed}"
                f" points, balance {result.balance}"
            )
            return None
        return {
            "sale_id": result.sale_id,
            "receipt_no": result.receipt_no,
            "entry_ids": list(result.entry_ids),
            "points_earned": result.points_earned,
            "points_redeemed": result.points_redeemed,
            "balance": result.balance,
            "credit_redeemed_rial": result.credit_redeemed_rial,
            "credit_rial": result.credit_rial,
            "coupon_rial": result.coupon_rial,
        }
    if args.command == "sync":
        from agent.identity import load_identity
        from agent.offline_queue.sync import SyncClient

        client = SyncClient(load_identity(terminal.config.data_dir))
        try:
            drained = client.drain(terminal.conn, terminal.vault)
        finally:
            client.close()
        return {"sent": drained.sent, "acked": drained.acked, "gaps": drained.gaps}
    if args.command == "ledger":
        problems = book.verify(terminal.conn)
        if problems:
            raise IntegrityFailure("ledger verify failed:\n  " + "\n  ".join(problems))
        return {"ok": True, "points_total": book.total_member_points(terminal.conn)}
    if args.command == "owner-password":
        from agent.web.app import set_owner_password

        set_owner_password(terminal, args.password)
        return {"ok": True}
    if args.command == "cashier":
        return _cashier(terminal, args)
    if args.command == "run":
        from agent.service import serve

        serve(terminal)
        return None
    raise AssertionError(f"unhandled command {args.command}")


def _cashier(terminal: Terminal, args: argparse.Namespace) -> dict[str, Any]:
    from agent.web import cashier

    if args.cashier_command == "add":
        pin = args.pin if args.pin is not None else getpass.getpass("PIN: ")
        cashier.set_cashier_pin(terminal, args.name, pin)
        return {"ok": True, "cashier": args.name.strip()}
    if args.cashier_command == "remove":
        if not cashier.remove_cashier(terminal, args.name):
            raise ValueError(f"no cashier named {args.name!r}")
        return {"ok": True}
    return {"cashiers": cashier.cashier_names(terminal)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print its result as JSON; exit non-zero with a clear message on error."""
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        result = _run(args)
    except (VafaError, ValueError) as exc:
        fa = getattr(exc, "fa", "")
        print(f"error: {exc}" + (f"\nخطا: {fa}" if fa else ""), file=sys.stderr)
        return 2 if isinstance(exc, (AgentError, VafaError)) else 1
    if result is not None:
        print(json.dumps(result, ensure_ascii=False))
    return 0

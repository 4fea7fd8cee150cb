"""``vafa-cloud``: run and administer the HQ cloud."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from cloud.access import set_user_stores
from cloud.app import create_app
from cloud.context import CloudContext
from cloud.coupons import create_coupon
from cloud.fleet import create_enrolment_code, create_store, revoke_terminal
from cloud.grants import create_grant
from cloud.hq import ROLES, create_user
from cloud.hq_api import create_token
from cloud.reports import totals
from cloud.snapshots import get_rules, set_rules
from cloud.storage import migrate
from common.errors import VafaError
from common.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and option."""
    parser = argparse.ArgumentParser(prog="vafa-cloud", description="Vafa HQ cloud.")
    parser.add_argument(
        "--database", help="SQLAlchemy URL (default: SQLite in the instance folder)"
    )
    parser.add_argument("--instance", help="folder for the default database and the PII key")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the API and the HQ pages")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8400, help="port (default 8400)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")

    sub.add_parser("migrate", help="create or upgrade the database schema")

    store = sub.add_parser("store", help="manage stores").add_subparsers(
        dest="store_command", required=True, metavar="ACTION"
    )
    create = store.add_parser("create", help="create a store and print its id and a terminal code")
    create.add_argument("--name", required=True, help="the store's name, e.g. «فروشگاه ونک»")
    code = store.add_parser("code", help="issue a one-time terminal enrolment code for a store")
    code.add_argument("--store", required=True, help="store id")

    terminal = sub.add_parser("terminal", help="manage terminals").add_subparsers(
        dest="terminal_command", required=True, metavar="ACTION"
    )
    revoke = terminal.add_parser("revoke", help="revoke a terminal: its requests are refused")
    revoke.add_argument("terminal_id", help="terminal id")

    user = sub.add_parser("user", help="manage HQ users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    add = user.add_parser("create", help="create an HQ user")
    add.add_argument("--username", required=True, help="login name")
    add.add_argument("--password", required=True, help="at least 8 characters")
    add.add_argument("--role", choices=ROLES, default="admin", help="role (default admin)")
    add.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="ID",
        help="a store a store_owner may see (repeat for several; store owners need one)",
    )
    token = user.add_parser("token", help="make an API token for an HQ user (shown once)")
    token.add_argument("--username", required=True, help="the HQ user the token acts as")

    rules = sub.add_parser("rules", help="the chain's earning rules").add_subparsers(
        dest="rules_command", required=True, metavar="ACTION"
    )
    rules.add_parser("show", help="print the earning rules terminals pull")
    rules_set = rules.add_parser("set", help="replace the earning rules from a JSON file")
    rules_set.add_argument("--file", required=True, type=Path, help="JSON object of rules")

    grant = sub.add_parser(
        "grant", help="give a member points or credit (booked by their home store's terminal)"
    )
    grant.add_argument("--member", required=True, help="member id")
    amount = grant.add_mutually_exclusive_group(required=True)
    amount.add_argument("--points", type=int, help="points to give")
    amount.add_argument("--credit", type=int, help="credit to give, in Rials")
    grant.add_argument("--reason", required=True, help="why, for the audit trail (1-40 chars)")
    grant.add_argument("--note", default="", help="message for the member, e.g. a gift greeting")
    grant.add_argument("--by", default="cli", help="who gives it (default cli)")

    coupon = sub.add_parser("coupon", help="issue a member a coupon (a Rial discount)")
    coupon.add_argument("--member", required=True, help="member id")
    coupon.add_argument("--value", required=True, type=int, help="discount in Rials")
    coupon.add_argument("--days", type=int, default=30, help="valid for this many days (30)")
    coupon.add_argument("--min-purchase", type=int, default=0, help="least purchase, Rials")
    coupon.add_argument("--reason", required=True, help="why, for the audit trail (1-40 chars)")
    coupon.add_argument("--by", default="cli", help="who issues it (default cli)")

    sms = sub.add_parser(
        "sms", help="text members (provider from VAFA_CLOUD_SMS_*)"
    ).add_subparsers(dest="sms_command", required=True, metavar="ACTION")
    text = sms.add_parser("send", help="send one text to a member under the sending rules")
    text.add_argument("--member", required=True, help="member id")
    text.add_argument("--text", required=True, help="the message (Persian welcome)")
    text.add_argument("--purpose", default="manual", help="why, for the SMS log (default manual)")
    text.add_argument(
        "--service",
        action="store_true",
        help="a service text (a code, a receipt): no consent, window or opt-out line needed",
    )
    sms.add_parser("poll", help="fetch delivery reports and opt-out/opt-in replies")

    plays = sub.add_parser("scenarios", help="retention scenarios").add_subparsers(
        dest="scenarios_command", required=True, metavar="ACTION"
    )
    plays.add_parser("list", help="list the scenarios and whether each is on")
    plays.add_parser("install-library", help="store the built-in scenarios (kept if present)")
    for verb in ("enable", "disable"):
        flip = plays.add_parser(verb, help=f"{verb} a scenario for the brand")
        flip.add_argument("scenario", help="scenario id, e.g. birthday")
    put = plays.add_parser("set", help="store a scenario from a JSON file")
    put.add_argument("scenario", help="scenario id")
    put.add_argument("--file", required=True, type=Path, help="the scenario as JSON")
    look = plays.add_parser("preview", help="who would receive what on a date (sends nothing)")
    look.add_argument("--date", required=True, help="Gregorian date YYYY-MM-DD")
    look.add_argument("--time", default="10:00", help="Tehran time of the run (default 10:00)")
    look.add_argument("--json", action="store_true", help="print the decisions as JSON")
    go = plays.add_parser("run", help="run every enabled scenario now")
    go.add_argument("--date", help="Gregorian date YYYY-MM-DD to run as (default today)")
    go.add_argument("--time", default="10:00", help="Tehran time with --date (default 10:00)")
    dates = plays.add_parser("occasions", help="add occasions from a JSON file")
    dates.add_argument(
        "--file",
        required=True,
        type=Path,
        help='[{"jalali_date": "1405-09-30", "key": "yalda", "name_fa": "شب یلدا"}, …]',
    )
    lift = plays.add_parser("uplift", help="treated against control: return rate and revenue")
    lift.add_argument("scenario", help="scenario id")
    lift.add_argument("--period", required=True, help="period key, e.g. 1405 or 1405-Q3")
    lift.add_argument("--days", type=int, default=30, help="days after entry counted (30)")
    sub.add_parser(
        "scheduler", help="run analytics (04:00) and scenarios (10:00) daily, Tehran; poll SMS"
    )

    sub.add_parser("totals", help="print chain-wide totals as JSON")
    _analytics_parser(sub)
    _demo_arguments(
        sub.add_parser(
            "demo-data",
            help="fill an empty cloud database with a demo chain (as analytics demo-data)",
        )
    )
    _import_parser(sub)
    return parser


def _import_parser(sub: Any) -> None:
    bring = sub.add_parser(
        "import",
        help="import channel orders or a club's member list; prints each bad row (Persian)",
        description="Each bad row is printed with its line (the header is line 1) and"
        " reason, then a summary; good rows are stored once however often a file is"
        " imported. Exit status: 0 every row stored or already there, 3 some rows refused,"
        " 1 the file could not be read.",
    ).add_subparsers(dest="import_command", required=True, metavar="WHAT")
    orders = bring.add_parser(
        "orders",
        help="orders from the website, Instagram or WhatsApp (CSV or .xlsx, amounts in Rials)",
        description="Columns (English or Persian headers): order_id, mobile, ordered_at"
        " (Jalali 1403/05/12 [14:30] or Gregorian ISO 2024-08-02[T14:30], Tehran time"
        " unless a zone is given), total_rial (whole Rials; Toman and decimals are"
        " refused), optional lines ('category:rials; category:rials') and store (id or"
        " name). A mobile that is not a member is refused. Orders move no points.",
    )
    orders.add_argument("file", type=Path, help="the .csv (UTF-8) or .xlsx file")
    orders.add_argument(
        "--channel", required=True, choices=("website", "instagram", "whatsapp"), help="channel"
    )
    orders.add_argument(
        "--store", help="store id or name for rows without one (default: member's home store)"
    )
    people = bring.add_parser(
        "members",
        help="an existing club's member list (CSV or .xlsx) into a home store",
        description="Columns (English or Persian headers): mobile, name, optional"
        " birthday (Jalali 1370/05/12 or 05/12), gender (f/m, زن/مرد), province, city"
        " (as in common/iran_places.toml), joined (date), consent (yes/no: marketing"
        " SMS), points (an opening balance, booked as a grant by the home store's"
        " terminal) and store. A mobile already in the club is left as it is.",
    )
    people.add_argument("file", type=Path, help="the .csv (UTF-8) or .xlsx file")
    people.add_argument("--store", required=True, help="home store id or name of the members")
    for command in (orders, people):
        command.add_argument("--by", default="cli", help="who imports, for the record (cli)")
        command.add_argument("--json", action="store_true", help="print the report as JSON")


def _analytics_parser(sub: Any) -> None:
    analytics = sub.add_parser("analytics", help="member analytics (CLV, RFM, KPIs)")
    actions = analytics.add_subparsers(dest="analytics_command", required=True, metavar="ACTION")
    fit = actions.add_parser(
        "clv-fit", help="fit BG/NBD and Gamma-Gamma to a purchases CSV and print the parameters"
    )
    fit.add_argument(
        "--transactions", required=True, type=Path, help="CSV with header member_id,date,amount"
    )
    fit.add_argument(
        "--observation-end", required=True, help="last day of the fitting period, YYYY-MM-DD"
    )
    fit.add_argument(
        "--time-unit", choices=("days", "weeks"), default="weeks", help="model time unit (weeks)"
    )
    fit.add_argument("--format", choices=("json",), default="json", help="output format (json)")
    run = actions.add_parser(
        "run", help="compute and store every member's pattern, RFM segment and CLV (daily job)"
    )
    run.add_argument("--date", help="Gregorian day YYYY-MM-DD to compute as of (default now)")
    _demo_arguments(
        actions.add_parser(
            "demo-data",
            help="fill an empty cloud database with a demo chain: stores, members, 2 years of"
            " sales",
        )
    )


def _demo_arguments(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--members", type=int, required=True, help="how many members")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    demo.add_argument("--date", help="Gregorian day YYYY-MM-DD the data ends on (default today)")


def _app(args: argparse.Namespace, auto_migrate: bool = True) -> Flask:
    config: dict[str, Any] = {"AUTO_MIGRATE": auto_migrate}
    if args.instance:
        # The folder gives the defaults; SQLite cannot create a file in a missing folder.
        Path(args.instance).mkdir(parents=True, exist_ok=True)
        config |= _instance_config(args.instance)
    if args.database:
        config["DATABASE_URL"] = args.database  # --database wins over the instance's SQLite
    return create_app(config)


def _instance_config(folder: str) -> dict[str, Any]:
    return {
        "PII_KEY_FILE": f"{folder}/pii.key",
        "DATABASE_URL": f"sqlite:///{folder}/vafa-cloud.db",
        "SMS_FILE": f"{folder}/sms-outbox.jsonl",
    }


def _run(args: argparse.Namespace) -> Any:
    app = _app(args, auto_migrate=args.command != "migrate")
    context: CloudContext = app.extensions["vafa"]
    if args.command == "serve":
        from waitress import serve

        configure_logging()
        print(f"vafa-cloud serving on http://{args.host}:{args.port}/hq/", flush=True)
        serve(app, host=args.host, port=args.port, threads=args.threads, ident="vafa-cloud")
        return None
    if args.command == "scheduler":
        _scheduler(app)
        return None
    if args.command == "scenarios" and args.scenarios_command == "run":
        from cloud.scenarios.store import run_day
        from cloud.sms.providers import provider_from_config

        provider = provider_from_config(dict(app.config), Path(app.instance_path))
        return run_day(context.engine, context.vault, provider, _moment(args.date, args.time))
    if args.command == "migrate":
        migrate(context.engine)
        return {"migrated": True}
    with context.engine.begin() as conn:
        if args.command == "store" and args.store_command == "create":
            store_id = create_store(conn, args.name)
            return {"store_id": store_id, "enrolment_code": create_enrolment_code(conn, store_id)}
        if args.command == "store" and args.store_command == "code":
            return {"enrolment_code": create_enrolment_code(conn, args.store)}
        if args.command == "terminal":
            revoke_terminal(conn, args.terminal_id)
            return {"revoked": args.terminal_id}
        if args.command == "rules" and args.rules_command == "show":
            rules, etag = get_rules(conn)
            return {"rules": rules, "etag": etag}
        if args.command == "rules":
            return {"etag": set_rules(conn, _read_json(args.file))}
        if args.command == "grant":
            kind, value = (
                ("points", args.points)
                if args.points is not None
                else (
                    "credit",
                    args.credit,
                )
            )
            grant_id = create_grant(
                conn, args.member, kind, value, args.reason, args.by, note=args.note
            )
            return {"grant_id": grant_id, "kind": kind, "amount": value}
        if args.command == "scenarios":
            return _scenarios(args, app, conn)
        if args.command == "sms":
            return _sms(args, app, conn)
        if args.command == "coupon":
            code = create_coupon(
                conn,
                args.member,
                args.value,
                args.days,
                args.reason,
                args.by,
                min_purchase_rial=args.min_purchase,
            )
            return {"code": code, "value_rial": args.value}
        if args.command == "user" and args.user_command == "token":
            return {"user": args.username, "token": create_token(conn, args.username)}
        if args.command == "user":
            if (args.role == "store_owner") != bool(args.store):
                raise ValueError("--store is needed for a store_owner, and only for one")
            create_user(conn, args.username, args.password, args.role)
            set_user_stores(conn, args.username, args.store)
            made = {"user": args.username, "role": args.role}
            return made | {"stores": sorted(set(args.store))} if args.store else made
        return totals(conn)


def _sms(args: argparse.Namespace, app: Flask, conn: sa.Connection) -> dict[str, Any]:
    from cloud.sms.providers import provider_from_config
    from cloud.sms.sending import handle_replies, poll_deliveries, send_to_member
    from common.persian import now_tehran

    provider = provider_from_config(dict(app.config), Path(app.instance_path))
    vault = app.extensions["vafa"].vault
    if args.sms_command == "poll":
        changed = poll_deliveries(conn, provider)
        return {"delivery_updates": changed, "replies": handle_replies(conn, vault, provider)}
    sent = send_to_member(
        conn,
        vault,
        provider,
        args.member,
        args.text,
        args.purpose,
        not args.service,
        now_tehran(),
    )
    return {"message_id": sent.message_id, "provider_id": sent.provider_id, "parts": sent.parts}


def _moment(date: str | None, time_of_day: str) -> dt.datetime:
    from common.persian import TEHRAN, now_tehran

    if not date:
        return now_tehran()
    try:
        day = dt.date.fromisoformat(date)
        clock = dt.time.fromisoformat(time_of_day)
    except ValueError as exc:
        raise ValueError(f"--date must be YYYY-MM-DD and --time HH:MM: {exc}") from exc
    return dt.datetime.combine(day, clock, TEHRAN)


def _scenarios(args: argparse.Namespace, app: Flask, conn: sa.Connection) -> Any:
    from cloud.scenarios import store
    from cloud.scenarios.library import LIBRARY, OCCASIONS

    command = args.scenarios_command
    if command == "list":
        return [
            {"id": s.id, "name_fa": s.name_fa, "trigger": s.trigger["type"], "enabled": s.enabled}
            for s in store.load(conn, only_enabled=False)
        ]
    if command == "install-library":
        have = {s.id for s in store.load(conn, only_enabled=False)}
        added = [sid for sid in LIBRARY if sid not in have]
        for scenario_id in added:
            store.save(conn, scenario_id, LIBRARY[scenario_id])
        return {"installed": added, "occasions": store.set_occasions(conn, OCCASIONS)}
    if command == "occasions":
        return {"occasions": store.set_occasions(conn, _read_json(args.file))}
    if command in ("enable", "disable"):
        store.switch(conn, args.scenario, command == "enable")
        return {args.scenario: command == "enable"}
    if command == "uplift":
        from cloud.scenarios.uplift import as_dict, report

        return as_dict(report(conn, args.scenario, args.period, args.days))
    if command == "set":
        store.save(conn, args.scenario, _read_json(args.file))
        return {"saved": args.scenario}
    decisions = store.preview(conn, app.extensions["vafa"].vault, _moment(args.date, args.time))
    if args.json:
        return decisions
    for d in decisions:
        print(
            f"{d['scenario_id']}\t{d['member_id']}\t{d['arm']}\t{d['outcome']}\t"
            f"{' '.join(d['actions'])}\t{d['period']}\t{d['event']}"  # event: sale, member …
        )
    return None


def _scheduler(app: Flask) -> None:
    from cloud.scenarios.scheduler import build, is_leader
    from cloud.sms.providers import provider_from_config

    context: CloudContext = app.extensions["vafa"]
    configure_logging()
    with context.engine.connect() as leader:  # held for the life of the scheduler
        while not is_leader(leader):
            time.sleep(30)  # another machine leads; take over when it stops
        provider = provider_from_config(dict(app.config), Path(app.instance_path))
        build(context.engine, context.vault, provider).start()


def _analytics(args: argparse.Namespace) -> Any:
    from cloud.analytics.clv import fit_file
    from cloud.analytics.run import run_analytics

    command = getattr(args, "analytics_command", args.command)  # or top-level demo-data
    if command in ("run", "demo-data"):
        from cloud.analytics.demo import fill

        context: CloudContext = _app(args).extensions["vafa"]
        as_of = _moment(args.date, "23:59:59") if args.date else dt.datetime.now(dt.UTC)
        if command == "demo-data":
            return fill(context.engine, context.vault, args.members, args.seed, as_of)
        return run_analytics(context.engine, as_of, context.vault)

    try:
        end = dt.date.fromisoformat(args.observation_end)
    except ValueError as exc:
        raise ValueError(f"--observation-end must be YYYY-MM-DD: {exc}") from exc
    return fit_file(args.transactions, end, args.time_unit)


def _import(args: argparse.Namespace) -> int:
    """Import a file, print its report (Persian lines or JSON); 3 if rows were refused."""
    from cloud.imports import import_members, import_orders, orders, read_rows
    from cloud.imports import members as people

    context: CloudContext = _app(args).extensions["vafa"]
    configure_logging()  # each refused row in English on stderr; Persian on stdout
    module = orders if args.import_command == "orders" else people
    try:
        stream = args.file.open("rb")
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {exc.strerror}") from exc
    with stream:
        rows = read_rows(stream, args.file.name, module.COLUMNS, module.REQUIRED)
        by = f"cli:{args.by}"
        if module is orders:
            report = import_orders(
                context.engine, context.vault, rows, args.channel, by, store=args.store
            )
        else:
            report = import_members(context.engine, context.vault, rows, args.store, by)
    if args.json:
        print(json.dumps(report.as_dict(limit=None), ensure_ascii=False))
    else:
        print("\n".join(report.lines_fa()))
    return 3 if report.refused else 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read JSON from {path}: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print its result as JSON."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "import":
            return _import(args)
        analytics = args.command in ("analytics", "demo-data")
        result = _analytics(args) if analytics else _run(args)
    except (VafaError, ValueError) as exc:  # CloudError, NotSent, SmsError, InvalidMobile …
        fa = getattr(exc, "fa", "")
        print(f"error: {exc}" + (f"\nخطا: {fa}" if fa else ""), file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, ensure_ascii=False))
    return 0

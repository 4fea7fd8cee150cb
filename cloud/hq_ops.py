"""HQ's operating pages: scenarios (list, builder, uplift, preview), SMS log, fleet, users.

Every page asks the database who the signed-in user is now, so a role changed or an account
disabled or deleted since the login takes effect at the next click, not the next login.
Admins and marketers run scenarios and read the SMS log; the fleet is the admin's, though a
store owner sees (never revokes) their own stores' terminals; users are the admin's alone.
Every POST carries the session's CSRF token.

An account is disabled without a schema change by prefixing its stored hash with ``!`` (the
convention of /etc/shadow): no password verifies against it, and removing the ``!`` gives the
account back its password. Disabling also revokes the user's API tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import jdatetime
import sqlalchemy as sa
from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from cloud import mobile_codes, scenario_form
from cloud.access import set_user_stores
from cloud.context import ctx
from cloud.errors import BadRequest, NotFound
from cloud.fleet import create_enrolment_code, create_store, revoke_terminal
from cloud.hq import ROLES, create_user, login_required
from cloud.reports import fleet
from cloud.scenarios import store as scenario_store
from cloud.scenarios.engine import decide, period_key
from cloud.scenarios.model import ALL_PERIODS, EVENT_PERIOD, GENDERS, TIERS, Scenario, parse
from cloud.scenarios.uplift import in_period, report
from cloud.sms.providers import STATUSES
from cloud.sms.text import TemplateError, render
from cloud.storage import utcnow
from cloud.tables import (
    api_tokens,
    grants,
    members,
    occasions,
    owner_notes,
    scenario_entries,
    scenarios,
    sms_messages,
    stores,
    user_stores,
    users,
)
from common.demographics import provinces
from common.mobile import mask_mobile
from common.persian import (
    TEHRAN,
    group_thousands,
    is_plain_number,
    jalali_date,
    now_tehran,
    to_ascii_digits,
    to_persian_digits,
)
from common.webauth import check_csrf, hash_password

bp = Blueprint("ops", __name__, url_prefix="/hq")
F = TypeVar("F", bound=Callable[..., Any])
DISABLED = "!"
PAGE_SIZE = 50
PREVIEW_ROWS = 200
TAKEN_FA = "سناریویی با این شناسه هست؛ شناسهٔ دیگری بنویسید"
RUN_TIME = dt.time(10, 0)  # the scheduler's daily run, Tehran time

ROLES_FA = {"admin": "مدیر", "marketer": "بازاریاب", "store_owner": "صاحب فروشگاه"}
STATUSES_FA = {
    "queued": "در صف",
    "sent": "فرستاده شد",
    "delivered": "رسید",
    "undelivered": "نرسید",
    "blocked": "مسدود",
    "failed": "ناموفق",
}
PURPOSES_FA = {mobile_codes.PURPOSE: "کد تأیید"}  # else a scenario's id, shown as it is
OUTCOMES_FA = {
    "acted": "انجام می‌شود",
    "control": "گروه کنترل (چیزی نمی‌گیرد)",
    "deferred": "به اجرای بعدی در ساعت مجاز می‌ماند",
    "skipped:budget": "بودجه تمام شده",
}
SKIPS_FA = {
    "no_consent": "رضایت پیامک ندارد",
    "weekly_cap": "سقف هفتگی پیامک",
    "quiet_hours": "بیرون از ساعت مجاز",
}


def allowed(*roles: str) -> Callable[[F], F]:
    """Let through a signed-in, enabled user whose current role is one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with ctx().engine.connect() as conn:
                row = conn.execute(
                    sa.select(users).where(users.c.username == session["user"])
                ).first()
            if row is None or row.password_hash.startswith(DISABLED):
                session.clear()  # deleted or disabled since the login
                return redirect(url_for("hq.login", next=request.path))
            if row.role not in roles:
                abort(403)
            g.user_id, g.role = row.id, row.role
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


@bp.app_template_filter("fa")
def _fa(text: object) -> str:
    return to_persian_digits(str(text))


@bp.app_template_filter("pct")
def _pct(share: float) -> str:
    return to_persian_digits(f"{share * 100:.1f}").replace(".", "٫") + "٪"


@bp.app_template_filter("period_fa")
def _period_fa(key: str) -> str:
    """Name an entry period key (1405, 1405-Q3, 1405-09, 1405-09-10, 2026-W49) in Persian."""
    year, _, rest = key.partition("-")
    if key == "once":
        return "یک‌بار"
    if rest.startswith("Q"):
        return to_persian_digits(f"فصل {rest[1:]} سال {year}")
    if rest.startswith("W"):
        return to_persian_digits(f"هفتهٔ {rest[1:]} سال {year}")
    return to_persian_digits(key.replace("-", "/"))


# --- Scenarios ------------------------------------------------------------------------------


@bp.get("/scenarios")
@allowed("admin", "marketer")
def scenario_list() -> str:
    """List the brand's scenarios with their switch, last run, entries, sends and budget."""
    today = now_tehran().date()
    rows, broken = [], []
    with ctx().engine.connect() as conn:
        for row in conn.execute(sa.select(scenarios).order_by(scenarios.c.id)):
            try:
                scenario = parse(row.id, json.loads(row.definition), row.enabled)
            except (BadRequest, ValueError):  # the runs leave it out: say so instead of hiding it
                broken.append({"id": row.id, "enabled": row.enabled})
                continue
            rows.append(_scenario_figures(conn, scenario, today))
    return render_template(
        "ops_scenarios.html", rows=rows, broken=broken, triggers=scenario_form.TRIGGERS_FA
    )


def _current_period(scenario: Scenario, today: dt.date) -> str:
    """Return the period whose budget applies today: per-event entries count by month."""
    if scenario.period == EVENT_PERIOD:
        return period_key("month", today)
    return period_key(scenario.period, today)


def _report_periods(stored: list[str]) -> list[str]:
    """Turn stored entry periods into the periods a report can ask for, newest first.

    A per-event entry's period is ``YYYY-MM/<digest>``: it is offered as its month and year.
    """
    found: set[str] = set()
    for period in stored:
        if "/" in period:
            month = period.split("/", 1)[0]
            found.update((month, month.split("-", 1)[0]))
        else:
            found.add(period)
    return sorted(found, reverse=True)


def _scenario_figures(conn: sa.Connection, scenario: Scenario, today: dt.date) -> dict[str, Any]:
    entries = scenario_entries.c
    period = _current_period(scenario, today)
    last, total = conn.execute(
        sa.select(sa.func.max(entries.created_at), sa.func.count()).where(
            entries.scenario_id == scenario.id
        )
    ).one()
    spent = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(entries.cost_rial), 0)).where(
            entries.scenario_id == scenario.id, in_period(period)
        )
    ).scalar_one()
    sends = conn.execute(
        sa.select(sa.func.count()).where(sms_messages.c.purpose == scenario.id[:40])
    ).scalar_one()
    return {
        "s": scenario,
        "last_run": last,
        "entries": int(total),
        "sends": int(sends),
        "period": period,
        "spent": int(spent),
        "budget_share": int(spent) / scenario.budget_rial if scenario.budget_rial else None,
    }


@bp.post("/scenarios/<scenario_id>/switch")
@allowed("admin", "marketer")
def scenario_switch(scenario_id: str) -> Response:
    """Turn a scenario on or off for the brand."""
    check_csrf()
    try:
        with ctx().engine.begin() as conn:
            scenario_store.switch(conn, scenario_id, request.form.get("enabled") == "1")
    except NotFound:
        abort(404)
    return redirect(url_for("ops.scenario_list"))


@bp.get("/scenarios/<scenario_id>")
@allowed("admin", "marketer")
def scenario_page(scenario_id: str) -> str | tuple[str, int]:
    """Show one scenario: its definition, uplift against control, and a dry-run preview."""
    with ctx().engine.connect() as conn:
        try:
            scenario = _load_one(conn, scenario_id)
        except (BadRequest, ValueError) as exc:
            where = f" ({exc.field})" if isinstance(exc, BadRequest) and exc.field else ""
            reason = f"تعریف ذخیره‌شدهٔ این سناریو دیگر پذیرفته نیست{where} و اجرا نمی‌شود."
            return render_template(
                "ops_blocked.html", scenario_id=scenario_id, reason=reason, fixable=True
            ), 409
        periods = _report_periods(
            list(
                conn.execute(
                    sa.select(scenario_entries.c.period)
                    .where(scenario_entries.c.scenario_id == scenario_id)
                    .distinct()
                ).scalars()
            )
        )
        period = request.args.get("period") or (
            periods[0] if periods else _current_period(scenario, now_tehran().date())
        )
        days = _int_arg("days", 30, 1, 365)
        uplift = report(conn, scenario_id, period, days)
        preview, error = _preview(conn, scenario)
        delivery = _delivery(conn, scenario)
    return render_template(
        "ops_scenario.html",
        s=scenario,
        summary=_summary(scenario, _store_names()) + delivery,
        periods=periods,
        period=period,
        days=days,
        u=uplift,
        preview=preview,
        preview_error=error,
        day=request.args.get("on", "").strip() or jalali_date(now_tehran()),
    )


def _delivery(conn: sa.Connection, scenario: Scenario) -> list[tuple[str, str]]:
    """Say how many surprise gifts were handed over at the till and notes closed."""
    kinds = {action["type"] for action in scenario.actions}
    lines = []
    if "gift" in kinds:
        given, handed = conn.execute(
            sa.select(sa.func.count(), sa.func.count(grants.c.handed_over_at)).where(
                grants.c.reason == f"scenario:{scenario.id}"[:40], grants.c.gift.is_(True)
            )
        ).one()
        lines.append(
            (
                "هدیه‌های غافلگیری",
                f"{group_thousands(given)} داده شده، {group_thousands(handed)} در صندوق تحویل شده",
            )
        )
    if "owner_note" in kinds:
        left, done = conn.execute(
            sa.select(sa.func.count(), sa.func.count(owner_notes.c.done_at)).where(
                owner_notes.c.scenario_id == scenario.id
            )
        ).one()
        lines.append(
            (
                "یادداشت برای مدیر",
                f"{group_thousands(left)} گذاشته شده، {group_thousands(done)} انجام شده",
            )
        )
    return lines


def _store_names() -> dict[str, str]:
    """Return every store's name by id."""
    with ctx().engine.connect() as conn:
        return {row.id: row.name for row in conn.execute(sa.select(stores.c.id, stores.c.name))}


def _load_one(conn: sa.Connection, scenario_id: str) -> Scenario:
    row = conn.execute(sa.select(scenarios).where(scenarios.c.id == scenario_id)).first()
    if row is None:
        abort(404)
    return parse(row.id, json.loads(row.definition), row.enabled)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = to_ascii_digits(request.args.get(name, "")).strip()
    return int(raw) if is_plain_number(raw) and low <= int(raw) <= high else default


def parse_jalali(text: str) -> dt.date:
    """Read a Jalali date typed as ۱۴۰۵/۰۹/۳۰ or 1405-09-30; raise BadRequest if none."""
    parts = to_ascii_digits(text).strip().replace("-", "/").split("/")
    try:
        year, month, day = (int(part) for part in parts)
        gregorian: dt.date = jdatetime.date(year, month, day).togregorian()
    except (TypeError, ValueError) as exc:
        raise BadRequest(
            f"no such Jalali date {text!r}", fa="تاریخ را به شکل ۱۴۰۵/۰۹/۳۰ بنویسید", field="on"
        ) from exc
    return gregorian


def _preview(conn: sa.Connection, scenario: Scenario) -> tuple[dict[str, Any] | None, str]:
    """Decide the scenario for the asked Jalali day at the daily run's hour; write nothing."""
    text = request.args.get("on", "").strip()
    if not text:
        return None, ""
    try:
        day = parse_jalali(text)
    except BadRequest as exc:
        return None, exc.fa
    moment = dt.datetime.combine(day, RUN_TIME, TEHRAN)
    decisions = decide(conn, ctx().vault, scenario, moment)
    shown = decisions[:PREVIEW_ROWS]
    people = _people(conn, [d.member_id for d in shown])
    sms = next((a for a in scenario.actions if a["type"] == "sms"), None)
    points = sum(int(a["amount"]) for a in scenario.actions if a["type"] in ("points", "gift"))
    rows = [
        {
            "member": people.get(d.member_id, ("—", "—")),
            "arm": d.arm,
            "outcome": OUTCOMES_FA.get(d.outcome, d.outcome),
            "actions": [_action_fa(a) for a in d.actions],
            "text": _text(sms, d.arm, people.get(d.member_id, ("",))[0], points)
            if any(a.startswith("sms:") and ":skipped:" not in a for a in d.actions)
            else "",
            "cost": d.cost_rial,
        }
        for d in shown
    ]
    counts: dict[str, int] = {}
    for decision in decisions:
        counts[decision.outcome] = counts.get(decision.outcome, 0) + 1
    return {
        "day": jalali_date(day),
        "rows": rows,
        "total": len(decisions),
        "counts": {OUTCOMES_FA.get(k, k): v for k, v in sorted(counts.items())},
        "cost": sum(d.cost_rial for d in decisions),
    }, ""


def _people(conn: sa.Connection, member_ids: list[str]) -> dict[str, tuple[str, str]]:
    vault = ctx().vault
    found = {}
    for row in conn.execute(
        sa.select(members.c.id, members.c.name_enc, members.c.mobile_enc).where(
            members.c.id.in_(member_ids)
        )
    ):
        name = vault.decrypt(row.id, row.name_enc)
        found[row.id] = (name, mask_mobile(vault.decrypt(row.id, row.mobile_enc)))
    return found


def _text(sms: dict[str, Any] | None, arm: str, name: str, points: int) -> str:
    if sms is None:
        return ""
    template = str(sms["variants"][1 if arm == "B" else 0])
    first = name.split()[0] if name.split() else name
    try:  # a coupon's code is made only when the run acts
        return render(template, {"نام": first, "امتیاز": points or "{امتیاز}", "کد": "{کد}"})
    except TemplateError:
        return template


def _action_fa(action: str) -> str:
    kind, _, rest = action.partition(":")
    if kind == "owner_note":
        return "یادداشت برای مدیر فروشگاه"
    if kind == "sms":
        if rest.startswith("skipped:"):
            return "بدون پیامک: " + SKIPS_FA.get(rest.removeprefix("skipped:"), rest)
        return f"پیامک (متن {rest})"
    amount = int(rest) if rest.isdigit() else 0
    if kind == "points":
        return f"{group_thousands(amount)} امتیاز"
    if kind == "gift":
        return f"هدیهٔ غافلگیری ({group_thousands(amount)} امتیاز)"
    if kind == "credit":
        return f"اعتبار {group_thousands(amount // 10)} تومان"
    if kind == "coupon":
        return f"کوپن {group_thousands(amount // 10)} تومان"
    return action


def _summary(scenario: Scenario, store_names: dict[str, str]) -> list[tuple[str, str]]:
    """Say in Persian what the scenario does, line by line."""
    trigger = scenario.trigger
    what = scenario_form.TRIGGERS_FA.get(trigger["type"], trigger["type"])
    if trigger["type"] == "inactive":
        what = f"{group_thousands(int(trigger['days']))} روز بی‌خرید"
    elif trigger["type"] == "tier":
        what += ": " + "، ".join(scenario_form.TIERS_FA.get(t, t) for t in trigger["tiers"])
    elif trigger["type"] == "feedback":
        what += f": امتیاز {to_persian_digits(str(trigger['max_nps']))} یا کمتر"
    elif trigger["type"] == "occasion":
        what += f": {trigger['occasion']}"
    elif trigger["type"] == "purchase" and trigger.get("min_amount_rial"):
        what += f": دست‌کم {group_thousands(int(trigger['min_amount_rial']) // 10)} تومان"
    elif trigger["type"] == "gap":
        what += f": بیش از {to_persian_digits(str(trigger['k']))} برابر فاصلهٔ همیشگی"
    elif trigger["type"] in ("segment_change", "rfm_drop"):
        names = scenario_form.segments()
        for key, label in (("from", "از"), ("to", "به")):
            if trigger.get(key):
                what += f"، {label} " + "، ".join(names.get(k, k) for k in trigger[key])
    conditions = scenario.conditions
    cond = []
    if conditions.get("tiers"):
        cond.append("سطح " + "، ".join(scenario_form.TIERS_FA[t] for t in conditions["tiers"]))
    if conditions.get("stores"):
        cond.append("فروشگاه " + "، ".join(store_names.get(s, s) for s in conditions["stores"]))
    if conditions.get("min_spend_rial"):
        cond.append(f"خرید دست‌کم {group_thousands(int(conditions['min_spend_rial']) // 10)} تومان")
    if conditions.get("genders"):
        cond.append("، ".join(GENDERS.get(g, g) for g in conditions["genders"]))
    if conditions.get("age_groups"):
        ages = scenario_form.AGE_GROUPS_FA
        cond.append("سن " + "، ".join(ages.get(a, a) for a in conditions["age_groups"]))
    for key, label in (("provinces", "استان"), ("cities", "شهر")):
        if conditions.get(key):
            cond.append(f"{label} " + "، ".join(conditions[key]))
    budget = scenario.budget_rial
    return [
        ("رویداد", what),
        ("شرط‌ها", "، ".join(cond) or "همهٔ اعضا"),
        ("کارها", "، ".join(_describe(a) for a in scenario.actions)),
        (
            "تکرار",
            scenario_form.PERIODS_FA.get(scenario.period, scenario.period)
            + "، هر عضو یک‌بار در هر دوره",
        ),
        ("بودجه", f"{group_thousands(budget // 10)} تومان در هر دوره" if budget else "بی‌سقف"),
        ("سقف پیامک", f"{group_thousands(scenario.sms_per_week)} پیامک تبلیغاتی در هفته"),
        ("گروه کنترل", to_persian_digits(f"{scenario.control_pct}") + "٪ اعضا"),
    ]


def _describe(action: dict[str, Any]) -> str:
    kind = action["type"]
    if kind == "sms":
        return "پیامک" + (" (دو متن A/B)" if len(action["variants"]) > 1 else "")
    if kind == "coupon":
        return (
            f"کوپن {group_thousands(int(action['value_rial']) // 10)} تومان"
            f" ({group_thousands(int(action['days']))} روزه)"
        )
    if kind == "credit":
        return f"اعتبار {group_thousands(int(action['amount']) // 10)} تومان"
    if kind == "owner_note":
        return "یادداشت برای مدیر فروشگاه"
    label = "هدیهٔ غافلگیری" if kind == "gift" else "امتیاز"
    return f"{label} {group_thousands(int(action['amount']))} امتیاز"


@bp.route("/scenarios/new", methods=["GET", "POST"])
@allowed("admin", "marketer")
def scenario_new() -> Response | str | tuple[str, int]:
    """Build a new scenario from the form; store it only when every field is right."""
    return _builder(None)


@bp.route("/scenarios/<scenario_id>/edit", methods=["GET", "POST"])
@allowed("admin", "marketer")
def scenario_edit(scenario_id: str) -> Response | str | tuple[str, int]:
    """Change a stored scenario with the same form; it keeps its on/off switch."""
    return _builder(scenario_id)


def _builder(scenario_id: str | None) -> Response | str | tuple[str, int]:
    store_names = _store_names()
    with ctx().engine.connect() as conn:
        existing = None
        if scenario_id is not None:
            existing = conn.execute(
                sa.select(scenarios).where(scenarios.c.id == scenario_id)
            ).first()
            if existing is None:
                abort(404)
        keys = list(conn.execute(sa.select(occasions.c.key).distinct()).scalars())
    errors: dict[str, str] = {}
    new_id = ""
    blocked = scenario_form.unsupported(json.loads(existing.definition)) if existing else ""
    if blocked:  # saving this form would silently drop what it cannot show
        errors["form"] = blocked + "؛ آن را با vafa-cloud scenarios set ویرایش کنید."
    if request.method == "POST" and not blocked:
        check_csrf()
        values = scenario_form.submitted_values(request.form)
        new_id = request.form.get("scenario_id", "").strip()
        if scenario_id is None:
            reason = scenario_form.check_new_id(new_id)
            with ctx().engine.connect() as conn:
                taken = not reason and _exists(conn, new_id)
            if taken:
                reason = TAKEN_FA
            if reason:
                errors["scenario_id"] = reason
        try:
            _, definition = scenario_form.read_form(request.form, list(store_names))
        except scenario_form.FormErrors as exc:
            errors.update(exc.errors)
        if not errors:
            chosen = scenario_id or new_id
            try:
                with ctx().engine.begin() as conn:
                    if scenario_id is None and _exists(conn, chosen):  # made since the check
                        raise _Taken(chosen)
                    enabled = bool(existing.enabled) if existing is not None else False
                    scenario_store.save(conn, chosen, definition, enabled)
            except (_Taken, sa.exc.IntegrityError):  # the same id made at the same moment
                errors["scenario_id"] = TAKEN_FA
            if not errors:
                return redirect(url_for("ops.scenario_page", scenario_id=chosen, saved=1))
    elif existing is not None:
        values = scenario_form.form_values(json.loads(existing.definition))
        if blocked:
            return render_template(
                "ops_blocked.html", scenario_id=scenario_id, reason=errors["form"]
            ), 409
    else:
        values = scenario_form.form_values(
            {"trigger": {"type": "birthday"}, "guardrails": {"period": "year"}}
        )
    page = render_template(
        "ops_builder.html",
        scenario_id=scenario_id,
        new_id=new_id,
        v=values,
        errors=errors,
        stores=store_names,
        occasion_keys=keys,
        triggers=scenario_form.TRIGGERS_FA,
        periods={p: scenario_form.PERIODS_FA[p] for p in ALL_PERIODS},
        tiers={t: scenario_form.TIERS_FA[t] for t in TIERS},
        segments=scenario_form.segments(),
        genders=GENDERS,
        age_groups=scenario_form.AGE_GROUPS_FA,
        provinces=list(provinces()),
    )
    return (page, 400) if errors else page


class _Taken(Exception):
    """A new scenario's id was taken between the form's check and its save."""


def _exists(conn: sa.Connection, scenario_id: str) -> bool:
    found = conn.execute(sa.select(scenarios.c.id).where(scenarios.c.id == scenario_id)).first()
    return found is not None


# --- SMS log --------------------------------------------------------------------------------


@bp.get("/sms")
@allowed("admin", "marketer")
def sms_log() -> str:
    """List sent texts newest first, filtered by status, purpose and Jalali date, paged.

    The one-time codes texted at enrolment are listed and counted with the members' texts
    (from ``mobile_codes``: a code has no member yet), under «کد تأیید».
    """
    status = request.args.get("status", "")
    purpose = request.args.get("purpose", "").strip()
    sent = _texts_sent()
    wheres: list[Any] = []
    errors: dict[str, str] = {}
    if status in STATUSES:
        wheres.append(sent.c.status == status)
    if purpose:
        wheres.append(sent.c.purpose == purpose)
    for name, op in (("from", "ge"), ("to", "lt")):
        text = request.args.get(name, "").strip()
        if not text:
            continue
        try:
            day = parse_jalali(text) + (dt.timedelta(days=1) if op == "lt" else dt.timedelta())
        except BadRequest as exc:
            errors[name] = exc.fa
            continue
        edge = dt.datetime.combine(day, dt.time(), TEHRAN).astimezone(dt.UTC)
        wheres.append(sent.c.created_at >= edge if op == "ge" else sent.c.created_at < edge)
    page = _int_arg("page", 1, 1, 10**6)
    with ctx().engine.connect() as conn:
        total, total_parts, codes = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sent.c.parts), 0),
                sa.func.count().filter(sent.c.kind == "code"),
            ).where(*wheres)
        ).one()
        rows = conn.execute(
            sa.select(sent, members.c.mobile_enc)
            .select_from(sent.outerjoin(members, members.c.id == sent.c.member_id))
            .where(*wheres)
            .order_by(sent.c.created_at.desc(), sent.c.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        purposes = list(
            conn.execute(sa.select(sent.c.purpose).distinct().order_by(sent.c.purpose)).scalars()
        )
    vault = ctx().vault
    texts = [
        {
            "at": row.created_at,
            # A code not yet claimed by an enrolment names no member: its mobile is unknown.
            "mobile": mask_mobile(vault.decrypt(row.member_id, row.mobile_enc))
            if row.mobile_enc is not None
            else "",
            "member_id": row.member_id,
            "purpose": PURPOSES_FA.get(row.purpose, row.purpose),
            "marketing": row.marketing,
            # A service text may carry a one-time code: only marketing texts are shown.
            "body": vault.decrypt(row.id, row.body_enc) if row.marketing else "",
            "parts": row.parts,
            "status": row.status,
            "status_fa": STATUSES_FA.get(row.status, row.status),
            "status_at": row.status_at,
        }
        for row in rows
    ]
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "ops_sms.html",
        texts=texts,
        total=int(total),
        total_parts=int(total_parts),
        codes=int(codes),
        page=page,
        pages=max(1, math.ceil(int(total) / PAGE_SIZE)),
        args=args,
        statuses=STATUSES_FA,
        purposes={p: PURPOSES_FA.get(p, p) for p in purposes},
        errors=errors,
    )


def _texts_sent() -> sa.Subquery:
    """Return the members' texts and the enrolment codes texted, as one table (``kind``)."""
    messages = sa.select(
        sms_messages.c.id,
        sms_messages.c.member_id,
        sms_messages.c.purpose,
        sms_messages.c.marketing,
        sms_messages.c.parts,
        sms_messages.c.body_enc,
        sms_messages.c.status,
        sms_messages.c.created_at,
        sms_messages.c.status_at,
        sa.literal("sms", sa.String(4)).label("kind"),
    )
    codes = mobile_codes.texts_sent().add_columns(sa.literal("code", sa.String(4)).label("kind"))
    return sa.union_all(messages, codes).subquery("sent")


# --- Fleet ----------------------------------------------------------------------------------


@bp.get("/fleet")
@allowed("admin", "marketer", "store_owner")
def fleet_page() -> str:
    """List terminals (a store owner: only their stores'); admins revoke and make codes."""
    return _fleet(None)


def _fleet(code: dict[str, str] | None) -> str:
    with ctx().engine.connect() as conn:
        terminals = fleet(conn)
        names = {
            row.id: row.name for row in conn.execute(sa.select(stores).order_by(stores.c.name))
        }
        if g.role == "store_owner":
            own = set(
                conn.execute(
                    sa.select(user_stores.c.store_id).where(user_stores.c.user_id == g.user_id)
                ).scalars()
            )
            terminals = [t for t in terminals if t["store_id"] in own]
            names = {k: v for k, v in names.items() if k in own}
    for t in terminals:
        t["gap"] = int(t["highest_seq"]) - int(t["contiguous_seq"])
    return render_template(
        "ops_fleet.html",
        terminals=terminals,
        stores=names,
        code=code,
        revoked=request.args.get("revoked", ""),
        error=request.args.get("error", ""),
    )


@bp.route("/fleet/<terminal_id>/revoke", methods=["GET", "POST"])
@allowed("admin")
def fleet_revoke(terminal_id: str) -> Response | str:
    """Ask once more, then revoke a terminal: its next signed request is refused."""
    with ctx().engine.connect() as conn:
        found = [t for t in fleet(conn) if t["id"] == terminal_id]
    if not found:
        abort(404)
    if request.method == "POST":
        check_csrf()
        try:
            with ctx().engine.begin() as conn:
                revoke_terminal(conn, terminal_id)
        except NotFound:
            return redirect(url_for("ops.fleet_page", error="already"))
        return redirect(url_for("ops.fleet_page", revoked=terminal_id))
    return render_template("ops_revoke.html", t=found[0])


@bp.post("/fleet/codes")
@allowed("admin")
def fleet_code() -> str:
    """Make a one-time enrolment code for a store and show it once, in this answer only."""
    check_csrf()
    store_id = request.form.get("store_id", "")
    try:
        with ctx().engine.begin() as conn:
            code = create_enrolment_code(conn, store_id)
    except NotFound:
        abort(404)
    # Not through the session: Flask's session cookie is signed, not encrypted.
    return _fleet({"code": code, "store": store_id})


@bp.post("/fleet/stores")
@allowed("admin")
def fleet_store() -> Response | tuple[str, int]:
    """Add a store, so that its terminals can be enrolled."""
    check_csrf()
    try:
        with ctx().engine.begin() as conn:
            create_store(conn, request.form.get("name", ""))
    except BadRequest:
        return redirect(url_for("ops.fleet_page", error="store_name"))
    return redirect(url_for("ops.fleet_page"))


# --- Users ----------------------------------------------------------------------------------


@bp.get("/users")
@allowed("admin")
def user_list() -> str:
    """List HQ users with role, stores and state; never their hashes."""
    return _users_page({}, {})


def _users_page(errors: dict[str, str], typed: dict[str, Any]) -> str:
    with ctx().engine.connect() as conn:
        names = {
            row.id: row.name for row in conn.execute(sa.select(stores).order_by(stores.c.name))
        }
        owned: dict[int, list[str]] = {}
        owned_ids: dict[int, set[str]] = {}
        for user_id, store_id in conn.execute(sa.select(user_stores)):
            owned.setdefault(user_id, []).append(names.get(store_id, store_id))
            owned_ids.setdefault(user_id, set()).add(store_id)
        people = [
            {
                "id": row.id,
                "username": row.username,
                "role": row.role,
                "role_fa": ROLES_FA.get(row.role, row.role),
                "created_at": row.created_at,
                "disabled": row.password_hash.startswith(DISABLED),
                "stores": sorted(owned.get(row.id, [])),
                "store_ids": owned_ids.get(row.id, set()),
                "me": row.username == session.get("user"),
            }
            for row in conn.execute(
                sa.select(
                    users.c.id,
                    users.c.username,
                    users.c.role,
                    users.c.created_at,
                    users.c.password_hash,
                ).order_by(users.c.username)
            )
        ]
    return render_template(
        "ops_users.html",
        people=people,
        stores=names,
        roles=ROLES_FA,
        errors=errors,
        typed=typed,
        done=request.args.get("done", ""),
    )


@bp.post("/users")
@allowed("admin")
def user_create() -> Response | str | tuple[str, int]:
    """Create a user; a store owner's stores go into user_stores in the same transaction."""
    check_csrf()
    form = request.form
    username, password, role = (
        form.get("username", "").strip(),
        form.get("password", ""),
        form.get("role", ""),
    )
    chosen = form.getlist("stores")
    typed = {"username": username, "role": role, "stores": chosen}
    errors: dict[str, str] = {}
    with ctx().engine.connect() as conn:
        known = set(conn.execute(sa.select(stores.c.id)).scalars())
        if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
            errors["username"] = "این نام کاربری گرفته شده است"
    if not username or len(username) > 80 or not username.isprintable():
        errors["username"] = "نام کاربری ۱ تا ۸۰ نویسه است"
    if len(password) < 8:
        errors["password"] = "گذرواژه دست‌کم ۸ نویسه است"
    if role not in ROLES:
        errors["role"] = "نقش را انتخاب کنید"
    if role == "store_owner" and not chosen:
        errors["stores"] = "فروشگاه‌های این صاحب فروشگاه را انتخاب کنید"
    if any(store_id not in known for store_id in chosen):
        errors["stores"] = "فروشگاه انتخاب‌شده پیدا نشد"
    if errors:
        return _users_page(errors, typed), 400
    with ctx().engine.begin() as conn:
        create_user(conn, username, password, role)
        if role == "store_owner":
            user_id = conn.execute(
                sa.select(users.c.id).where(users.c.username == username)
            ).scalar_one()
            conn.execute(
                sa.insert(user_stores),
                [{"user_id": user_id, "store_id": s} for s in sorted(set(chosen))],
            )
    return redirect(url_for("ops.user_list", done="created"))


@bp.post("/users/<int:user_id>/password")
@allowed("admin")
def user_password(user_id: int) -> Response | str | tuple[str, int]:
    """Set a new password (a disabled account stays disabled)."""
    check_csrf()
    password = request.form.get("password", "")
    if len(password) < 8:
        return _users_page({f"password-{user_id}": "گذرواژه دست‌کم ۸ نویسه است"}, {}), 400
    with ctx().engine.begin() as conn:
        row = _user(conn, user_id)
        prefix = DISABLED if row.password_hash.startswith(DISABLED) else ""
        conn.execute(
            sa.update(users)
            .where(users.c.id == user_id)
            .values(password_hash=prefix + hash_password(password))
        )
    return redirect(url_for("ops.user_list", done="password"))


@bp.post("/users/<int:user_id>/stores")
@allowed("admin")
def user_stores_set(user_id: int) -> Response | str | tuple[str, int]:
    """Give a store owner exactly the chosen stores; their next page sees only those."""
    check_csrf()
    chosen = request.form.getlist("stores")
    with ctx().engine.begin() as conn:
        row = _user(conn, user_id)
        known = set(conn.execute(sa.select(stores.c.id)).scalars())
        error = ""
        if row.role != "store_owner":
            error = "فقط صاحب فروشگاه فروشگاه دارد"
        elif not chosen:
            error = "دست‌کم یک فروشگاه را انتخاب کنید"
        elif any(store_id not in known for store_id in chosen):
            error = "فروشگاه انتخاب‌شده پیدا نشد"
        if error:
            return _users_page({f"stores-{user_id}": error}, {}), 400
        set_user_stores(conn, row.username, chosen)
    return redirect(url_for("ops.user_list", done="stores"))


@bp.post("/users/<int:user_id>/state")
@allowed("admin")
def user_state(user_id: int) -> Response | str | tuple[str, int]:
    """Disable an account (and revoke its API tokens), or enable it again."""
    check_csrf()
    disable = request.form.get("disable") == "1"
    with ctx().engine.begin() as conn:
        row = _user(conn, user_id)
        if row.id == g.user_id:
            return _users_page({f"state-{user_id}": "حساب خودتان را نمی‌توانید ببندید"}, {}), 400
        stored = row.password_hash.removeprefix(DISABLED)
        conn.execute(
            sa.update(users)
            .where(users.c.id == user_id)
            .values(password_hash=(DISABLED + stored) if disable else stored)
        )
        if disable:
            conn.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
    return redirect(url_for("ops.user_list", done="disabled" if disable else "enabled"))


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
@allowed("admin")
def user_delete(user_id: int) -> Response | str | tuple[str, int]:
    """Ask once more, then delete an account with its stores and API tokens."""
    with ctx().engine.connect() as conn:
        row = _user(conn, user_id)
    if row.id == g.user_id:
        return _users_page({f"state-{user_id}": "حساب خودتان را نمی‌توانید پاک کنید"}, {}), 400
    if request.method == "GET":
        return render_template("ops_user_delete.html", u=row, role_fa=ROLES_FA.get(row.role))
    check_csrf()
    with ctx().engine.begin() as conn:
        conn.execute(sa.delete(user_stores).where(user_stores.c.user_id == user_id))
        conn.execute(sa.delete(api_tokens).where(api_tokens.c.user_id == user_id))
        conn.execute(sa.delete(users).where(users.c.id == user_id))
    return redirect(url_for("ops.user_list", done="deleted"))


def _user(conn: sa.Connection, user_id: int) -> Any:
    row = conn.execute(
        sa.select(users.c.id, users.c.username, users.c.role, users.c.password_hash).where(
            users.c.id == user_id
        )
    ).first()
    if row is None:
        abort(404)
    return row

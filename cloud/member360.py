"""HQ's Member 360: find a member, see everything about them on one timeline, give points.

Search by mobile (any form; found by its keyed hash), card code or member id. The page
shows the chain-wide balance and any overdraft, then purchases, points and credit given,
coupons, texts, feedback and scenario entries, newest first. A manual gift of points needs
a reason and is kept with who gave it (the grants table is the audit log). Admins and
marketers see every member; a store owner finds and opens only their stores' members
(``cloud.access``: a member of another store is "not found" / 404), sees only the sales and
feedback of their stores on the timeline, and gives no points (gifts cost the chain).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from cloud.access import current_scope
from cloud.balances import chain_balances
from cloud.context import ctx
from cloud.errors import BadRequest
from cloud.grants import create_grant
from cloud.hq import login_required
from cloud.imports.orders import CHANNELS_FA
from cloud.mobile_codes import is_verified
from cloud.tables import (
    coupons,
    feedback,
    grants,
    member_overdrafts,
    members,
    sales,
    scenario_entries,
    sms_messages,
    stores,
)
from common.errors import InvalidMobile
from common.mobile import looks_like_mobile, mask_mobile, normalize_mobile
from common.persian import is_plain_number, to_ascii_digits, to_persian_digits

bp = Blueprint("member360", __name__, url_prefix="/hq/members")
ALLOWED = ("admin", "marketer", "store_owner")
GIVERS = ("admin", "marketer")
bp.add_app_template_filter(to_persian_digits, "fa")


def _allowed() -> None:
    if current_scope().role not in ALLOWED:
        abort(403)


@bp.get("/")
@login_required
def search() -> Response | str:
    """Find a member by mobile, card code or id."""
    _allowed()
    query = to_ascii_digits(request.args.get("q", "")).strip()
    if not query:
        return render_template("members.html", query="", error="")
    member_id = _find(query)
    if member_id is None:
        return render_template("members.html", query=query, error="عضوی با این مشخصات پیدا نشد.")
    return redirect(url_for("member360.member", member_id=member_id))


def _find(query: str) -> str | None:
    with ctx().engine.connect() as conn:
        if looks_like_mobile(query):
            try:
                digest = ctx().vault.lookup_hash(normalize_mobile(query))
            except InvalidMobile:
                return None
            condition = members.c.mobile_hmac == digest
        else:
            condition = sa.or_(members.c.card_code == query, members.c.id == query)
        found: str | None = conn.execute(
            sa.select(members.c.id).where(condition, current_scope().members())
        ).scalar()
    return found


@bp.route("/<member_id>", methods=["GET", "POST"])
@login_required
def member(member_id: str) -> Response | str | tuple[str, int]:
    """Show one member's 360 view; take a manual gift of points."""
    _allowed()
    error, status = "", 200
    if request.method == "POST":
        from common.webauth import check_csrf

        check_csrf()
        if current_scope().role not in GIVERS:
            abort(403)
        try:
            _give(member_id)
            return redirect(url_for("member360.member", member_id=member_id, given=1))
        except BadRequest as exc:
            error, status = exc.fa, 400
    with ctx().engine.connect() as conn:
        row = conn.execute(
            sa.select(members, stores.c.name.label("store_name"))
            .join(stores, stores.c.id == members.c.home_store_id)
            .where(members.c.id == member_id, current_scope().members())
        ).first()
        if row is None:
            abort(404)  # also another store's member: nothing says it exists
        vault = ctx().vault
        person = {
            "id": row.id,
            "name": vault.decrypt(row.id, row.name_enc),
            "mobile": mask_mobile(vault.decrypt(row.id, row.mobile_enc)),
            "card_code": row.card_code,
            "tier": row.tier,
            "consent": row.marketing_consent,
            "mobile_verified": is_verified(conn, row.id),
            "store": row.store_name,
            "balance": chain_balances(conn, [row.id])[row.id],
            "owed": conn.execute(
                sa.select(member_overdrafts.c.points).where(member_overdrafts.c.member_id == row.id)
            ).scalar()
            or 0,
        }
        timeline = _timeline(conn, row.id)
    return render_template(
        "member.html",
        m=person,
        timeline=timeline,
        error=error,
        given=request.args.get("given") == "1",
    ), status


def _give(member_id: str) -> None:
    amount = to_ascii_digits(request.form.get("points", "")).strip()
    reason = request.form.get("reason", "").strip()
    if not is_plain_number(amount) or not 0 < int(amount) <= 100_000:
        raise BadRequest(
            "points must be 1..100000", fa="تعداد امتیاز را درست وارد کنید (۱ تا ۱۰۰٬۰۰۰)"
        )
    if not reason:
        raise BadRequest("a reason is required", fa="دلیل این امتیاز را بنویسید")
    with ctx().engine.begin() as conn:
        create_grant(
            conn,
            member_id,
            "points",
            int(amount),
            "manual",
            f"hq:{session['user']}",
            note=reason[:200],
        )


def _timeline(conn: sa.Connection, member_id: str) -> list[dict[str, Any]]:
    vault = ctx().vault
    items: list[dict[str, Any]] = []
    for s in conn.execute(
        sa.select(sales, stores.c.name.label("store_name"))
        .join(stores, stores.c.id == sales.c.store_id)
        .where(sales.c.member_id == member_id, current_scope().stores(sales.c.store_id))
    ):
        online = CHANNELS_FA.get(s.channel)
        what = f"سفارش {online} — {s.store_name}" if online else f"خرید در {s.store_name}"
        items.append(
            {
                "at": s.received_at,
                "kind": "sale",
                "what": what,
                "rial": s.amount_rial,
                "points": s.points_earned - s.points_redeemed,
                "extra": "برگشت خورده" if s.refunded_at else "",
            }
        )
    for g in conn.execute(sa.select(grants).where(grants.c.member_id == member_id)):
        label = "اعتبار" if g.kind == "credit" else "امتیاز"
        items.append(
            {
                "at": g.created_at,
                "kind": "grant",
                "what": f"{label} هدیه ({_reason_fa(g.reason)})",
                "points": g.amount if g.kind == "points" else None,
                "rial": g.amount if g.kind == "credit" else None,
                "extra": f"{g.note} — {g.created_by}" if g.note else g.created_by,
            }
        )
        if g.gift and g.handed_over_at is not None:
            items.append(
                {
                    "at": g.handed_over_at,
                    "kind": "gift",
                    "what": f"هدیهٔ شگفتانه در صندوق تحویل شد ({_reason_fa(g.reason)})",
                    "points": None,
                    "rial": None,
                    "extra": g.note,
                }
            )
    for c in conn.execute(sa.select(coupons).where(coupons.c.member_id == member_id)):
        items.append(
            {
                "at": c.created_at,
                "kind": "coupon",
                "what": f"کد تخفیف {c.code}",
                "rial": c.value_rial,
                "points": None,
                "extra": "استفاده شده" if c.uses else "",
            }
        )
    for t in conn.execute(sa.select(sms_messages).where(sms_messages.c.member_id == member_id)):
        items.append(
            {
                "at": t.created_at,
                "kind": "sms",
                "what": f"پیامک ({t.purpose})",
                "rial": None,
                "points": None,
                # A service text may carry a one-time code: only marketing texts are shown.
                "extra": (
                    f"{vault.decrypt(t.id, t.body_enc)} — {t.status}"
                    if t.marketing
                    else f"(متن پیامک خدماتی نمایش داده نمی‌شود) — {t.status}"
                ),
            }
        )
    for f in conn.execute(
        sa.select(feedback).where(
            feedback.c.member_id == member_id, current_scope().stores(feedback.c.store_id)
        )
    ):
        comment = vault.decrypt(f.id, f.comment_enc) if f.comment_enc else ""
        items.append(
            {
                "at": f.created_at,
                "kind": "feedback",
                "what": f"نظرسنجی: {f.nps} از ۱۰",
                "rial": None,
                "points": None,
                "extra": comment,
            }
        )
    for e in conn.execute(
        sa.select(scenario_entries).where(scenario_entries.c.member_id == member_id)
    ):
        items.append(
            {
                "at": e.created_at,
                "kind": "scenario",
                "what": f"سناریو {e.scenario_id}",
                "rial": None,
                "points": None,
                "extra": f"{e.arm} — {e.outcome}",
            }
        )
    return sorted(items, key=lambda item: _aware(item["at"]), reverse=True)


REASONS_FA = {"manual": "دستی", "referral": "معرفی دوستان", "survey": "نظرسنجی", "review": "نقد"}


def _reason_fa(reason: str) -> str:
    """Say in Persian why points were given."""
    if reason.startswith("scenario:"):
        return f"سناریو {reason.removeprefix('scenario:')}"
    return REASONS_FA.get(reason, reason)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

"""The member's feedback page behind the receipt's QR: NPS 0–10 and a comment, no login.

The link is ``/f/<token>``: a ``VF1`` token signed by the terminal that printed the receipt
(its enrolled Ed25519 key), naming the sale and an expiry. One answer per sale. A score
of 6 or less runs the enabled feedback scenarios (the apology) for the member at once. The
comment's sentiment (``cloud/analytics/sentiment.py``) is stored with it, in clear.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from cloud.analytics.satisfaction import sentiment_of
from cloud.context import ctx
from cloud.storage import utcnow
from cloud.tables import feedback, sales, terminals
from common import tokens
from common.errors import SignatureError
from common.persian import is_plain_number, now_tehran, to_ascii_digits
from common.protocol import new_id
from common.signing import load_public_key

bp = Blueprint("feedback", __name__)
log = logging.getLogger(__name__)
PREFIX = tokens.FEEDBACK_PREFIX
MAX_COMMENT = 1000
NEGATIVE_NPS = 6
_FA_BAD = "این پیوند نظرسنجی معتبر نیست"


def _sale_of(token: str) -> tuple[str, sa.Row[Any]]:
    """Return (sale id, terminal row) a valid token names; raise SignatureError if not."""
    claims = tokens.read(PREFIX, token, _FA_BAD)
    terminal_id, sale_id = claims.get("t"), claims.get("s")
    if not isinstance(terminal_id, str) or not isinstance(sale_id, str) or len(sale_id) > 32:
        raise SignatureError("feedback token: no sale or terminal", fa=_FA_BAD)
    with ctx().engine.connect() as conn:
        terminal = conn.execute(sa.select(terminals).where(terminals.c.id == terminal_id)).first()
    if terminal is None:
        raise SignatureError("feedback token: unknown terminal", fa=_FA_BAD)
    tokens.verify(
        PREFIX,
        token,
        load_public_key(terminal.public_key),
        now_tehran(),
        _FA_BAD,
        "مهلت این نظرسنجی تمام شده است",
    )
    return sale_id, terminal


@bp.route("/f/<token>", methods=["GET", "POST"])
def answer(token: str) -> Response | tuple[str, int] | str:
    """Show the form, or take the member's answer once."""
    try:
        sale_id, terminal = _sale_of(token)
    except SignatureError as exc:
        return render_template("feedback.html", state="invalid", message=exc.fa), 404
    with ctx().engine.connect() as conn:
        done = conn.execute(sa.select(feedback.c.id).where(feedback.c.sale_id == sale_id)).first()
    if done is not None:
        return render_template("feedback.html", state="done")
    if request.method == "GET":
        return render_template("feedback.html", state="ask", scores=range(11))
    nps, comment = request.form.get("nps", ""), request.form.get("comment", "").strip()
    nps = to_ascii_digits(nps).strip()
    if not is_plain_number(nps) or not 0 <= int(nps) <= 10 or len(comment) > MAX_COMMENT:
        message = (
            "لطفاً امتیازی از ۰ تا ۱۰ بدهید"
            if not is_plain_number(nps) or int(nps) > 10
            else ("توضیح شما بیش از اندازه بلند است")
        )
        return render_template(
            "feedback.html", state="ask", scores=range(11), error=message, comment=comment
        ), 400
    member_id = _store(sale_id, terminal, int(nps), comment)
    if int(nps) <= NEGATIVE_NPS and member_id:
        _apologise(member_id)
    return render_template("feedback.html", state="thanks")


def _store(sale_id: str, terminal: sa.Row[Any], nps: int, comment: str) -> str | None:
    feedback_id = new_id()
    vault = ctx().vault
    try:
        with ctx().engine.begin() as conn:
            member_id = conn.execute(
                sa.select(sales.c.member_id).where(sales.c.id == sale_id)
            ).scalar()
            conn.execute(
                sa.insert(feedback).values(
                    id=feedback_id,
                    sale_id=sale_id,
                    terminal_id=terminal.id,
                    store_id=terminal.store_id,
                    member_id=member_id,
                    nps=nps,
                    comment_enc=vault.encrypt(feedback_id, comment) if comment else None,
                    created_at=utcnow(),
                    **sentiment_of(comment),
                )
            )
    except sa.exc.IntegrityError:  # the same form sent twice at once: the first one counts
        return None
    return str(member_id) if member_id else None


def _apologise(member_id: str) -> None:
    from cloud.scenarios.store import run_triggered
    from cloud.sms.providers import provider_from_config

    provider = provider_from_config(
        dict(current_app.config), Path(current_app.instance_path), timeout=2.0
    )  # the customer is waiting for the thank-you page
    try:
        done = run_triggered(
            ctx().engine, ctx().vault, provider, now_tehran(), "feedback", member_id
        )
    except Exception:  # the answer is stored: the customer is thanked; the daily run retries
        log.exception("negative feedback: scenarios failed for member %s", member_id)
        return
    log.info("negative feedback: scenarios %s", done)

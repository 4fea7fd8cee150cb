"""The cashier's touch screen: PIN, identify, member card, sale, redeem, refund, enrol.

Server-rendered forms (each one a whole step, so nothing is stored half-way) plus a small
script that polls ``/cashier/scans`` so a scan reaches the page live.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from agent import gifts, members
from agent.errors import PrinterError, UnknownMember
from agent.members import Member, points_elsewhere, suggestions
from agent.mobile_codes import MobileCodes
from agent.mobile_codes import forget as forget_check
from agent.offline_queue import outbox
from agent.rules import TIER_LABELS
from agent.terminal import Terminal
from common.demographics import provinces
from common.errors import VafaError
from common.persian import (
    MoneyUnit,
    format_money,
    group_thousands,
    is_plain_number,
    jalali_date,
    to_ascii_digits,
)
from common.webauth import LoginLimiter, check_csrf, hash_password, verify_password

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
PIN_PREFIX = "cashier_pin:"
ENROL_NOTICE_KEY = "enrol_notice"  # the code step's notice, shown once on the new card
bp = Blueprint("cashier", __name__, url_prefix="/cashier")


class ScanFeed:
    """The latest scans, numbered, for the cashier screen to poll (fed by the scanner thread)."""

    def __init__(self, keep: int = 20) -> None:
        self._lock = threading.Lock()
        self._scans: list[tuple[int, str]] = []
        self._keep = keep
        self._seq = 0

    def push(self, code: str) -> None:
        """Record one scanned code."""
        with self._lock:
            self._seq += 1
            self._scans = [*self._scans, (self._seq, code)][-self._keep :]

    def since(self, seq: int) -> tuple[int, list[str]]:
        """Return the newest sequence number and the codes scanned after ``seq``."""
        with self._lock:
            return self._seq, [code for n, code in self._scans if n > seq]


def set_cashier_pin(terminal: Terminal, name: str, pin: str) -> None:
    """Store a cashier's PIN (4 to 8 digits, any script) as a slow hash."""
    digits = to_ascii_digits(pin.strip())
    if not (is_plain_number(digits) and 4 <= len(digits) <= 8):
        raise ValueError("a cashier PIN is 4 to 8 digits")
    name = name.strip()
    if not name or len(name) > 40:
        raise ValueError("a cashier needs a name of 1 to 40 characters")
    terminal.conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (PIN_PREFIX + name, hash_password(digits)),
    )


def remove_cashier(terminal: Terminal, name: str) -> bool:
    """Remove a cashier's PIN; tell whether there was one."""
    cursor = terminal.conn.execute(
        "DELETE FROM settings WHERE key = ?", (PIN_PREFIX + name.strip(),)
    )
    return cursor.rowcount > 0


def cashier_names(terminal: Terminal) -> list[str]:
    """List the cashiers who have a PIN."""
    rows = terminal.conn.execute(
        "SELECT key FROM settings WHERE key LIKE ? ORDER BY key", (PIN_PREFIX + "%",)
    ).fetchall()
    return [str(row[0])[len(PIN_PREFIX) :] for row in rows]


def cashier_for_pin(terminal: Terminal, pin: str, disabled_too: bool = False) -> str | None:
    """Return the name of the cashier whose PIN this is, or None; ``disabled_too`` also
    matches a disabled cashier's PIN (stored behind "!"), which stays theirs alone."""
    digits = to_ascii_digits(pin.strip())
    rows = terminal.conn.execute(
        "SELECT key, value FROM settings WHERE key LIKE ? ORDER BY key", (PIN_PREFIX + "%",)
    ).fetchall()
    for key, stored in rows:
        hashed = str(stored).lstrip("!") if disabled_too else str(stored)
        if verify_password(digits, hashed):
            return str(key)[len(PIN_PREFIX) :]
    return None


class DeviceStatusCache:
    """The printer's and drawer's state for the till's header, asked at most every ``ttl``
    seconds: each question is a DLE EOT round trip (or a serial line read), and the screen
    polls every 0.7 s. A sale holding the device lock is never waited for: the screen keeps
    the last answer until the printer is free to be asked."""

    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.asked_at = float("-inf")
        self.last: dict[str, Any] = {}

    def get(self, terminal: Terminal, lock: threading.Lock) -> dict[str, Any]:
        """Return the device status, asking the devices if the last answer is stale."""
        if self.clock() - self.asked_at < self.ttl or not lock.acquire(blocking=False):
            return self.last
        try:
            self.last = _device_strip(terminal.device_status())
            self.asked_at = self.clock()
        except Exception as exc:  # the header never breaks the till
            log.warning("device status failed: %r", exc)
        finally:
            lock.release()
        return self.last


def _device_strip(status: dict[str, Any]) -> dict[str, Any]:
    """Reduce Terminal.device_status() to what the till's header shows, with a level each."""
    if not status["printer_ready"]:
        printer = "bad"
    elif not status["printer_known"]:
        printer = "unknown"
    else:
        printer = "warn" if status["paper_near_end"] else "ok"
    printer_fa = status["printer_fa"]
    if printer == "warn":
        printer_fa = "کاغذ چاپگر رو به اتمام است"
    drawer = {True: "warn", False: "ok", None: "unknown"}[status["drawer_open"]]
    return {
        "printer": printer,
        "printer_fa": printer_fa,
        "drawer": drawer,
        "drawer_fa": status["drawer_fa"],
    }


def _devices() -> dict[str, Any]:
    cache: DeviceStatusCache = current_app.extensions["vafa_device_status"]
    return cache.get(_terminal(), _lock())


def _terminal() -> Terminal:
    terminal: Terminal = current_app.extensions["vafa_terminal"]
    return terminal


def _lock() -> threading.Lock:
    lock: threading.Lock = current_app.extensions["vafa_flow_lock"]
    return lock


def _unit() -> MoneyUnit:
    return "rial" if _terminal().config.money_unit == "rial" else "toman"


def _still_active(name: str) -> bool:
    """Tell whether a signed-in cashier still has an enabled PIN (the owner may have
    disabled or renamed them since): the screen locks at their next request."""
    row = (
        _terminal()
        .conn.execute("SELECT value FROM settings WHERE key = ?", (PIN_PREFIX + name,))
        .fetchone()
    )
    return row is not None and not str(row[0]).startswith("!")


def _cashier_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        name = session.get("cashier")
        if not isinstance(name, str) or not _still_active(name):
            session.pop("cashier", None)
            return redirect(url_for("cashier.pin"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def parse_amount(raw: str, unit: MoneyUnit) -> int:
    """Turn a typed amount (any digits, separators) in the screen's unit into Rials."""
    text = to_ascii_digits(raw).replace(",", "").replace("٬", "").replace(" ", "").strip()
    if not is_plain_number(text) or len(text) > 13:
        raise VafaError(f"bad amount {raw[:20]!r}", fa="مبلغ خرید را با رقم وارد کنید")
    return int(text) * (10 if unit == "toman" else 1)


def _parse_credit(raw: str, unit: MoneyUnit) -> int:
    """Turn the credit to spend (in the screen's unit; empty is none) into Rials."""
    try:
        return parse_amount(raw.strip() or "0", unit)
    except VafaError as exc:
        raise VafaError(f"bad credit {raw[:20]!r}", fa="اعتبار را با رقم وارد کنید") from exc


def _parse_points(raw: str) -> int:
    text = to_ascii_digits(raw).replace(",", "").replace("٬", "").strip() or "0"
    if not is_plain_number(text) or len(text) > 9:
        raise VafaError(f"bad points {raw[:20]!r}", fa="امتیاز را با رقم وارد کنید")
    return int(text)


def member_card(terminal: Terminal, member: Member) -> dict[str, Any]:
    """Collect what the member card shows."""
    flow = terminal.flow
    balance = flow.balance(member.id)
    return {
        "id": member.id,
        "name": member.name,
        "tier": TIER_LABELS.get(member.tier, member.tier),
        "balance": balance,
        "elsewhere": points_elsewhere(terminal.conn, member.id),
        "credit_rial": flow.credit(member.id),
        "coupons": [
            {
                **dataclasses.asdict(c),
                "expires": jalali_date(dt.datetime.fromisoformat(c.expires_at)),
            }
            for c in flow.coupons(member.id)
        ],
        "redeem_cap": flow.redeem_room(member.id),
        "point_value_rial": flow.rules.point_value_rial,
        "suggestions": suggestions(terminal.conn, member.id),
        "gifts": gifts.for_member(terminal.conn, member.id),
    }


def _screen(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    terminal = _terminal()
    depth = outbox.depth(terminal.conn)
    feed: ScanFeed = current_app.extensions["vafa_scans"]
    return render_template(
        template,
        scan_seq=feed.since(0)[0],  # the page acts on scans made after it was drawn
        pos_seq=_pos_sales().since(0)[0],  # and shows POS sales made after it was drawn
        cashier=session.get("cashier", ""),
        queue_depth=depth,
        devices=_devices(),
        unit=_unit(),
        **context,
    ), status


@bp.route("/pin", methods=["GET", "POST"])
def pin() -> Response | tuple[str, int]:
    """Ask for a cashier PIN before anything else."""
    error = ""
    if request.method == "POST":
        check_csrf()
        limiter: LoginLimiter = current_app.extensions["vafa_pin_limiter"]
        client = request.remote_addr or "?"
        if limiter.blocked(client):
            return _screen("cashier/pin.html", 429, error="تلاش‌های ناموفق زیاد بود؛ کمی صبر کنید.")
        name = cashier_for_pin(_terminal(), request.form.get("pin", ""))
        if name is not None:
            limiter.succeeded(client)
            csrf = session.get("csrf")
            session.clear()
            if csrf:
                session["csrf"] = csrf
            session["cashier"] = name
            return redirect(url_for("cashier.home"))
        limiter.failed(client)
        error = "رمز صندوق‌دار درست نیست."
    return _screen("cashier/pin.html", 401 if error else 200, error=error)


@bp.post("/lock")
def lock() -> Response:
    """Lock the screen: the next cashier types a PIN."""
    check_csrf()
    session.pop("cashier", None)
    session.pop("last_sale", None)
    return redirect(url_for("cashier.pin"))


@bp.get("/")
@_cashier_required
def home() -> tuple[str, int]:
    """Show the identify step."""
    return _screen("cashier/identify.html", error="", mobile="")


@bp.post("/identify")
@_cashier_required
def identify() -> Response | tuple[str, int]:
    """Find a member by a scan or a typed mobile."""
    check_csrf()
    raw = request.form.get("code", "")
    try:
        with _lock():
            member = _terminal().flow.identify(raw)
    except VafaError as exc:
        log.info("identify refused: %s", exc)
        return _screen("cashier/identify.html", 404, error=exc.fa, mobile=raw)
    return redirect(url_for("cashier.member", member_id=member.id))


@bp.get("/member/<member_id>")
@_cashier_required
def member(member_id: str) -> tuple[str, int]:
    """Show the member card and the sale form (and, once, the enrolment's notice)."""
    enrolled = session.pop(ENROL_NOTICE_KEY, None)
    notice = ""
    if isinstance(enrolled, dict) and enrolled.get("member") == member_id:
        notice = str(enrolled.get("text", ""))
    return _member_screen(member_id, "", notice=notice)


def _member_screen(
    member_id: str, error: str, status: int = 200, notice: str = ""
) -> tuple[str, int]:
    terminal = _terminal()
    try:
        with _lock():
            found = members.get(terminal.conn, terminal.vault, member_id)
            card = member_card(terminal, found)
    except VafaError as exc:
        return _screen("cashier/identify.html", 404, error=exc.fa, mobile="")
    typed = {k: request.form.get(k, "") for k in ("amount", "redeem", "credit")} if error else {}
    return _screen(
        "cashier/member.html", status, card=card, error=error, typed=typed, notice=notice
    )


@bp.post("/gift")
@_cashier_required
def gift_hand_over() -> tuple[str, int]:
    """Hand a surprise gift over (recorded once however often pressed) and print its slip."""
    check_csrf()
    terminal = _terminal()
    member_id = request.form.get("member_id", "")
    grant_id = request.form.get("grant_id", "")
    try:
        with _lock():
            member = members.get(terminal.conn, terminal.vault, member_id)
            gift, _fresh = gifts.hand_over(
                terminal.conn, terminal.vault, grant_id, member_id, str(session["cashier"])
            )
    except VafaError as exc:
        log.info("gift hand-over refused: %s", exc)
        return _member_screen(member_id, exc.fa, 400)
    try:
        with _lock():
            gifts.print_slip(terminal, gift, member)
    except PrinterError as exc:
        log.warning("gift slip not printed for grant %s: %s", grant_id, exc)
        return _member_screen(member_id, "هدیه ثبت شد ولی برگهٔ هدیه چاپ نشد: " + exc.fa, 503)
    return _member_screen(member_id, "", notice="هدیه تحویل شد و برگهٔ آن چاپ شد.")


@bp.post("/sale")
@_cashier_required
def sale() -> Response | tuple[str, int]:
    """Record a sale (award, and redeem if asked), print the receipt and open the drawer."""
    check_csrf()
    terminal = _terminal()
    member_id = request.form.get("member_id", "")
    try:
        amount = parse_amount(request.form.get("amount", ""), _unit())
        redeem = _parse_points(request.form.get("redeem", ""))
        credit = _parse_credit(request.form.get("credit", ""), _unit())
        with _lock():
            coupon = request.form.get("coupon", "").strip() or None
            result = terminal.flow.sale(
                member_id, amount, redeem_points=redeem, redeem_credit_rial=credit, coupon=coupon
            )
    except VafaError as exc:
        log.info("sale refused: %s", exc)
        return _member_screen(member_id, exc.fa, 400)
    session["last_sale"] = result.sale_id
    printed = True
    try:
        with _lock():
            terminal.print_receipt(result, kick_drawer=True)
    except PrinterError as exc:
        log.warning("receipt not printed for sale %s: %s", result.sale_id, exc)
        printed = False
    return _screen("cashier/done.html", result=result, printed=printed, refunded=None)


@bp.post("/refund")
@_cashier_required
def refund() -> tuple[str, int]:
    """Void the last sale made on this screen."""
    check_csrf()
    sale_id = session.get("last_sale")
    if not isinstance(sale_id, str):
        return _screen("cashier/identify.html", 400, error="خریدی برای برگشت نیست.", mobile="")
    try:
        with _lock():
            refunded = _terminal().flow.refund(sale_id)
    except VafaError as exc:
        log.info("refund refused: %s", exc)
        return _screen("cashier/identify.html", 400, error=exc.fa, mobile="")
    session.pop("last_sale", None)
    return _screen("cashier/done.html", result=None, printed=False, refunded=refunded)


@bp.post("/drawer")
@_cashier_required
def drawer() -> Response | tuple[str, int]:
    """Open the cash drawer."""
    check_csrf()
    try:
        with _lock():
            _terminal().drawer.kick()
    except VafaError as exc:
        log.warning("drawer did not open: %s", exc)
        return _screen("cashier/identify.html", 503, error=exc.fa, mobile="")
    return redirect(url_for("cashier.home"))


@bp.route("/enrol", methods=["GET", "POST"])
@_cashier_required
def enrol() -> Response | tuple[str, int]:
    """Enrol a new member in one form, after the mobile's one-time code (``enrol_otp``)."""
    fields = ("mobile", "name", "birthday", "referral", "gender", "province", "city", "consent")
    form = {k: request.form.get(k, "") for k in (*fields, "otp")}  # otp: the one-time code
    page: dict[str, Any] = {"places": provinces(), "otp": _terminal().config.enrol_otp}
    if request.method == "GET":
        form["mobile"] = request.args.get("mobile", "")
        return _screen("cashier/enrol.html", form=form, error="", **page)
    check_csrf()
    birthday = to_ascii_digits(form["birthday"]).strip().replace("/", "-") or None
    codes: MobileCodes = current_app.extensions["vafa_mobile_codes"]
    try:
        step = codes.step(
            form["mobile"], form["otp"], request.form.get("action") == "send", session, _is_member
        )
        if not step.enrol:
            page.update(notice=step.notice, code_sent=step.code_sent)
            return _screen("cashier/enrol.html", form=form, error="", **page)
        with _lock():
            created = _terminal().flow.enrol(
                form["mobile"],
                form["name"],
                form["consent"] == "yes",
                birthday=birthday,
                referred_by=form["referral"].strip() or None,
                gender=form["gender"] or None,
                province=form["province"] or None,
                city=form["city"] or None,
                mobile_check=step.check_id,
            )
    except VafaError as exc:
        log.info("enrolment refused: %s", exc)
        page["code_sent"] = bool(form["otp"])
        return _screen("cashier/enrol.html", 400, form=form, error=exc.fa, **page)
    forget_check(session)
    if step.notice:  # enrolled unverified: the card says why no code was checked
        session[ENROL_NOTICE_KEY] = {"member": created.id, "text": step.notice}
    return redirect(url_for("cashier.member", member_id=created.id))


def _is_member(mobile: str) -> bool:
    """Tell whether a mobile is already a member here (no code is texted for it)."""
    with _lock():
        try:
            _terminal().flow.identify(mobile)
        except UnknownMember:
            return False
    return True


@bp.get("/scans")
@_cashier_required
def scans() -> Response:
    """Return scans after ``?after=N`` (the page polls this)."""
    feed: ScanFeed = current_app.extensions["vafa_scans"]
    after = request.args.get("after", "0")
    seq, codes = feed.since(int(after) if is_plain_number(after) and len(after) < 18 else 0)
    depth = outbox.depth(_terminal().conn)
    pos_after = request.args.get("pos", "")
    pos_seq, pos_sales = _pos_sales().since(
        int(pos_after) if is_plain_number(pos_after) and len(pos_after) < 18 else 0
    )
    return jsonify(
        seq=seq,
        codes=codes,
        queue_depth=depth,
        devices=_devices(),
        pos_seq=pos_seq,
        pos_sale=pos_sales[-1] if pos_sales else None,
    )


def _pos_sales() -> ScanFeed:
    """Sale ids booked through the POS API, for the till to show as they happen."""
    feed: ScanFeed = current_app.extensions["vafa_pos_sales"]
    return feed


@bp.get("/pos-sale/<sale_id>")
@_cashier_required
def pos_sale(sale_id: str) -> tuple[str, int]:
    """Show a sale the store's POS software booked, as if made here: the cashier sees the
    member's points and may void it."""
    terminal = _terminal()
    if sale_id not in _pos_sales().since(0)[1]:
        # Only the POS's recent sales: a typed id must not make any old sale voidable here.
        return _screen("cashier/identify.html", 404, error="این خرید پیدا نشد.", mobile="")
    row = terminal.conn.execute(
        "SELECT s.id, s.receipt_no, s.member_id, s.amount_rial, s.points_earned,"
        " s.points_redeemed, s.coupon_rial, s.refunded_at, r.printed_at"
        " FROM sales s LEFT JOIN receipts r ON r.sale_id = s.id WHERE s.id = ?",
        (sale_id,),
    ).fetchone()
    if row is None or row["refunded_at"]:
        return _screen("cashier/identify.html", 404, error="این خرید پیدا نشد.", mobile="")
    session["last_sale"] = row["id"]
    result = {
        "receipt_no": row["receipt_no"],
        "member": members.get(terminal.conn, terminal.vault, row["member_id"]),
        "amount_rial": row["amount_rial"],
        "points_earned": row["points_earned"],
        "points_redeemed": row["points_redeemed"],
        "balance": terminal.flow.balance(row["member_id"]),
        "coupon_rial": row["coupon_rial"],
    }
    return _screen(
        "cashier/done.html", result=result, printed=bool(row["printed_at"]), refunded=None
    )


def init_app(app: Flask, terminal: Terminal, scans: ScanFeed | None = None) -> None:
    """Attach the cashier screen to the local web app."""
    app.extensions["vafa_terminal"] = terminal
    app.extensions.setdefault("vafa_flow_lock", threading.Lock())
    app.extensions["vafa_pin_limiter"] = LoginLimiter()
    app.extensions["vafa_scans"] = scans or ScanFeed()
    app.extensions["vafa_device_status"] = DeviceStatusCache()
    app.extensions.setdefault("vafa_pos_sales", ScanFeed())
    app.extensions["vafa_mobile_codes"] = MobileCodes(terminal.config, terminal.vault)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(money=format_money, num=group_thousands)

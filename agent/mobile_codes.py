"""One-time codes at the till: a new member proves their mobile before they are enrolled.

The enrol form's code step follows ``enrol_otp`` (``AgentConfig``):

- ``off``: no code; every enrolment goes to the cloud as unverified.
- ``when_online`` (default): submitting the form without a code asks HQ to text one
  (``POST /api/v1/mobile-codes``); the form comes back with the code field focused; the
  member reads the code out and HQ checks it (``/verify``). If HQ cannot be reached, cannot
  text, or will not text now (a limit on codes per mobile or per terminal: 429), the member
  is enrolled at once, unverified, and the cashier is told why on the member's card: a dead
  network or a member whose texts do not arrive never blocks.
- ``required``: the same, but without a verified code there is no enrolment (refused in
  Persian while offline, or saying how long to wait when HQ will not text now).

A verified code is spent at HQ, so the check is remembered in the cashier's session (keyed
by an HMAC of the mobile, never the mobile) until the enrolment goes through: a form refused
for another field does not need a second code. The enrolment event carries HQ's id of the
code (``mobile_check``); HQ counts the member verified only if that holds on its side.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx

from agent.config import AgentConfig
from agent.errors import InputError, NotEnrolled, SyncError
from agent.identity import load_identity
from agent.offline_queue.sync import SyncClient, error_code
from common.mobile import mask_mobile, normalize_mobile
from common.persian import to_ascii_digits
from common.pii import PiiVault

log = logging.getLogger(__name__)

CODE_PATH = "/api/v1/mobile-codes"
VERIFY_PATH = "/api/v1/mobile-codes/verify"
TIMEOUT_S = 6.0  # HQ gives its SMS provider 3 s; the cashier waits at most this long
SESSION_KEY = "mobile_check"
SENT_KEY = "mobile_code_sent"  # the mobile (its lookup hash) this till last texted a code
CODE_MISSING_FA = "کد تأیید پیامک شد؛ آن را وارد کنید، یا برای کد تازه «ارسال کد» را بزنید."

OFFLINE_FA = "ارتباط با مرکز برقرار نیست"
SENT_FA = "کد تأیید به {mobile} پیامک شد؛ کدی را که مشتری می‌خواند وارد کنید."
REQUIRED_FA = OFFLINE_FA + "؛ بدون کد تأیید نمی‌توان عضو کرد. کمی بعد دوباره کد بخواهید."
NOT_SENT_FA = "کد تأیید فرستاده نشد ({reason})"  # reason: HQ's own Persian (it says how long)
SEND_UNVERIFIED_FA = "؛ با «عضویت» مشتری بدون کد و «تأییدنشده» ثبت می‌شود."
ENROLLED_UNVERIFIED_FA = "؛ مشتری بدون کد و «تأییدنشده» عضو شد."
REQUIRED_WAIT_FA = "؛ بدون کد تأیید نمی‌توان عضو کرد."


class Unreachable(SyncError):
    """HQ could not be asked, or could not text the code: the step counts as offline."""

    fa = OFFLINE_FA


class Limited(Unreachable):
    """HQ will not text a code now (too many for this mobile or terminal; ``fa`` is HQ's
    Persian reason): the step counts as offline, but the cashier is told why."""


@dataclass(frozen=True)
class Step:
    """What the enrol form does after its code step."""

    enrol: bool  # enrol now (else show the form again with the notice)
    check_id: str | None = None  # HQ's id of the verified code; None: unverified
    notice: str = ""  # Persian, for the cashier
    code_sent: bool = False  # the code field should have the focus


class MobileCodes:
    """Ask HQ for codes and check them, as this terminal (signed requests)."""

    def __init__(
        self,
        config: AgentConfig,
        vault: PiiVault,
        transport: httpx.BaseTransport | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.mode = config.enrol_otp
        self.data_dir = config.data_dir
        self.vault = vault
        self.transport, self.timeout = transport, timeout
        self._client: SyncClient | None = None
        self._lock = threading.Lock()

    def step(
        self,
        raw_mobile: str,
        raw_code: str,
        resend: bool,
        session: MutableMapping[str, Any],
        is_member: Callable[[str], bool],
    ) -> Step:
        """Decide the code step of one enrol form; raise InputError (Persian) to refuse it."""
        if self.mode == "off":
            return Step(enrol=True)
        mobile = normalize_mobile(raw_mobile)  # InvalidMobile carries its Persian message
        key = self.vault.lookup_hash(mobile).hex()
        remembered = session.get(SESSION_KEY)
        if not resend and isinstance(remembered, dict) and remembered.get("mobile") == key:
            return Step(enrol=True, check_id=str(remembered["id"]))
        code = to_ascii_digits(raw_code).strip()
        if not code and not resend and session.get(SENT_KEY) == key:
            # A code was texted for this form: asking HQ again would only meet the resend
            # pause, which when_online takes as "cannot text" and enrols unverified.
            raise InputError("enrol form sent without the code texted", fa=CODE_MISSING_FA)
        try:
            if code and not resend:
                check_id = self._verify(mobile, code)
                session[SESSION_KEY] = {"mobile": key, "id": check_id}
                return Step(enrol=True, check_id=check_id)
            if is_member(mobile):
                raise InputError("mobile already enrolled", fa="این شماره قبلاً عضو شده است")
            self._send(mobile)
            session[SENT_KEY] = key
        except Unreachable as exc:
            session.pop(SENT_KEY, None)  # told that «عضویت» now enrols without a code
            return self._offline(exc, enrol=not resend)
        shown = f"\u2066{mask_mobile(mobile)}\u2069"  # isolated left-to-right in the sentence
        return Step(enrol=False, notice=SENT_FA.format(mobile=shown), code_sent=True)

    def _offline(self, exc: Unreachable, enrol: bool) -> Step:
        log.warning("mobile code step offline (%s): %s", self.mode, exc)
        limited = isinstance(exc, Limited)
        reason = NOT_SENT_FA.format(reason=exc.fa) if limited else OFFLINE_FA
        if self.mode == "required":
            refusal = reason + REQUIRED_WAIT_FA if limited else REQUIRED_FA
            raise InputError(f"no mobile code: {exc}", fa=refusal) from exc
        if enrol:
            return Step(enrol=True, notice=reason + ENROLLED_UNVERIFIED_FA)  # unverified
        return Step(enrol=False, notice=reason + SEND_UNVERIFIED_FA)

    def _send(self, mobile_e164: str) -> None:
        self._ask(CODE_PATH, {"mobile": mobile_e164})
        log.info("mobile code asked of HQ")

    def _verify(self, mobile_e164: str, code: str) -> str:
        answer = self._ask(VERIFY_PATH, {"mobile": mobile_e164, "code": code})
        check_id = answer.get("check_id")
        if not isinstance(check_id, str) or not check_id:
            raise Unreachable("HQ answered a verification without a check_id")
        log.info("mobile code verified by HQ (check %s)", check_id)
        return check_id

    def _ask(self, path: str, body: dict[str, str]) -> dict[str, Any]:
        """POST to HQ; return its answer, raise InputError for its refusals, Unreachable
        when it cannot be asked (offline, not enrolled, revoked, down, an older HQ)."""
        client = self._client_for_hq()
        try:
            response = client.send_signed(path, body)
        except SyncError as exc:
            raise Unreachable(str(exc)) from exc
        try:
            answer = response.json()
        except ValueError as exc:
            raise Unreachable(f"HQ answered {response.status_code}, not JSON, on {path}") from exc
        if not isinstance(answer, dict):
            raise Unreachable(f"HQ answered {path} with a JSON {type(answer).__name__}")
        if response.status_code == 200:
            return answer
        code = error_code(response)
        if response.status_code == 429 and path == CODE_PATH:
            fa = str(answer.get("message_fa") or "کدهای خواسته‌شده بیش از حد مجاز است")
            raise Limited(f"HQ will not text a code now: {code} (429)", fa=fa)
        if response.status_code in (400, 409, 422, 429):
            fa = str(answer.get("message_fa") or "کد تأیید پذیرفته نشد")
            raise InputError(f"HQ refused {path}: {code} ({response.status_code})", fa=fa)
        raise Unreachable(f"HQ answered {response.status_code} {code} on {path}")

    def _client_for_hq(self) -> SyncClient:
        with self._lock:
            if self._client is None:
                try:
                    identity = load_identity(self.data_dir)
                except NotEnrolled as exc:
                    raise Unreachable("this terminal is not enrolled with HQ") from exc
                self._client = SyncClient(identity, self.transport, self.timeout)
            return self._client


def forget(session: MutableMapping[str, Any]) -> None:
    """Drop the remembered check once the member it proved is enrolled."""
    session.pop(SESSION_KEY, None)
    session.pop(SENT_KEY, None)

"""SMS providers behind one interface: Kavenegar, sms.ir, and a file for demos and tests.

Each provider sends one text to one E.164 number and returns its own message id, reports
delivery for ids it gave, and lists replies received. Statuses are mapped to ours:
queued, sent, delivered, undelivered, blocked, failed. Kavenegar puts the API key in the
URL path, so every message and log line that could show a URL is redacted.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx

from common.errors import VafaError
from common.protocol import new_id

STATUSES = ("queued", "sent", "delivered", "undelivered", "blocked", "failed")


class SmsError(VafaError):
    """A provider that refused a message or could not be reached."""

    fa = "ارسال پیامک ناموفق بود"


@dataclass(frozen=True)
class Inbound:
    """A reply a member sent to our line."""

    provider_id: str
    sender: str  # as the provider gave it; normalised by the caller
    text: str


class SmsProvider(Protocol):
    """What every provider does."""

    name: str

    def send(self, mobile_e164: str, text: str) -> str:
        """Send one text; return the provider's message id."""
        ...

    def statuses(self, provider_ids: list[str]) -> dict[str, str]:
        """Return our status for each id the provider knows."""
        ...

    def inbound(self) -> list[Inbound]:
        """Return replies not fetched before."""
        ...

    def close(self) -> None:
        """Release the provider's connections (a provider built per request must be closed)."""
        ...


class _Redact(logging.Filter):
    """Hide a secret in every record of the HTTP client's loggers."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record with the secret replaced; keep it."""
        text = record.getMessage()
        if self.secret in text:
            record.msg, record.args = text.replace(self.secret, "***"), None
        return True


def _local(mobile_e164: str) -> str:
    return "0" + mobile_e164.removeprefix("+98")


class _OverHttp:
    """A provider that talks to its API through one HTTP client, closed with it."""

    http: httpx.Client

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self.http.close()


class KavenegarProvider(_OverHttp):
    """Kavenegar's REST API (https://api.kavenegar.com/v1/{key}/…)."""

    name = "kavenegar"
    # https://kavenegar.com/rest.html: 1 queued, 2 scheduled, 4/5 sent to the operator,
    # 6 failed, 10 delivered, 11 undelivered, 13 cancelled, 14 blocked by the recipient.
    STATUS: ClassVar[dict[int, str]] = {
        1: "queued",
        2: "queued",
        4: "sent",
        5: "sent",
        6: "failed",
        10: "delivered",
        11: "undelivered",
        13: "failed",
        14: "blocked",
    }
    _filters_lock = threading.Lock()
    _filtered: ClassVar[set[str]] = set()

    def __init__(
        self,
        api_key: str,
        sender: str,
        base_url: str = "https://api.kavenegar.com",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not api_key:
            raise SmsError("Kavenegar needs an API key")
        self.api_key, self.sender = api_key, sender
        self.http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        with self._filters_lock:
            if api_key not in self._filtered:
                for name in ("httpx", "httpcore"):
                    logging.getLogger(name).addFilter(_Redact(api_key))
                self._filtered.add(api_key)

    def _call(self, method: str, params: dict[str, str]) -> list[dict[str, Any]]:
        path = f"/v1/{self.api_key}/{method}"
        try:
            answer = self.http.post(path, data=params)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SmsError(self._clean(f"kavenegar {method}: {exc!r}")) from None
        status = body.get("return", {}).get("status") if isinstance(body, dict) else None
        if status != 200:
            message = body.get("return", {}).get("message") if isinstance(body, dict) else body
            raise SmsError(self._clean(f"kavenegar {method} refused ({status}): {message}"))
        entries = body.get("entries") or []
        return list(entries) if isinstance(entries, list) else []

    def _clean(self, text: str) -> str:
        return text.replace(self.api_key, "***")

    def send(self, mobile_e164: str, text: str) -> str:
        """Send one text; return Kavenegar's message id."""
        params = {"receptor": _local(mobile_e164), "message": text, "sender": self.sender}
        entries = self._call("sms/send.json", params)
        if not entries:
            raise SmsError("kavenegar send: no entry in the answer")
        return str(entries[0]["messageid"])

    def statuses(self, provider_ids: list[str]) -> dict[str, str]:
        """Ask for the delivery status of the given message ids."""
        if not provider_ids:
            return {}
        entries = self._call("sms/status.json", {"messageid": ",".join(provider_ids)})
        return {
            str(entry["messageid"]): self.STATUS.get(int(entry["status"]), "sent")
            for entry in entries
        }

    def inbound(self) -> list[Inbound]:
        """Fetch unread replies to our line."""
        entries = self._call("sms/receive.json", {"linenumber": self.sender, "isread": "0"})
        return [Inbound(str(e["messageid"]), str(e["sender"]), str(e["message"])) for e in entries]


class SmsIrProvider(_OverHttp):
    """sms.ir's REST API v1 (https://api.sms.ir/v1/…, key in the X-API-KEY header)."""

    name = "smsir"
    # deliveryState: 1 delivered to the phone, 2 not delivered to the phone, 3 at the
    # operator, 4 not delivered to the operator, 5 at the operator, 6 failed, 7 blacklisted.
    STATUS: ClassVar[dict[int, str]] = {
        1: "delivered",
        2: "undelivered",
        3: "sent",
        4: "failed",
        5: "sent",
        6: "failed",
        7: "blocked",
    }

    def __init__(
        self,
        api_key: str,
        line: str,
        base_url: str = "https://api.sms.ir",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not api_key:
            raise SmsError("sms.ir needs an API key")
        self.line = line
        self.http = httpx.Client(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"X-API-KEY": api_key, "Accept": "application/json"},
        )

    def _data(self, answer: httpx.Response, what: str) -> Any:
        try:
            body = answer.json()
        except ValueError as exc:
            raise SmsError(f"sms.ir {what}: not JSON ({answer.status_code})") from exc
        if not isinstance(body, dict) or body.get("status") != 1:
            message = body.get("message") if isinstance(body, dict) else body
            raise SmsError(f"sms.ir {what} refused: {message}")
        return body.get("data")

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SmsError(f"sms.ir {path}: {exc!r}") from None

    def send(self, mobile_e164: str, text: str) -> str:
        """Send one text; return sms.ir's message id."""
        body = {"lineNumber": self.line, "messageText": text, "mobiles": [_local(mobile_e164)]}
        data = self._data(self._request("POST", "/v1/send/bulk", json=body), "send")
        ids = data.get("messageIds") if isinstance(data, dict) else None
        if not ids:
            raise SmsError("sms.ir send: no message id in the answer")
        return str(ids[0])

    def statuses(self, provider_ids: list[str]) -> dict[str, str]:
        """Ask for the delivery state of each message id."""
        found = {}
        for provider_id in provider_ids:
            data = self._data(self._request("GET", f"/v1/send/{provider_id}"), "report")
            if isinstance(data, dict) and data.get("deliveryState") is not None:
                found[provider_id] = self.STATUS.get(int(data["deliveryState"]), "sent")
        return found

    def inbound(self) -> list[Inbound]:
        """Fetch replies received since the last fetch."""
        data = self._data(
            self._request("GET", "/v1/receive/live", params={"count": 100}), "receive"
        )
        return [
            Inbound(str(item["number"]), str(item["mobile"]), str(item["messageText"]))
            for item in data or []
        ]


class FileProvider:
    """Write each message as a JSON line to a file: the demo's and tests' phone."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, mobile_e164: str, text: str) -> str:
        """Append the message to the file; return a fresh id."""
        provider_id = new_id()
        line = {"id": provider_id, "to": mobile_e164, "text": text}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return provider_id

    def statuses(self, provider_ids: list[str]) -> dict[str, str]:
        """Say every message written was delivered."""
        return dict.fromkeys(provider_ids, "delivered")

    def close(self) -> None:
        """Nothing to release: each message opens and closes the file."""

    def inbound(self) -> list[Inbound]:
        """Read replies dropped in <file>.replies (one 'mobile text' per line), once."""
        replies = self.path.with_suffix(".replies")
        if not replies.exists():
            return []
        lines = replies.read_text(encoding="utf-8").splitlines()
        replies.unlink()
        return [
            Inbound(new_id(), line.split(maxsplit=1)[0], line.split(maxsplit=1)[1])
            for line in lines
            if len(line.split(maxsplit=1)) == 2
        ]


def provider_from_config(
    config: dict[str, Any], instance: Path, timeout: float = 10.0
) -> SmsProvider:
    """Build the configured provider (SMS_PROVIDER: file, kavenegar or smsir); ``timeout``
    bounds each call to it (short where a terminal is waiting for the answer)."""
    kind = str(config.get("SMS_PROVIDER", "file"))
    if kind == "file":
        return FileProvider(Path(config.get("SMS_FILE") or instance / "sms-outbox.jsonl"))
    key, sender = str(config.get("SMS_API_KEY", "")), str(config.get("SMS_SENDER", ""))
    options: dict[str, Any] = {"timeout": timeout}
    if config.get("SMS_BASE_URL"):
        options["base_url"] = config["SMS_BASE_URL"]
    if kind == "kavenegar":
        return KavenegarProvider(key, sender, **options)
    if kind == "smsir":
        return SmsIrProvider(key, sender, **options)
    raise SmsError(f"unknown SMS provider {kind!r} (file, kavenegar or smsir)")

"""Local HTTP servers speaking the SMS providers' APIs, for tests (the one place a stand-in
is used: the providers' real servers are on the internet)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request


@dataclass
class Phone:
    """What a provider received and what it will report."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)  # provider id -> provider's code
    replies: list[dict[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every path asked, key included


def kavenegar_app(api_key: str, phone: Phone) -> Flask:
    """Serve /v1/<key>/sms/{send,status,receive}.json as Kavenegar documents them."""
    app = Flask("kavenegar")
    ids = itertools.count(8792343)

    def answer(status: int, message: str, entries: Any = None) -> Any:
        return jsonify({"return": {"status": status, "message": message}, "entries": entries})

    @app.route("/v1/<key>/sms/<method>.json", methods=["GET", "POST"])
    def sms(key: str, method: str) -> Any:
        phone.requests.append(request.path)
        if key != api_key:
            return answer(401, "کلید API نامعتبر است"), 401
        form = request.values
        if method == "send":
            message_id = str(next(ids))
            phone.sent.append({"id": message_id, "to": form["receptor"], "text": form["message"]})
            phone.status[message_id] = 1
            return answer(
                200,
                "تایید شد",
                [
                    {
                        "messageid": int(message_id),
                        "status": 1,
                        "statustext": "در صف ارسال",
                        "receptor": form["receptor"],
                    }
                ],
            )
        if method == "status":
            wanted = form["messageid"].split(",")
            return answer(
                200,
                "تایید شد",
                [
                    {"messageid": int(m), "status": phone.status.get(m, 100), "statustext": ""}
                    for m in wanted
                ],
            )
        if method == "receive":
            entries = [
                {
                    "messageid": n,
                    "message": r["text"],
                    "sender": r["from"],
                    "receptor": form["linenumber"],
                    "date": 1763800000,
                }
                for n, r in enumerate(phone.replies, 1)
            ]
            phone.replies.clear()
            return answer(200, "تایید شد", entries)
        return answer(404, "unknown method"), 404

    return app


def smsir_app(api_key: str, phone: Phone) -> Flask:
    """Serve /v1/send/bulk, /v1/send/<id> and /v1/receive/live as sms.ir documents them."""
    app = Flask("smsir")
    ids = itertools.count(1000)

    @app.before_request
    def check_key() -> Any:
        phone.requests.append(request.path)
        if request.headers.get("X-API-KEY") != api_key:
            return jsonify({"status": 0, "message": "کلید نامعتبر", "data": None}), 401
        return None

    @app.post("/v1/send/bulk")
    def bulk() -> Any:
        body = request.get_json()
        message_ids = []
        for mobile in body["mobiles"]:
            message_id = str(next(ids))
            phone.sent.append({"id": message_id, "to": mobile, "text": body["messageText"]})
            phone.status[message_id] = 3
            message_ids.append(int(message_id))
        return jsonify(
            {
                "status": 1,
                "message": "موفق",
                "data": {"packId": "p1", "messageIds": message_ids, "cost": 1.0},
            }
        )

    @app.get("/v1/send/<message_id>")
    def report(message_id: str) -> Any:
        return jsonify(
            {
                "status": 1,
                "message": "موفق",
                "data": {
                    "messageId": int(message_id),
                    "deliveryState": phone.status.get(message_id),
                },
            }
        )

    @app.get("/v1/receive/live")
    def receive() -> Any:
        data = [
            {
                "number": n,
                "mobile": r["from"],
                "messageText": r["text"],
                "receivedDateTime": "2026-11-22T10:00:00",
            }
            for n, r in enumerate(phone.replies, 1)
        ]
        phone.replies.clear()
        return jsonify({"status": 1, "message": "موفق", "data": data})

    return app

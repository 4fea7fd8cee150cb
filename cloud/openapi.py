"""The OpenAPI 3.1 description of the terminals' API, served at ``GET /openapi.json``.

The document is one Python dict, written by hand so that a reader sees the wire format in
one place; ``tests/cloud/test_openapi.py`` keeps it true (every route described, every
real answer valid) and ``tests/cloud/test_api_fuzz.py`` fuzzes the app against it.
Schemas are plain JSON Schema (OpenAPI 3.1), so ``jsonschema`` can check bodies directly.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from common.protocol import MAX_BATCH_EVENTS, PROTOCOL_VERSION
from common.signing import H_DIGEST, H_KEY, H_NONCE, H_SIGNATURE, H_TIME, SCHEME

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]

HEX128: Schema = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
TIERS = ["normal", "silver", "gold", "vip"]
ERROR_CODES = (
    "bad_request, bad_code, unauthorized, bad_signature, stale_time, replay, revoked, conflict,"
    " already_member, rate_limited, sms_unavailable, no_code, wrong_code, code_expired, code_used,"
    " too_many_attempts"
)


def ref(name: str) -> Schema:
    """Return a reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """Return an object schema with these required and optional properties."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


# Optional at enrolment; province and city are names from common/iran_places.toml.
DEMOGRAPHICS: dict[str, Schema] = {
    "gender": {"enum": ["f", "m", None]},
    "province": {"type": ["string", "null"], "maxLength": 40},
    "city": {"type": ["string", "null"], "maxLength": 60},
    "birth_year": {"type": ["integer", "null"], "description": "Jalali, 1300 to this year"},
}


def _entries() -> Schema:
    return {"type": "array", "items": ref("Entry")}


PAYLOADS: dict[str, tuple[str, Schema]] = {
    "member.enrolled": (
        "MemberEnrolled",
        obj(
            {
                "member_id": {"type": "string"},
                "card_code": {"type": "string"},
                "mobile": {"type": "string", "description": "Iranian mobile, any common form"},
                "name": {"type": "string"},
                "marketing_consent": {"type": "boolean"},
            },
            {
                "birthday": {"type": ["string", "null"], "description": "Jalali MM-DD"},
                "referred_by": {
                    "type": ["string", "null"],
                    "description": "the referral code the member gave (R- and 8 characters)",
                },
                "mobile_verified": {
                    "type": "boolean",
                    "description": "the member read out a one-time code texted to the mobile",
                },
                "mobile_check": {
                    "type": ["string", "null"],
                    "description": "with mobile_verified: the check_id the cloud answered;"
                    " the member counts as verified only if this terminal verified that code"
                    " for the same mobile and no other member used it",
                },
                **DEMOGRAPHICS,
            },
        ),
    ),
    "member.tier_changed": (
        "TierChanged",
        obj(
            {"member_id": {"type": "string"}, "tier": {"enum": TIERS}},
            {"previous": {"type": "string"}, "earned": {"type": "integer"}},
        ),
    ),
    "sale.completed": (
        "SaleCompleted",
        obj(
            {
                "sale_id": {"type": "string"},
                "receipt_no": {"type": "integer"},
                "member_id": {"type": "string"},
                "amount_rial": {"type": "integer", "minimum": 0},
                "points_earned": {"type": "integer"},
                "points_redeemed": {"type": "integer"},
                "channel": {"type": "string"},
                "entries": _entries(),
            },
            {
                "items": {"type": "array", "items": {"type": "object"}},
                "credit_redeemed_rial": {"type": "integer", "minimum": 0},
                "coupon": {
                    "oneOf": [{"type": "null"}, ref("CouponUse")],
                    "description": "the member's coupon this sale used",
                },
            },
        ),
    ),
    "sale.refunded": (
        "SaleRefunded",
        obj(
            {"sale_id": {"type": "string"}, "member_id": {"type": "string"}, "entries": _entries()}
        ),
    ),
    "points.expired": (
        "PointsExpired",
        obj({"member_id": {"type": "string"}, "entries": _entries()}),
    ),
    "grant.applied": (
        "GrantApplied",
        obj(
            {
                "grant_id": {"type": "string"},
                "member_id": {"type": "string"},
                "kind": {"enum": ["points", "credit"]},
                "amount": {"type": "integer", "minimum": 1},
                "entries": _entries(),
            },
            {"reason": {"type": "string"}},
        ),
    ),
    "gift.handed_over": (
        "GiftHandedOver",
        obj({"grant_id": HEX128, "member_id": {"type": "string"}}),
    ),
}


def text(limit: int) -> Schema:
    """Describe person-readable text: 1..limit characters, not blank, no control characters."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": limit,
        "pattern": "^(?=.*\\S)[^\\x00-\\x1f\\x7f-\\x9f]+$",
    }


def _event(kind: str, payload: str) -> Schema:
    return obj(
        {
            "id": HEX128,
            "seq": {"type": "integer", "minimum": 1},
            "kind": {"const": kind},
            "terminal_time": {"type": "string", "description": "informational ISO 8601"},
            "payload": ref(payload),
        }
    )


def _error(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def _ok(description: str, schema: str) -> Schema:
    return {
        "description": description,
        "headers": {"X-Vafa-Server-Time": {"$ref": "#/components/headers/ServerTime"}},
        "content": {"application/json": {"schema": ref(schema)}},
    }


def _json_body(schema: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


SCHEMAS: dict[str, Schema] = {
    "Error": {
        **obj(
            {
                "error": {"type": "string", "description": f"stable code: {ERROR_CODES}"},
                "message": {"type": "string", "description": "English, for logs"},
                "message_fa": {"type": "string", "description": "Persian, for people"},
            },
            {"field": {"type": "string", "description": "the culprit, e.g. payload.mobile"}},
        ),
        "additionalProperties": False,
    },
    "Health": obj({"status": {"const": "ok"}}),
    "EnrollRequest": obj(
        {
            "code": {"type": "string", "minLength": 1, "maxLength": 100},
            "public_key": {
                "type": "string",
                "pattern": "^[A-Za-z0-9+/]{43}=$",
                "description": "raw 32-byte Ed25519 public key, base64",
            },
        },
        {"hostname": {"type": "string"}},
    ),
    "Enrolment": obj({"terminal_id": HEX128, "store_id": HEX128, "store_name": {"type": "string"}}),
    "Posting": obj({"account": {"type": "string"}, "amount": {"type": "integer"}}),
    "Entry": obj(
        {
            "id": {"type": "string"},
            "kind": {"type": "string"},
            "postings": {
                "type": "array",
                "minItems": 1,
                "items": ref("Posting"),
                "description": "amounts sum to zero",
            },
        },
        {"reverses": {"type": ["string", "null"]}, "memo": {"type": "string"}},
    ),
    **{name: schema for name, schema in PAYLOADS.values()},
    "Event": {
        "oneOf": [ref(f"{name}Event") for name, _ in PAYLOADS.values()],
        "discriminator": {
            "propertyName": "kind",
            "mapping": {
                kind: f"#/components/schemas/{name}Event" for kind, (name, _) in PAYLOADS.items()
            },
        },
    },
    **{f"{name}Event": _event(kind, name) for kind, (name, _) in PAYLOADS.items()},
    "AgentReport": obj(
        {
            "version": {"type": "string", "pattern": "^[0-9A-Za-z.+_-]{1,40}$"},
            "queue_depth": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
        }
    ),
    "Batch": obj(
        {"events": {"type": "array", "maxItems": MAX_BATCH_EVENTS, "items": ref("Event")}},
        {"agent": ref("AgentReport")},
    ),
    "EventResult": obj(
        {
            "id": {"description": "the event's id as sent (null if it sent none)"},
            "status": {"enum": ["applied", "duplicate", "rejected"]},
        },
        {
            "field": {"type": "string", "description": "for a rejection: the culprit"},
            "error": {"type": "string", "description": "for a rejection: why"},
        },
    ),
    "BatchResult": obj(
        {
            "results": {"type": "array", "items": ref("EventResult")},
            "gaps": {
                "type": "array",
                "description": "missing seq ranges [from, to] of this terminal",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "integer"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        }
    ),
    "PullRequest": {
        "type": "object",
        "properties": {
            "members_cursor": {"type": "integer", "minimum": 0},
            "rules_etag": {"type": "string"},
            "agent": ref("AgentReport"),
        },
    },
    "MemberSnapshot": obj(
        {
            "member_id": {"type": "string"},
            "card_code": {"type": "string"},
            "mobile": {"type": "string"},
            "name": {"type": "string"},
            "birthday": {"type": ["string", "null"]},
            "tier": {"type": "string"},
            "marketing_consent": {"type": "boolean"},
            "points_elsewhere": {"type": "integer"},
            "coupons": {"type": "array", "items": ref("Coupon")},
        },
        {
            **DEMOGRAPHICS,
            "suggestions": {
                "type": "array",
                "maxItems": 2,
                "items": {"type": "string", "maxLength": 64},
                "description": "categories not bought yet, but likely (best first)",
            },
        },
    ),
    "Coupon": obj(
        {
            "code": {"type": "string", "pattern": "^CP-[A-Z0-9]{6,16}$"},
            "value_rial": {"type": "integer", "minimum": 1},
            "min_purchase_rial": {"type": "integer", "minimum": 0},
            "expires_at": {"type": "string", "description": "ISO 8601, the cloud's clock"},
        }
    ),
    "CouponUse": obj({"code": {"type": "string"}, "value_rial": {"type": "integer"}}),
    "PullResult": obj(
        {
            "rules": {"type": ["object", "null"], "description": "null if rules_etag matched"},
            "rules_etag": {"type": "string"},
            "members": {"type": "array", "items": ref("MemberSnapshot")},
            "members_cursor": {"type": "integer", "minimum": 0},
            "more": {"type": "boolean"},
            "highest_seq": {
                "type": "integer",
                "minimum": 0,
                "description": "the highest seq the cloud has from this terminal",
            },
            "grants": {
                "type": "array",
                "description": "points or credit to book now, once per grant_id (last page only)",
                "items": ref("Grant"),
            },
        },
        {
            "owner_notes": {
                "type": "array",
                "description": "the store's open scenario notes, whole (last page only)",
                "items": ref("OwnerNote"),
            },
            "store_gifts": {
                "type": "array",
                "description": (
                    "the store's surprise gifts not yet handed over, whole (last page only):"
                    " any till of the store may hand one over (gift.handed_over; the first is"
                    " kept, later ones are duplicates). Booked by another till: shown, never"
                    " booked again; booked by this terminal and missing: handed over elsewhere"
                ),
                "items": ref("StoreGift"),
            },
        },
    ),
    "StoreGift": obj(
        {
            "grant_id": HEX128,
            "member_id": {"type": "string"},
            "kind": {"enum": ["points", "credit"]},
            "amount": {"type": "integer", "minimum": 1},
            "note": {"type": "string", "maxLength": 200},
        }
    ),
    "OwnerNote": obj(
        {
            "id": HEX128,
            "member_id": {"type": "string"},
            "scenario": {"type": "string", "maxLength": 80},
            "text": {"type": "string", "maxLength": 500},
            "created_at": {"type": "string", "description": "ISO 8601, the cloud's clock"},
        }
    ),
    "Grant": obj(
        {
            "grant_id": HEX128,
            "member_id": {"type": "string"},
            "kind": {"enum": ["points", "credit"]},
            "amount": {"type": "integer", "minimum": 1},
            "reason": {"type": "string"},
            "note": {"type": "string"},
        },
        {"gift": {"type": "boolean", "description": "a surprise shown at the next visit"}},
    ),
    "NewStore": obj({"name": text(200)}),
    "StoreCreated": obj(
        {"store_id": HEX128, "name": {"type": "string"}, "code": {"type": "string"}}
    ),
    "StoreCode": obj({"store_id": HEX128, "code": {"type": "string"}}),
    "Terminals": obj({"terminals": {"type": "array", "items": {"type": "object"}}}),
    "Revoked": obj({"revoked": {"type": "string"}}),
    "NewGrant": {
        **obj(
            {
                "member_id": HEX128,
                "kind": {"enum": ["points", "credit"]},
                "amount": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
                "reason": text(40),
            },
            {
                "note": {
                    "type": "string",
                    "maxLength": 200,
                    "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
                }
            },
        ),
        "if": {"properties": {"kind": {"const": "points"}}},
        "then": {"properties": {"amount": {"maximum": 1_000_000}}},
    },
    "GrantCreated": obj({"grant_id": HEX128}),
    "NewCoupon": obj(
        {
            "member_id": HEX128,
            "value_rial": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
            "reason": text(40),
        },
        {
            "valid_days": {"type": "integer", "minimum": 1, "maximum": 3650},
            "min_purchase_rial": {"type": "integer", "minimum": 0, "maximum": 10**11},
        },
    ),
    "CouponCreated": obj({"code": {"type": "string"}}),
    "ChannelOrderBatch": obj(
        {
            "channel": {"enum": ["website", "instagram", "whatsapp"]},
            "orders": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": ref("ChannelOrder"),
            },
        },
        {"store": {"type": "string", "description": "store id or name for orders without one"}},
    ),
    # Only the JSON types are the schema's (a wrong one refuses the batch, 400); what the
    # values say is checked order by order and reported with the order's index (200).
    "ChannelOrder": {
        "type": "object",
        "description": "order_id, mobile, ordered_at and total_rial are needed; an order"
        " without one is reported, not the batch refused",
        "properties": {
            "order_id": {
                "type": "string",
                "description": "the channel's own id, 1-64 characters; stored once per channel",
            },
            "mobile": {"type": "string", "description": "a member's mobile, any spelling"},
            "ordered_at": {
                "type": "string",
                "description": "Jalali 1403/05/12 [14:30] or ISO 8601 2024-08-02T14:30+03:30;"
                " Tehran time without a zone; from 2000, not in the future",
            },
            "total_rial": {
                "type": "integer",
                "description": "whole Rials, 1,000 to 10^11 (a total_toman field is refused)",
            },
            "lines": {
                "type": "array",
                "description": "optional, at most 200; they may not add up to more than the total",
                "items": {
                    "type": "object",
                    "required": ["category", "amount_rial"],
                    "properties": {
                        "category": {"type": "string", "description": "1-64 characters"},
                        "amount_rial": {"type": "integer", "description": "1 or more"},
                    },
                },
            },
            "store": {
                "type": "string",
                "description": "store id or name (default: the batch's store, else the"
                " member's home store)",
            },
        },
    },
    "ChannelOrdersReport": obj(
        {
            "channel": {"type": "string"},
            "read": {"type": "integer"},
            "added": {"type": "integer"},
            "already_there": {"type": "integer", "description": "same id, same content"},
            "refused": {"type": "integer"},
            "problems": {
                "type": "array",
                "items": obj(
                    {
                        "index": {"type": "integer", "description": "the order's place, from 0"},
                        "code": {
                            "type": "string",
                            "description": "bad_order_id, bad_mobile, unknown_member, bad_date,"
                            " future_date, bad_amount, toman_amount, decimal_amount, bad_lines,"
                            " bad_store, changed (stored before with other content: kept as it"
                            " was), conflict",
                        },
                        "reason": {"type": "string"},
                        "reason_fa": {"type": "string"},
                    },
                    {"order_id": {"type": "string"}},
                ),
            },
        }
    ),
    "MobileCodeRequest": obj(
        {"mobile": {"type": "string", "maxLength": 40, "description": "Iranian mobile, any form"}}
    ),
    "MobileCodeSent": obj(
        {
            "expires_in_s": {"type": "integer", "description": "the code's lifetime"},
            "resend_after_s": {"type": "integer", "description": "the pause before another"},
        }
    ),
    "MobileCodeCheck": obj(
        {
            "mobile": {"type": "string", "maxLength": 40},
            "code": {"type": "string", "description": "six digits, Persian or ASCII"},
        }
    ),
    "MobileCodeVerified": obj(
        {"check_id": {**HEX128, "description": "goes in the member.enrolled event"}}
    ),
}

SIGNATURE_HEADERS = {
    "vafaKey": (H_KEY, "the terminal id"),
    "vafaTime": (H_TIME, "unix time, seconds; within 300 s of the cloud clock"),
    "vafaNonce": (H_NONCE, "32 hex digits, never reused"),
    "vafaDigest": (H_DIGEST, "SHA-256 of the body, hex"),
    "vafaSignature": (
        H_SIGNATURE,
        f"base64 Ed25519 signature over the lines {SCHEME}, method, path, digest, time,"
        " nonce and key id, joined by newlines",
    ),
}


def _signed(operation_id: str, summary: str, body: str, ok: Schema) -> Schema:
    """Return a signed POST operation's description."""
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": [{name: [] for name in SIGNATURE_HEADERS}],
        "requestBody": _json_body(body),
        "responses": {
            "200": ok,
            "400": _error("the body is not JSON or not what this operation takes"),
            "401": _error("unknown terminal, bad signature, stale time or replay"),
            "403": _error("the terminal is revoked"),
        },
    }


def _hq(
    operation_id: str, summary: str, ok: Schema, body: str | None = None, path_id: str = ""
) -> Schema:
    """Return an HQ operation's description (bearer token of an HQ user)."""
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "security": [{"hqToken": []}],
        "responses": {
            **ok,
            "400": _error("the body is not what this operation takes (field names it)"),
            "401": _error("no bearer token, or an unknown or revoked one"),
            "403": _error("the token's user has no role for this"),
            "404": _error("no such store, terminal or member"),
        },
    }
    if body:
        operation["requestBody"] = _json_body(body)
    if path_id:
        operation["parameters"] = [
            {"name": path_id, "in": "path", "required": True, "schema": {"type": "string"}}
        ]
    return operation


def _created(description: str, schema: str) -> Schema:
    return {"201": _ok(description, schema)}


def _done(description: str, schema: str) -> Schema:
    return {"200": _ok(description, schema)}


HQ_PATHS: Schema = {
    "/api/v1/hq/stores": {
        "post": _hq(
            "createStore",
            "Create a store and its first enrolment code (admin).",
            _created("the store and a one-time terminal code", "StoreCreated"),
            "NewStore",
        )
    },
    "/api/v1/hq/stores/{store_id}/codes": {
        "post": _hq(
            "createEnrolmentCode",
            "Issue another one-time terminal enrolment code (admin).",
            _created("a one-time code", "StoreCode"),
            path_id="store_id",
        ),
    },
    "/api/v1/hq/terminals": {
        "get": _hq(
            "listTerminals",
            "List terminals with store, last contact and sequence watermark (admin).",
            _done("every terminal", "Terminals"),
        )
    },
    "/api/v1/hq/terminals/{terminal_id}/revoke": {
        "post": _hq(
            "revokeTerminal",
            "Revoke a terminal: its signed requests are refused (admin).",
            _done("the terminal is revoked", "Revoked"),
            path_id="terminal_id",
        ),
    },
    "/api/v1/hq/grants": {
        "post": _hq(
            "createGrant",
            "Give a member points or credit, booked by their home store (admin, marketer).",
            _created("the grant waits for the member's home store", "GrantCreated"),
            "NewGrant",
        )
    },
    "/api/v1/hq/coupons": {
        "post": _hq(
            "createCoupon",
            "Issue a member a coupon, a Rial discount with an expiry (admin, marketer).",
            _created("the coupon's code", "CouponCreated"),
            "NewCoupon",
        )
    },
    "/api/v1/hq/orders": {
        "post": _hq(
            "importChannelOrders",
            "Store orders from the website, Instagram or WhatsApp once each, as sales that"
            " analytics count but that move no points; each refused order is reported with"
            " its index and reason (admin, marketer).",
            _done("what became of each order", "ChannelOrdersReport"),
            "ChannelOrderBatch",
        )
    },
}


def _code_operation(
    operation_id: str, summary: str, body: str, ok: Schema, **refusals: str
) -> Schema:
    """Return a signed one-time-code operation with its own refusals (status → meaning)."""
    operation = _signed(operation_id, summary, body, ok)
    operation["responses"].update({status: _error(text) for status, text in refusals.items()})
    return operation


# One-time codes proving a new member's mobile at enrolment (cloud/mobile_codes.py).
CODE_PATHS: Schema = {
    "/api/v1/mobile-codes": {
        "post": _code_operation(
            "sendMobileCode",
            "Text a one-time code to a new member's mobile (a service SMS, never marketing).",
            "MobileCodeRequest",
            _ok("the code is on its way", "MobileCodeSent"),
            **{
                "409": "the mobile already belongs to a member, here or at another store"
                " (already_member)",
                "429": "too many codes for this mobile or from this terminal (rate_limited;"
                " message_fa says how many seconds or minutes to wait)",
                "503": "the SMS provider did not take the text; nothing kept (sms_unavailable)",
            },
        )
    },
    "/api/v1/mobile-codes/verify": {
        "post": _code_operation(
            "verifyMobileCode",
            "Check the code a new member read out; a verified code is spent.",
            "MobileCodeCheck",
            _ok("the mobile is verified", "MobileCodeVerified"),
            **{
                "422": "no_code, wrong_code (tries left in the message), code_expired,"
                " code_used or too_many_attempts",
            },
        )
    },
}

SPEC: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "Vafa cloud API",
        "version": f"{PROTOCOL_VERSION}.0",
        "description": "Terminal enrolment and sync (signed by the terminal's key) and HQ's"
        " operations (bearer token). Errors are JSON with a stable code.",
    },
    "paths": {
        "/api/v1/health": {
            "get": {
                "operationId": "health",
                "summary": "Say the cloud is up.",
                "responses": {"200": _ok("the cloud is up", "Health")},
            }
        },
        "/api/v1/terminals/enroll": {
            "post": {
                "operationId": "enrollTerminal",
                "summary": "Register a terminal's public key for a one-time enrolment code.",
                "requestBody": _json_body("EnrollRequest"),
                "responses": {
                    "200": _ok("the terminal's identity", "Enrolment"),
                    "400": _error("malformed body or public key"),
                    "401": _error("enrolment code unknown, used or expired (bad_code)"),
                    "409": _error("this public key is already enrolled"),
                },
            }
        },
        "/api/v1/sync/events": {
            "post": _signed(
                "syncEvents",
                "Apply a signed batch of terminal events, each exactly once.",
                "Batch",
                _ok("per-event results and the terminal's sequence gaps", "BatchResult"),
            )
        },
        "/api/v1/sync/pull": {
            "post": _signed(
                "syncPull",
                "Send the rules (if changed) and the member snapshots past the cursor.",
                "PullRequest",
                _ok("rules and changed members", "PullResult"),
            )
        },
        **CODE_PATHS,
        **HQ_PATHS,
    },
    "components": {
        "schemas": SCHEMAS,
        "headers": {
            "ServerTime": {
                "description": "the cloud clock, unix seconds; terminals sign with it",
                "schema": {"type": "string"},
            }
        },
        "securitySchemes": {
            **{
                name: {"type": "apiKey", "in": "header", "name": header, "description": text}
                for name, (header, text) in SIGNATURE_HEADERS.items()
            },
            "hqToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "an HQ user's API token (vafa-cloud user token)",
            },
        },
    },
}


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Serve the OpenAPI description of the terminals' API."""
    return jsonify(SPEC)

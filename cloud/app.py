"""The cloud application factory: defaults, then a config file, then the caller's dict."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from cloud import (
    api,
    dashboard_pages,
    feedback,
    hq,
    hq_api,
    hq_ops,
    imports_page,
    member360,
    metrics,
    openapi,
    owner_notes_page,
)
from cloud.context import CloudContext
from cloud.errors import CloudError
from cloud.storage import make_engine, migrate, utcnow
from common import STATIC_DIR
from common.pii import PiiVault, load_or_create_key
from common.webauth import LoginLimiter

log = logging.getLogger(__name__)

SERVER_TIME_HEADER = "X-Vafa-Server-Time"


def default_config(instance: Path) -> dict[str, Any]:
    """Return the embedded defaults: SQLite and keys in the instance folder."""
    return {
        "DATABASE_URL": f"sqlite:///{instance / 'vafa-cloud.db'}",
        "PII_KEY_FILE": str(instance / "pii.key"),
        "AUTO_MIGRATE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    }


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the cloud app."""
    app = Flask(__name__, instance_relative_config=True, static_folder=STATIC_DIR)
    app.config.update(default_config(Path(app.instance_path)))
    app.config.from_envvar("VAFA_CLOUD_CONFIG", silent=True)
    app.config.from_prefixed_env("VAFA_CLOUD")
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    engine = make_engine(app.config["DATABASE_URL"])
    if app.config["AUTO_MIGRATE"]:
        migrate(engine)
    vault = PiiVault(load_or_create_key(Path(app.config["PII_KEY_FILE"])))
    app.extensions["vafa"] = CloudContext(engine, vault, LoginLimiter())
    app.register_blueprint(api.bp)
    app.register_blueprint(hq_api.bp)
    app.register_blueprint(hq.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(member360.bp)
    app.register_blueprint(hq_ops.bp)
    app.register_blueprint(owner_notes_page.bp)
    app.register_blueprint(imports_page.bp)
    app.register_blueprint(dashboard_pages.bp)
    metrics.install(app)
    app.register_error_handler(CloudError, _cloud_error)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_stamp_server_time)
    return app


def _cloud_error(exc: CloudError) -> tuple[Response, int]:
    log.warning("%s %s refused: %s (%s)", request.method, request.path, exc, exc.code)
    return jsonify(exc.to_json()), exc.status


def _http_error(exc: HTTPException) -> Response | HTTPException:
    # Terminals read JSON: a 404, 405 or 413 under /api/ must not answer with an HTML page.
    if not request.path.startswith("/api/"):
        return exc
    status = exc.code or 500
    code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(status, "http")
    body = {
        "error": code,
        "message": exc.description or exc.name,
        "message_fa": "درخواست نامعتبر است",
    }
    response = jsonify(body)
    response.status_code = status
    return response


def _stamp_server_time(response: Response) -> Response:
    # Terminals set their signing clock from this; their own clock may be days off.
    response.headers[SERVER_TIME_HEADER] = f"{utcnow().timestamp():.3f}"
    return response

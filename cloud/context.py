"""What every cloud request needs, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from common.pii import PiiVault
from common.webauth import LoginLimiter


@dataclass(frozen=True)
class CloudContext:
    """The engine, the PII vault and the login limiter of one app."""

    engine: sa.Engine
    vault: PiiVault
    login_limiter: LoginLimiter


def ctx() -> CloudContext:
    """Return the current app's context."""
    context: CloudContext = current_app.extensions["vafa"]
    return context

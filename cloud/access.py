"""Who may see which stores on HQ's pages: one scope, applied in every query.

Admins and marketers see the whole chain. A store owner sees only the stores listed for
them in ``user_stores``, and this is checked in the SQL of every page, chart and export,
not only by hiding menu entries: editing a URL or an id reaches nothing outside the scope.

What belongs to a store:

- a member belongs to their **home store** (``members.home_store_id``): the store that
  enrolled them and whose terminals book their gifts. A member who also buys elsewhere
  stays their home store's; the other store sees those sales (they are its sales) but not
  the member's card, Member 360 or analytics rows.
- a sale, a feedback answer and a terminal belong to the store they happened at
  (``store_id``).

The scope is read from the database on each request (``users`` and ``user_stores``), not
from the session cookie alone: a store taken away from an owner is gone at their next click.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, g, session

from cloud.context import ctx
from cloud.tables import members, user_stores, users

F = TypeVar("F", bound=Callable[..., Any])
CHAIN_ROLES = frozenset({"admin", "marketer"})


@dataclass(frozen=True)
class Scope:
    """The stores one signed-in HQ user may see; ``store_ids`` is None for the whole chain."""

    username: str
    role: str
    store_ids: frozenset[str] | None

    @property
    def whole_chain(self) -> bool:
        """Say whether the user sees every store."""
        return self.store_ids is None

    def stores(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """Return a condition keeping rows whose store ``column`` is in scope."""
        if self.store_ids is None:
            return sa.true()
        if not self.store_ids:
            return sa.false()
        return column.in_(sorted(self.store_ids))

    def members(self) -> sa.ColumnElement[bool]:
        """Return a condition on ``members`` keeping the members of stores in scope."""
        return self.stores(members.c.home_store_id)

    def member_ids(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """Return a condition keeping rows whose member ``column`` is a member in scope."""
        if self.store_ids is None:
            return sa.true()
        return column.in_(sa.select(members.c.id).where(self.members()))

    def sees_store(self, store_id: str) -> bool:
        """Say whether one store is in scope."""
        return self.store_ids is None or store_id in self.store_ids

    def sees_member(self, conn: sa.Connection, member_id: str) -> bool:
        """Say whether a member exists and belongs to a store in scope."""
        home = conn.execute(
            sa.select(members.c.home_store_id).where(members.c.id == member_id)
        ).scalar()
        return home is not None and self.sees_store(home)


def load_scope(conn: sa.Connection, username: str) -> Scope | None:
    """Return a user's scope from the database, or None if the user is gone or disabled
    (users admin disables an account by prefixing its hash with "!", as /etc/shadow does)."""
    row = conn.execute(
        sa.select(users.c.id, users.c.role, users.c.password_hash).where(
            users.c.username == username
        )
    ).first()
    if row is None or row.password_hash.startswith("!"):
        return None
    if row.role in CHAIN_ROLES:
        return Scope(username, row.role, None)
    ids = conn.execute(
        sa.select(user_stores.c.store_id).where(user_stores.c.user_id == row.id)
    ).scalars()
    return Scope(username, row.role, frozenset(ids))


def current_scope() -> Scope:
    """Return the signed-in user's scope, read once per request; 403 for a vanished user."""
    scope: Scope | None = g.get("vafa_scope")
    if scope is None:
        username = session.get("user")
        if not username:
            abort(403)
        with ctx().engine.connect() as conn:
            scope = load_scope(conn, username)
        if scope is None:
            session.clear()
            abort(403)
        g.vafa_scope = scope
    return scope


def roles_allowed(*roles: str) -> Callable[[F], F]:
    """Let through only signed-in users whose role (read from the database) is in ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_scope().role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def set_user_stores(conn: sa.Connection, username: str, store_ids: list[str]) -> None:
    """Give a store owner exactly these stores (replacing any they had)."""
    from cloud.tables import stores

    user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is None:
        raise ValueError(f"no user {username}")
    known = set(conn.execute(sa.select(stores.c.id).where(stores.c.id.in_(store_ids))).scalars())
    if missing := sorted(set(store_ids) - known):
        raise ValueError(f"no store {', '.join(missing)}")
    conn.execute(sa.delete(user_stores).where(user_stores.c.user_id == user_id))
    if store_ids:
        conn.execute(
            sa.insert(user_stores),
            [{"user_id": user_id, "store_id": s} for s in sorted(set(store_ids))],
        )

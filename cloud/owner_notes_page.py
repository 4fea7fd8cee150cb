"""HQ's notes page (``/hq/notes``): a store owner reads and closes their stores' notes, an
admin every store's; what is shown and closed is limited in the query (cloud/owner_notes.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from cloud.access import current_scope
from cloud.context import ctx
from cloud.hq_ops import allowed
from cloud.owner_notes import mark_done, notes_in_scope
from cloud.tables import owner_notes
from common.webauth import check_csrf

bp = Blueprint("owner_notes", __name__, url_prefix="/hq")


@bp.get("/notes")
@allowed("admin", "store_owner")
def notes_page() -> str:
    """Show the notes scenarios left for the user's stores."""
    show_done = request.args.get("done") == "1"
    with ctx().engine.connect() as conn:
        notes = notes_in_scope(conn, ctx().vault, show_done)
    return render_template("owner_notes.html", notes=notes, show_done=show_done)


@bp.post("/notes/<note_id>/done")
@allowed("admin", "store_owner")
def note_done(note_id: str) -> Response:
    """Mark one note done; a note outside the user's stores is 404."""
    check_csrf()
    with ctx().engine.begin() as conn:
        if not mark_done(conn, note_id[:32], str(session["user"])):
            exists = conn.execute(
                sa.select(owner_notes.c.done_at).where(
                    owner_notes.c.id == note_id[:32],
                    current_scope().stores(owner_notes.c.store_id),
                )
            ).first()
            if exists is None:
                abort(404)
    return redirect(url_for("owner_notes.notes_page"))

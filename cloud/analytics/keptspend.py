"""Members' spend per category, kept from one pass to the next.

``preferences.spend_columns`` groups every kept sale line by member and category: at a
million members that is 23 million lines, the largest read of a pass. Yet between two
daily passes the sums change only by the lines received since and by the sales refunded
since, so the pass keeps them in ``member_category_spend``, over the lines received up to
a boundary, and brings them up to date:

- The boundary is the analysis moment, or an hour (``lines.OVERLAP``) before the newest
  sale event whose lines were copied, if sooner: the last hour's lines may still be
  copied again (an ingest batch stamps its events before it commits). The lines after it
  are grouped on each pass and added to what is kept, not kept.
- A refunded sale's lines are never added; ``spend_refunds`` names the refunded sales
  already left out, so a sale refunded after its lines were added is taken off once.
- Along with the boundary the number of lines received up to it is kept. Lines that
  arrive behind the boundary (an order from another channel is dated when it was placed)
  are added by whoever inserts them (``include``); should the count differ anyway (a
  batch that took longer than an hour, rows written by hand) the sums are grouped afresh.

A pass dated before the boundary reads the lines as ``spend_columns`` does and keeps
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import numpy as np
import sqlalchemy as sa

from cloud.analytics.lines import OVERLAP, copied_through, read_setting, write_setting
from cloud.analytics.preferences import Spend, gathered, spend_columns
from cloud.storage import upsert_into
from cloud.tables import member_category_spend, sale_lines, sales, spend_refunds

KEPT = "analytics.spend_through"  # "<boundary> <lines received up to it>"
spend = member_category_spend


def kept_spend(conn: sa.Connection, as_of: dt.datetime) -> Spend:
    """Return each member's sales and Rials per category for kept sales up to ``as_of``
    (what ``spend_columns`` returns), bringing the kept sums up to date first."""
    bring_up_to_date(conn, as_of)
    return read_spend(conn, as_of)


def bring_up_to_date(conn: sa.Connection, as_of: dt.datetime) -> None:
    """Bring the kept sums up to the boundary of a pass as of ``as_of`` (nothing for a pass
    dated before the kept boundary)."""
    boundary = as_of
    if (copied := copied_through(conn)) is not None:
        boundary = min(as_of, copied - OVERLAP)
    kept = _kept(conn)
    if kept is not None and kept[0] > boundary:
        return  # a pass dated in the past: keep nothing
    if kept is None or _lines(conn, None, kept[0]) != kept[1]:
        conn.execute(sa.delete(spend))
        conn.execute(sa.delete(spend_refunds))
        _add(conn, None, boundary)
        _keep(conn, boundary, _lines(conn, None, boundary))
        return
    since, count = kept
    _take_off_refunds(conn, since)
    if boundary > since:
        _add(conn, since, boundary)
        _keep(conn, boundary, count + _lines(conn, since, boundary))


def read_spend(conn: sa.Connection, as_of: dt.datetime) -> Spend:
    """Return the spend as of ``as_of``: the kept sums and the lines received after their
    boundary, or, before the boundary, every line grouped again (read only: the other
    process of a pass reads it, once the pass has committed ``bring_up_to_date``)."""
    kept = _kept(conn)
    if kept is None or kept[0] > as_of:
        return spend_columns(conn, as_of)
    return _merged(_read_kept(conn), _grouped_spend(conn, kept[0], as_of))


def include(conn: sa.Connection, sale_ids: Collection[str]) -> None:
    """Add the lines of new, unrefunded sales received up to the boundary (orders from
    other channels, dated when they were placed) to the kept sums."""
    kept = _kept(conn)
    if kept is None or not sale_ids:
        return
    boundary, count = kept
    these = sa.and_(sale_lines.c.sale_id.in_(sale_ids), sale_lines.c.received_at <= boundary)
    added = conn.execute(sa.select(sa.func.count()).select_from(sale_lines).where(these))
    _upsert(conn, _grouped(these, 1))
    _keep(conn, boundary, count + int(added.scalar_one()))


def _kept(conn: sa.Connection) -> tuple[dt.datetime, int] | None:
    value = read_setting(conn, KEPT)
    if not value:
        return None
    moment, count = value.split(" ")
    return dt.datetime.fromisoformat(moment), int(count)


def _keep(conn: sa.Connection, boundary: dt.datetime, count: int) -> None:
    write_setting(conn, KEPT, f"{boundary.isoformat()} {count}")


def _between(since: dt.datetime | None, until: dt.datetime) -> sa.ColumnElement[bool]:
    upto = sale_lines.c.received_at <= until
    return upto if since is None else sa.and_(sale_lines.c.received_at > since, upto)


def _lines(conn: sa.Connection, since: dt.datetime | None, until: dt.datetime) -> int:
    """Count the lines received after ``since`` (from the first if None) up to ``until``."""
    query = sa.select(sa.func.count()).select_from(sale_lines).where(_between(since, until))
    return int(conn.execute(query).scalar_one())


def _refunded() -> sa.Select[tuple[str]]:
    return sa.select(sales.c.id).where(sales.c.refunded_at.is_not(None))


def _grouped(where: sa.ColumnElement[bool], sign: int) -> sa.Select[tuple[str, str, int, int]]:
    """The lines matching ``where`` per member and category: sales and Rials (× ``sign``)."""
    return (
        sa.select(
            sale_lines.c.member_id,
            sale_lines.c.category,
            sign * sa.func.count(sa.distinct(sale_lines.c.sale_id)),
            sign * sa.func.sum(sale_lines.c.amount_rial),
        )
        .where(where)
        .group_by(sale_lines.c.member_id, sale_lines.c.category)
    )


def _upsert(conn: sa.Connection, rows: sa.Select[tuple[str, str, int, int]]) -> None:
    """Add grouped rows to the kept sums (a new member and category is inserted)."""
    insert = upsert_into(conn, spend)
    names = ["member_id", "category", "purchases", "amount_rial"]
    # The grouped SELECT has a WHERE, so SQLite cannot read ON CONFLICT as a join's ON.
    statement = insert.from_select(names, rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[spend.c.member_id, spend.c.category],
            set_={
                "purchases": spend.c.purchases + statement.excluded.purchases,
                "amount_rial": spend.c.amount_rial + statement.excluded.amount_rial,
            },
        )
    )


def _add(conn: sa.Connection, since: dt.datetime | None, until: dt.datetime) -> None:
    """Add the lines received in (``since``, ``until``] of sales not refunded; name the
    refunded ones among them as left out."""
    received = _between(since, until)
    _upsert(conn, _grouped(sa.and_(received, sale_lines.c.sale_id.not_in(_refunded())), 1))
    left_out = (
        sa.select(sale_lines.c.sale_id)
        .distinct()
        .where(received, sale_lines.c.sale_id.in_(_refunded()))
    )
    conn.execute(sa.insert(spend_refunds).from_select(["sale_id"], left_out))


def _take_off_refunds(conn: sa.Connection, boundary: dt.datetime) -> None:
    """Take off the lines, received up to ``boundary``, of sales refunded since they were
    added."""
    newly = _refunded().where(sales.c.id.not_in(sa.select(spend_refunds.c.sale_id)))
    found = (
        sa.select(sale_lines.c.sale_id)
        .distinct()
        .where(sale_lines.c.sale_id.in_(newly), sale_lines.c.received_at <= boundary)
    )
    sale_ids = list(conn.execute(found).scalars())
    if not sale_ids:
        return
    these = sa.and_(sale_lines.c.sale_id.in_(sale_ids), sale_lines.c.received_at <= boundary)
    _upsert(conn, _grouped(these, -1))
    conn.execute(sa.insert(spend_refunds), [{"sale_id": s} for s in sale_ids])
    members = sa.select(sale_lines.c.member_id).where(sale_lines.c.sale_id.in_(sale_ids))
    conn.execute(sa.delete(spend).where(spend.c.purchases <= 0, spend.c.member_id.in_(members)))


def _read_kept(conn: sa.Connection) -> Spend:
    query = sa.select(spend.c.member_id, spend.c.category, spend.c.purchases, spend.c.amount_rial)
    return gathered(conn, query.order_by(spend.c.member_id, spend.c.category))


def _grouped_spend(conn: sa.Connection, since: dt.datetime, until: dt.datetime) -> Spend:
    """Group the kept lines received after the boundary, up to the analysis moment."""
    kept_lines = sa.and_(_between(since, until), sale_lines.c.sale_id.not_in(_refunded()))
    query = _grouped(kept_lines, 1).order_by(sale_lines.c.member_id, sale_lines.c.category)
    return gathered(conn, query)


def _merged(kept: Spend, more: Spend) -> Spend:
    """Return the sums of two spends, a member's rows together, categories sorted."""
    if not len(more.member):
        return kept
    members = list(kept.members)
    code = {m: i for i, m in enumerate(members)}
    for m in more.members:
        if m not in code:
            code[m] = len(members)
            members.append(m)
    categories = sorted(set(kept.categories) | set(more.categories))
    place = {c: j for j, c in enumerate(categories)}
    kept_cat = np.array([place[c] for c in kept.categories], dtype=np.int64)
    more_cat = np.array([place[c] for c in more.categories], dtype=np.int64)
    more_member = np.array([code[m] for m in more.members], dtype=np.int64)
    member = np.concatenate([kept.member, more_member[more.member]])
    category = np.concatenate([kept_cat[kept.category], more_cat[more.category]])
    key = member * len(categories) + category
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    purchases = np.add.reduceat(np.concatenate([kept.purchases, more.purchases])[order], starts)
    rial = np.add.reduceat(np.concatenate([kept.rial, more.rial])[order], starts)
    unique = key[starts]
    return Spend(
        members, categories, unique // len(categories), unique % len(categories), purchases, rial
    )

"""Surprise gifts: shown on the member card at the next visit, handed over once, told to HQ."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent import gifts
from agent.drivers.escpos_decoder import receipt_image
from agent.ledger import book
from agent.offline_queue import outbox
from agent.offline_queue.pull import pull
from cloud.grants import create_grant
from cloud.tables import grants
from tests.support.cloud_terminal import open_terminal as _open_terminal

NOTE = "به پاس همراهی‌تان یک شاخه گل و ۵۰۰ امتیاز"


def _member(a):  # type: ignore[no-untyped-def]
    terminal, client = a
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    client.drain(terminal.conn, terminal.vault)
    return member


def _gift(cloud_app, member_id: str, gift: bool = True) -> str:  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        return create_grant(
            conn, member_id, "points", 500, "scenario:surprise", "scenario", note=NOTE, gift=gift
        )


def _cloud_grant(cloud_app, grant_id: str):  # type: ignore[no-untyped-def]
    with cloud_app.extensions["vafa"].engine.connect() as conn:
        return conn.execute(sa.select(grants).where(grants.c.id == grant_id)).one()


def _handovers(conn) -> int:  # type: ignore[no-untyped-def]
    return int(
        conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'gift.handed_over'").fetchone()[0]
    )


def test_a_gift_is_shown_handed_over_once_printed_once_and_recorded_by_the_cloud(
    two_stores, cloud_app
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a surprise gift of 500 points for a member of store A
    WHEN A pulls THEN the points are booked and the card shows the gift with its note;
    WHEN the cashier hands it over twice THEN one hand-over, one event, one slip with the
    note; WHEN A syncs THEN the cloud records when it was delivered, and the card is clear."""
    (a, a_client), _ = two_stores
    member = _member((a, a_client))
    grant_id = _gift(cloud_app, member.id)

    assert pull(a_client, a.conn, a.vault).grants == 1
    assert a.flow.balance(member.id) == 500  # booked at the pull, like every grant
    (waiting,) = gifts.for_member(a.conn, member.id)
    assert (waiting.grant_id, waiting.note, waiting.points) == (grant_id, NOTE, 500)
    assert waiting.handed_over_at is None

    first, fresh = gifts.hand_over(a.conn, a.vault, grant_id, member.id, "مریم")
    again, fresh_again = gifts.hand_over(a.conn, a.vault, grant_id, member.id, "علی")
    assert fresh and not fresh_again
    assert again.handed_over_at == first.handed_over_at and again.handed_over_by == "مریم"
    assert _handovers(a.conn) == 1
    found = a.flow.identify("09121112233")
    assert gifts.print_slip(a, first, found) is True
    assert gifts.print_slip(a, first, found) is False
    assert len(a.printer.jobs) == 1  # type: ignore[attr-defined]
    slip = receipt_image(a.printer.jobs[0])  # type: ignore[attr-defined]
    assert slip is not None and slip.height > 200
    assert gifts.for_member(a.conn, member.id) == []
    assert a.flow.balance(member.id) == 500  # handing over books nothing more
    assert book.verify(a.conn) == []

    a_client.drain(a.conn, a.vault)
    row = _cloud_grant(cloud_app, grant_id)
    assert row.applied_at is not None and row.handed_over_at is not None
    event_id = a.conn.execute("SELECT handover_event_id FROM grants").fetchone()[0]
    assert row.handover_event_id == event_id
    assert pull(a_client, a.conn, a.vault).grants == 0
    assert gifts.for_member(a.conn, member.id) == []

    from cloud.hq import create_user
    from tests.cloud.test_access_scope import PASSWORD, signed_in

    with cloud_app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "admin", PASSWORD, "admin")
    page = signed_in(cloud_app, "admin").get(f"/hq/members/{member.id}")
    assert "هدیهٔ شگفتانه در صندوق تحویل شد" in page.get_data(as_text=True)


@pytest.fixture
def any_stores(cloud_app_any, tmp_path: Path) -> Iterator[tuple]:  # type: ignore[type-arg]
    """The two stores of ``two_stores``, on either back-end."""
    a = _open_terminal(cloud_app_any, tmp_path / "a", "شعبه ونک")
    b = _open_terminal(cloud_app_any, tmp_path / "b", "شعبه تجریش")
    yield a, b
    for terminal, client in (a, b):
        client.close()
        terminal.close()


def test_a_gift_handed_over_before_the_sync_and_resent_by_the_cloud_stays_once(
    any_stores, cloud_app_any
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a gift handed over while the terminal has not yet told the cloud it booked it
    WHEN the cloud sends the grant again, the terminal resends its events (lost answer)
    and a forged second hand-over and another store's claim arrive
    THEN the gift is booked once, handed over once: the second hand-over is a duplicate
    that changes nothing and the other store's claim is refused."""
    cloud_app = cloud_app_any
    (a, a_client), (b, b_client) = any_stores
    member = _member((a, a_client))
    grant_id = _gift(cloud_app, member.id)
    pull(a_client, a.conn, a.vault)
    gifts.hand_over(a.conn, a.vault, grant_id, member.id, "مریم")
    assert pull(a_client, a.conn, a.vault).grants == 0  # sent again: not booked again
    (still,) = gifts.for_member(a.conn, member.id)  # its slip is not printed yet
    assert still.handed_over_at is not None

    pending = [event.to_dict() for event in outbox.pending(a.conn, a.vault, 10)]
    assert [event["kind"] for event in pending] == ["grant.applied", "gift.handed_over"]
    first = a_client.post_signed("/api/v1/sync/events", {"events": pending})
    assert [r["status"] for r in first["results"]] == ["applied", "applied"]
    resent = a_client.post_signed("/api/v1/sync/events", {"events": pending})
    assert [r["status"] for r in resent["results"]] == ["duplicate", "duplicate"]
    delivered = _cloud_grant(cloud_app, grant_id).handed_over_at

    forged = dict(pending[1], id="e" * 32, seq=pending[1]["seq"] + 100)
    answer = a_client.post_signed("/api/v1/sync/events", {"events": [forged]})
    assert answer["results"][0]["status"] == "duplicate"  # stored, changes nothing
    pull(b_client, b.conn, b.vault)  # B knows the member
    stolen = dict(pending[1], id="d" * 32, seq=1)
    answer = b_client.post_signed("/api/v1/sync/events", {"events": [stolen]})
    assert answer["results"][0]["field"] == "payload.grant_id"
    assert _cloud_grant(cloud_app, grant_id).handed_over_at == delivered


def test_a_plain_grant_is_no_gift_and_cannot_be_handed_over(two_stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    (a, a_client), _ = two_stores
    member = _member((a, a_client))
    grant_id = _gift(cloud_app, member.id, gift=False)
    pull(a_client, a.conn, a.vault)
    assert gifts.for_member(a.conn, member.id) == []
    with pytest.raises(gifts.InputError) as caught:
        gifts.hand_over(a.conn, a.vault, grant_id, member.id, "مریم")
    assert caught.value.fa == "هدیه پیدا نشد"
    assert _handovers(a.conn) == 0


def test_a_failure_inside_the_hand_over_stores_nothing(two_stores, cloud_app) -> None:  # type: ignore[no-untyped-def]
    """GIVEN the outbox refusing its insert (a disk error half-way) WHEN the cashier hands
    the gift over THEN neither the mark nor the event is stored, and a retry records it."""
    (a, a_client), _ = two_stores
    member = _member((a, a_client))
    grant_id = _gift(cloud_app, member.id)
    pull(a_client, a.conn, a.vault)
    a.conn.execute(
        "CREATE TEMP TRIGGER broken BEFORE INSERT ON outbox"
        " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    with pytest.raises(Exception, match="disk I/O error"):
        gifts.hand_over(a.conn, a.vault, grant_id, member.id, "مریم")
    assert gifts.for_member(a.conn, member.id)[0].handed_over_at is None
    assert _handovers(a.conn) == 0
    a.conn.execute("DROP TRIGGER broken")
    assert gifts.hand_over(a.conn, a.vault, grant_id, member.id, "مریم")[1]
    assert _handovers(a.conn) == 1


def test_a_crash_between_the_hand_over_and_the_slip(two_stores, cloud_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a terminal process killed right after the hand-over committed, before printing
    WHEN the terminal comes back THEN the gift is handed over (once) with its slip waiting on
    the card; the slip prints once, and pressing the button again records nothing more."""
    (a, a_client), _ = two_stores
    member = _member((a, a_client))
    grant_id = _gift(cloud_app, member.id)
    pull(a_client, a.conn, a.vault)
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from agent import gifts
        from agent.config import AgentConfig
        from agent.terminal import Terminal
        config = AgentConfig(data_dir=Path({str(tmp_path / "a")!r}), printer_transport="memory")
        t = Terminal(config)
        gifts.hand_over(t.conn, t.vault, {grant_id!r}, {member.id!r}, "مریم")
        os._exit(9)  # killed before the slip is printed
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).parents[2], env=dict(os.environ)
    )
    assert child.returncode == 9

    (after,) = gifts.for_member(a.conn, member.id)
    assert after.handed_over_at is not None and after.slip_printed_at is None
    assert _handovers(a.conn) == 1
    gift, fresh = gifts.hand_over(a.conn, a.vault, grant_id, member.id, "مریم")
    assert not fresh
    member_now = a.flow.identify(member.card_code)
    assert gifts.print_slip(a, gift, member_now) and not gifts.print_slip(a, gift, member_now)
    assert gifts.for_member(a.conn, member.id) == []
    assert _handovers(a.conn) == 1
    a_client.drain(a.conn, a.vault)
    assert _cloud_grant(cloud_app, grant_id).handed_over_at is not None


def test_a_long_note_wraps_on_the_slip_instead_of_running_off_the_paper() -> None:
    import datetime as dt

    from agent.receipt import GiftSlip, render_gift_slip
    from common.persian import TEHRAN

    def slip(note: str):  # type: ignore[no-untyped-def]
        at = dt.datetime(2026, 12, 1, 12, tzinfo=TEHRAN)
        return render_gift_slip(GiftSlip("ونک", at, "مریم", "۰۹۱۲***۲۲۳۳", note, 300), 384)

    short, long = slip("یک شاخه گل"), slip("یک شاخه گل به پاس همراهی بزرگ شما " * 5)
    assert short.width == long.width == 384
    assert long.height > short.height + 3 * 30  # at least three more lines
    # Nothing is drawn in the margins: every line fits the paper.
    margin = long.crop((0, 0, 6, long.height))
    assert margin.getextrema() == (255, 255)


def test_the_surprise_gift_scenario_reaches_the_card_after_a_big_purchase(
    two_stores, cloud_app
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN the library's surprise gift (a purchase of 50 million Rials or more), no control
    WHEN a member buys for 60 million and the terminal syncs and pulls
    THEN the scenario's grant arrives marked as a gift with its note, for the card."""
    from cloud.scenarios import store
    from cloud.scenarios.library import LIBRARY

    (a, a_client), _ = two_stores
    with cloud_app.extensions["vafa"].engine.begin() as conn:
        store.save(conn, "surprise-gift", dict(LIBRARY["surprise-gift"], control_pct=0))
    member = _member((a, a_client))
    a.flow.sale(member.id, 60_000_000)
    a_client.drain(a.conn, a.vault)  # the cloud runs purchase scenarios once it commits
    pull(a_client, a.conn, a.vault)
    (gift,) = gifts.for_member(a.conn, member.id)
    assert gift.note == LIBRARY["surprise-gift"]["actions"][0]["note"] and gift.points == 300

    from cloud.hq import create_user
    from tests.cloud.test_access_scope import PASSWORD, signed_in

    with cloud_app.extensions["vafa"].engine.begin() as conn:
        create_user(conn, "admin", PASSWORD, "admin")
    admin = signed_in(cloud_app, "admin")
    page = admin.get("/hq/scenarios/surprise-gift").get_data(as_text=True)
    assert "۱ داده شده، ۰ در صندوق تحویل شده" in page
    gifts.hand_over(a.conn, a.vault, gift.grant_id, member.id, "مریم")
    a_client.drain(a.conn, a.vault)
    page = admin.get("/hq/scenarios/surprise-gift").get_data(as_text=True)
    assert "۱ داده شده، ۱ در صندوق تحویل شده" in page


def test_a_printer_out_of_paper_keeps_the_slip_for_later_and_prints_it_once(
    tmp_path: Path,
) -> None:
    """GIVEN a networked printer out of paper WHEN a gift is handed over THEN the hand-over
    is recorded and the slip refused in Persian; WHEN paper is loaded and the cashier presses
    the card's button again THEN the slip prints once and no second hand-over is recorded."""
    from agent.drivers.printer_status import PrinterNotReady
    from tests.support.printing import PAPER_LOADED, paper_out_terminal
    from tests.web.test_cashier_gift import give_gift

    sim, terminal = paper_out_terminal(tmp_path)
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        grant_id = give_gift(terminal, member.id)
        gift, _ = gifts.hand_over(terminal.conn, terminal.vault, grant_id, member.id, "مریم")
        with pytest.raises(PrinterNotReady) as caught:
            gifts.print_slip(terminal, gift, member)
        assert caught.value.fa == "کاغذ چاپگر تمام شده است"
        (waiting,) = gifts.for_member(terminal.conn, member.id)
        assert waiting.handed_over_at and not waiting.slip_printed_at
        sim.status = dict(PAPER_LOADED)
        again, fresh = gifts.hand_over(terminal.conn, terminal.vault, grant_id, member.id, "مریم")
        assert not fresh
        assert gifts.print_slip(terminal, again, member)
        assert not gifts.print_slip(terminal, again, member)
        assert gifts.for_member(terminal.conn, member.id) == []
        assert _handovers(terminal.conn) == 1
    finally:
        terminal.close()
    sim.wait_for_jobs(1)
    sim.close()
    assert len(sim.jobs) == 1 and len(sim.images) == 1 and sim.kicks == []


@pytest.fixture
def store_tills(cloud_app_any, tmp_path: Path) -> Iterator[tuple]:  # type: ignore[type-arg]
    """Yield two tills of store A and one till of store B, on either back-end."""
    from cloud.tables import terminals

    first = _open_terminal(cloud_app_any, tmp_path / "a1", "شعبه ونک")
    with cloud_app_any.extensions["vafa"].engine.connect() as conn:
        store_id = conn.execute(sa.select(terminals.c.store_id)).scalar_one()
    second = _open_terminal(cloud_app_any, tmp_path / "a2", "شعبه ونک", store_id=store_id)
    other = _open_terminal(cloud_app_any, tmp_path / "b", "شعبه تجریش")
    yield first, second, other
    for terminal, client in (first, second, other):
        client.close()
        terminal.close()


def _chain_points(cloud_app, member_id: str) -> int:  # type: ignore[no-untyped-def]
    from cloud.balances import chain_balances

    with cloud_app.extensions["vafa"].engine.connect() as conn:
        return chain_balances(conn, [member_id])[member_id]


def _count(conn, kind: str) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = ?", (kind,)).fetchone()[0])


def test_a_gift_booked_by_one_till_is_handed_over_at_another_till_of_the_store(
    store_tills, cloud_app_any
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a gift booked by till 1 of store A WHEN till 2 of A pulls THEN its card shows
    the gift; WHEN the cashier hands it over there (twice) THEN one hand-over, no points
    booked at till 2, the cloud records till 2's hand-over; WHEN till 1 pulls THEN the gift
    leaves its card and cannot be handed over again; store B never sees it and its claim
    is refused; the points are booked once chain-wide."""
    (a1, c1), (a2, c2), (b, cb) = store_tills
    member = _member((a1, c1))
    grant_id = _gift(cloud_app_any, member.id)
    assert pull(c1, a1.conn, a1.vault).grants == 1
    c1.drain(a1.conn, a1.vault)  # grant.applied: the cloud knows the points are booked
    assert [g.grant_id for g in gifts.for_member(a1.conn, member.id)] == [grant_id]

    assert pull(c2, a2.conn, a2.vault).grants == 0  # till 2 books nothing
    (shown,) = gifts.for_member(a2.conn, member.id)
    assert (shown.grant_id, shown.note, shown.points, shown.booked_here) == (
        grant_id,
        NOTE,
        500,
        False,
    )
    pull(cb, b.conn, b.vault)
    assert b.conn.execute("SELECT COUNT(*) FROM store_gifts").fetchone()[0] == 0
    with pytest.raises(gifts.InputError):
        gifts.hand_over(b.conn, b.vault, grant_id, member.id, "رضا")

    done, fresh = gifts.hand_over(a2.conn, a2.vault, grant_id, member.id, "مریم")
    again, fresh_again = gifts.hand_over(a2.conn, a2.vault, grant_id, member.id, "علی")
    assert fresh and not fresh_again and again.handed_over_by == "مریم"
    assert (_count(a2.conn, "gift.handed_over"), _count(a2.conn, "grant.applied")) == (1, 0)
    assert book.verify(a2.conn) == []
    found = a2.flow.identify("09121112233")
    assert gifts.print_slip(a2, done, found) and not gifts.print_slip(a2, done, found)
    assert gifts.for_member(a2.conn, member.id) == []

    (event,) = [e.to_dict() for e in outbox.pending(a2.conn, a2.vault, 10)]
    claim = dict(event, id="d" * 32, seq=1)  # store B claims it: refused
    answer = cb.post_signed("/api/v1/sync/events", {"events": [claim]})
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["field"] == "payload.grant_id"
    assert _cloud_grant(cloud_app_any, grant_id).handed_over_at is None

    c2.drain(a2.conn, a2.vault)
    row = _cloud_grant(cloud_app_any, grant_id)
    assert row.handed_over_at is not None and row.handover_event_id == event["id"]
    assert pull(c2, a2.conn, a2.vault).grants == 0
    assert gifts.for_member(a2.conn, member.id) == []  # its record stays, the card is clear

    assert len(gifts.for_member(a1.conn, member.id)) == 1  # till 1 has not pulled yet
    pull(c1, a1.conn, a1.vault)
    assert gifts.for_member(a1.conn, member.id) == []
    with pytest.raises(gifts.InputError) as caught:
        gifts.hand_over(a1.conn, a1.vault, grant_id, member.id, "مریم")
    assert caught.value.fa == "این هدیه در صندوق دیگری تحویل شده است"
    assert _count(a1.conn, "gift.handed_over") == 0
    assert a1.flow.balance(member.id) == 500
    assert _chain_points(cloud_app_any, member.id) == 500  # booked once, by till 1
    assert _cloud_grant(cloud_app_any, grant_id).handover_event_id == event["id"]


def test_two_tills_pressing_before_either_syncs_the_cloud_keeps_the_first(
    store_tills, cloud_app_any
) -> None:  # type: ignore[no-untyped-def]
    """GIVEN a gift shown on both tills of store A WHEN both cashiers hand it over before
    either syncs THEN the cloud keeps the first hand-over that reaches it, the second is a
    duplicate that changes nothing, and both tills' outboxes empty (nothing stuck)."""
    (a1, c1), (a2, c2), _ = store_tills
    member = _member((a1, c1))
    grant_id = _gift(cloud_app_any, member.id)
    pull(c1, a1.conn, a1.vault)
    c1.drain(a1.conn, a1.vault)
    pull(c2, a2.conn, a2.vault)
    assert gifts.hand_over(a2.conn, a2.vault, grant_id, member.id, "مریم")[1]
    assert gifts.hand_over(a1.conn, a1.vault, grant_id, member.id, "علی")[1]
    (second,) = [e.to_dict() for e in outbox.pending(a1.conn, a1.vault, 10)]
    (first,) = [e.to_dict() for e in outbox.pending(a2.conn, a2.vault, 10)]

    c2.drain(a2.conn, a2.vault)
    kept = _cloud_grant(cloud_app_any, grant_id)
    assert kept.handover_event_id == first["id"]
    answer = c1.post_signed("/api/v1/sync/events", {"events": [second]})
    assert answer["results"] == [{"id": second["id"], "status": "duplicate"}]
    c1.drain(a1.conn, a1.vault)
    assert outbox.depth(a1.conn) == outbox.depth(a2.conn) == 0
    after = _cloud_grant(cloud_app_any, grant_id)
    assert (after.handover_event_id, after.handed_over_at) == (first["id"], kept.handed_over_at)
    assert _chain_points(cloud_app_any, member.id) == 500


def test_only_a_whole_store_list_takes_a_gift_booked_here_off_the_card(tmp_path: Path) -> None:
    """GIVEN a gift booked by this till WHEN a pull's store list holds a malformed entry
    THEN nothing is taken as handed over elsewhere; WHEN it lists the gift THEN it is shown
    once (not copied as another till's); WHEN a whole list lacks it THEN it leaves the card
    and a press is refused in Persian, with no event queued."""
    from agent.config import AgentConfig
    from agent.ledger.db import write_transaction
    from agent.terminal import Terminal
    from tests.web.test_cashier_gift import give_gift

    terminal = Terminal(AgentConfig(data_dir=tmp_path / "t", printer_transport="memory"))
    try:
        conn = terminal.conn
        member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
        grant_id = give_gift(terminal, member.id)
        own = {"grant_id": grant_id, "member_id": member.id, "kind": "points", "amount": 300}
        for listed, kept in (([{"grant_id": "x"}], 0), ([{**own, "note": NOTE}], 1)):
            with write_transaction(conn):
                assert gifts.replace_store_list(conn, listed, "2026-12-01T10:00") == kept
            assert [g.booked_here for g in gifts.for_member(conn, member.id)] == [True]
        assert conn.execute("SELECT COUNT(*) FROM store_gifts").fetchone()[0] == 0
        with write_transaction(conn):
            gifts.replace_store_list(conn, [], "2026-12-01T11:00")
        assert gifts.for_member(conn, member.id) == []
        with pytest.raises(gifts.InputError) as caught:
            gifts.hand_over(conn, terminal.vault, grant_id, member.id, "مریم")
        assert caught.value.fa == "این هدیه در صندوق دیگری تحویل شده است"
        assert _handovers(conn) == 0
        assert terminal.flow.balance(member.id) == 300  # its points stay booked here
    finally:
        terminal.close()

"""The terminal's /metrics over real HTTP on loopback: sales, queue, points and sync state."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from agent.demo import free_port
from agent.metrics import start_metrics
from agent.offline_queue.poller import SyncPoller


def _scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_follow_the_ledger_and_the_sync(enrolled) -> None:  # type: ignore[no-untyped-def]
    terminal, client, _app = enrolled
    member = terminal.flow.enrol("09121112233", "مریم کریمی", consent=True)
    first = terminal.flow.sale(member.id, 2_000_000)
    terminal.flow.sale(member.id, 500_000, redeem_points=100)
    terminal.flow.refund(first.sale_id)
    poller = SyncPoller(terminal.conn, terminal.vault, client, interval=60)
    port = free_port()
    server = start_metrics("127.0.0.1", port, terminal.config.database, poller)
    try:
        before = _scrape(port)
        assert before["vafa_agent_sales_total"] == 2
        assert before["vafa_agent_refunds_total"] == 1
        assert before["vafa_agent_points_redeemed_total"] == 100
        assert before["vafa_agent_queue_depth"] == 4  # enrolment, two sales, a refund
        assert before["vafa_agent_queue_oldest_age_seconds"] >= 0
        assert before["vafa_agent_sync_online"] == 0  # never synced yet
        assert before["vafa_agent_points_liability"] == terminal.flow.balance(member.id)

        assert poller.run_once()
        after = _scrape(port)
        assert after["vafa_agent_queue_depth"] == 0
        assert after["vafa_agent_queue_oldest_age_seconds"] == 0
        assert after["vafa_agent_sync_online"] == 1
        assert after["vafa_agent_sync_last_success_timestamp_seconds"] > 1.7e9
    finally:
        server.shutdown()
        server.server_close()


def test_port_zero_serves_nothing(terminal) -> None:  # type: ignore[no-untyped-def]
    assert start_metrics("127.0.0.1", 0, terminal.config.database, None) is None

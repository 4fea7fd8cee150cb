"""The cloud's /metrics: requests, ingest outcomes and the fleet, in Prometheus' format."""

from __future__ import annotations

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.cloud.test_sync_api import Signer, enrolment_batch


def _samples(app: Flask, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    answer = app.test_client().get("/metrics", headers=headers or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def test_ingest_outcomes_and_the_fleet_are_counted(cloud_app_any: Flask) -> None:
    signer = Signer(cloud_app_any)
    batch = enrolment_batch()
    assert signer.post(batch, signer.headers(batch)).status_code == 200
    assert signer.post(batch, signer.headers(batch)).status_code == 200  # a resend
    samples = _samples(cloud_app_any)
    kind = (("kind", "member.enrolled"),)
    assert samples[("vafa_cloud_events_total", (*kind, ("status", "applied")))] == 1
    assert samples[("vafa_cloud_events_total", (*kind, ("status", "duplicate")))] == 1
    ok = (("endpoint", "/api/v1/sync/events"), ("status", "200"))
    assert samples[("vafa_cloud_requests_total", ok)] == 2
    assert samples[("vafa_cloud_terminals", (("state", "active"),))] == 1
    assert samples[("vafa_cloud_members", ())] == 1
    assert samples[("vafa_cloud_overdraft_points", ())] == 0
    assert (
        samples[("vafa_cloud_request_seconds_count", (("endpoint", "/api/v1/sync/events"),))] == 2
    )


def test_hostile_event_kinds_do_not_become_labels(cloud_app: Flask) -> None:
    signer = Signer(cloud_app)
    import json

    body = json.loads(enrolment_batch())
    for n in range(5):
        body["events"][0]["kind"] = f"evil-{n}"
        raw = json.dumps(body).encode()
        signer.post(raw, signer.headers(raw))
    kinds = {dict(labels).get("kind") for name, labels in _samples(cloud_app) if "events" in name}
    assert kinds == {"unknown"}


def test_a_metrics_token_is_required_when_set(cloud_app: Flask) -> None:
    cloud_app.config["METRICS_TOKEN"] = "s3cret-scrape"
    refused = cloud_app.test_client().get("/metrics")
    assert refused.status_code == 401
    with pytest.raises(AssertionError):
        _samples(cloud_app, {"Authorization": "Bearer wrong"})
    assert _samples(cloud_app, {"Authorization": "Bearer s3cret-scrape"})

"""The chart library HQ's pages load is served by the app itself, byte for byte the file
recorded in docs/dependencies.md (version, source, sha256), with its licence beside it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dependencies.md"
CHART_JS = "vendor/chart.umd.min.js"


def _recorded_sha256(file_name: str) -> str:
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| `{file_name}`"):
            found = re.search(r"`([0-9a-f]{64})`", line)
            assert found, line
            return found.group(1)
    raise AssertionError(f"{file_name} is not recorded in {DOCS}")


def test_served_chart_library_matches_the_recorded_sha256(cloud_app_any: Flask) -> None:
    """GIVEN the cloud WHEN a browser fetches Chart.js THEN it is the recorded file, as JS."""
    response = cloud_app_any.test_client().get(f"/static/{CHART_JS}")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    body = response.get_data()
    assert hashlib.sha256(body).hexdigest() == _recorded_sha256("chart.umd.min.js")
    assert body.startswith(b"/*!\n * Chart.js v4.6.1")
    response.close()


def test_chart_library_licence_is_served_beside_it(cloud_app_any: Flask) -> None:
    """GIVEN the vendored library WHEN its licence is fetched THEN it is Chart.js's MIT text."""
    response = cloud_app_any.test_client().get("/static/vendor/chart.js.LICENSE.md")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("The MIT License (MIT)") and "Chart.js Contributors" in text
    response.close()

"""The walking skeleton, end to end, as ``make demo ONCE=1`` runs it.

GIVEN a fresh folder, WHEN the demo runs its scripted morning (pty scanner → identify →
award → ledger+outbox → receipt → signed HTTP sync to a cloud process on SQLite),
THEN the cloud holds exactly the points the terminal holds, nothing is left queued,
and every receipt decodes from its ESC/POS bytes into a receipt image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from agent.demo import MORNING
from agent.drivers.escpos_decoder import decode, drawer_kicks, receipt_image


def test_demo_once_syncs_every_point_to_the_cloud(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    done = subprocess.run(
        [sys.executable, "-m", "agent", "demo", "--once", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["agent_points_total"] == summary["cloud_points_total"] > 0
    assert summary["queue_depth"] == 0
    assert summary["ledger_problems"] == []
    assert summary["sales"] == summary["cloud_sales"] == len(MORNING)
    assert summary["members"] == 5
    assert summary["drawer_kicks"] == len(MORNING)
    assert len(summary["receipts"]) == len(MORNING)
    for png in summary["receipts"]:
        data = Path(png).with_suffix(".bin").read_bytes()
        decoded = receipt_image(data)
        assert decoded is not None
        with Image.open(png) as saved:
            assert saved.size == decoded.size
            assert saved.width == 576
        assert len(drawer_kicks(decode(data))) == 1

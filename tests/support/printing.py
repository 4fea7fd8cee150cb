"""A terminal printing to a networked printer simulator that starts out of paper."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentConfig
from agent.drivers.simulator import NetworkPrinterSimulator
from agent.terminal import Terminal

PAPER_OUT = {1: 0x1A, 2: 0x32, 4: 0x72}  # DLE EOT answers: paper end, printing stopped
PAPER_LOADED = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}


def paper_out_terminal(tmp_path: Path) -> tuple[NetworkPrinterSimulator, Terminal]:
    """Return a simulator with no paper and a terminal printing to it over the network."""
    sim = NetworkPrinterSimulator(out_dir=tmp_path, status=dict(PAPER_OUT))
    config = AgentConfig(
        data_dir=tmp_path / "terminal",
        printer_profile="xprinter-xp80c",
        printer_transport="network",
        printer_target=sim.address,
        printer_timeout_s=1.0,
    )
    return sim, Terminal(config, store_name="فروشگاه آزمایشی")

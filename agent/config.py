"""The agent's settings: embedded defaults, then ``/etc/vafa/agent.toml`` (or ``--config``),
then command-line overrides. Read once at the entry point and handed down."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import InputError

DEFAULT_CONFIG_FILE = Path("/etc/vafa/agent.toml")
ENROL_OTP_MODES = ("off", "when_online", "required")  # agent/mobile_codes.py


@dataclass(frozen=True)
class AgentConfig:
    """Every setting of a terminal agent."""

    data_dir: Path = Path("/var/lib/vafa")
    pii_key_file: Path | None = None  # default: <data_dir>/keys/pii.key
    cloud_url: str = ""
    money_unit: str = "toman"
    printer_profile: str = "xprinter-xp80c"
    printer_transport: str = "memory"  # memory | file | network | serial | usb
    printer_target: str = ""
    printer_timeout_s: float = 5.0
    drawer_transport: str = "printer"  # printer (its kick port) | serial (its own port) | none
    drawer_url: str = ""  # the serial drawer's port, for serial_for_url
    drawer_sensor_line: str = "cts"  # cts | dsr | cd | none: where a serial drawer's switch is
    drawer_open_when_high: bool = False  # the switch's polarity on that line
    scanner_profile: str = "generic-serial-scanner"
    scanner_url: str = ""  # a serial port, or a hid scanner's event node(s), comma-separated
    scanner_grab: str = "auto"  # auto (only if its USB ids match the profile) | yes | no
    web_host: str = "127.0.0.1"
    web_port: int = 8300
    sync_interval_s: float = 10.0
    feedback_base_url: str = ""
    metrics_port: int = 0  # Prometheus metrics on web_host:metrics_port; 0 turns them off
    enrol_otp: str = "when_online"  # a one-time SMS code proves a new member's mobile

    def __post_init__(self) -> None:
        if self.enrol_otp not in ENROL_OTP_MODES:
            raise InputError(f"enrol_otp must be one of {', '.join(ENROL_OTP_MODES)}")

    @property
    def database(self) -> Path:
        """Return the ledger database path."""
        return self.data_dir / "ledger.sqlite3"

    @property
    def key_file(self) -> Path:
        """Return the PII key path (outside the database, mode 0600)."""
        return self.pii_key_file or self.data_dir / "keys" / "pii.key"


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> AgentConfig:
    """Build the configuration from defaults, an optional TOML file and overrides."""
    values: dict[str, Any] = {}
    source = path or (DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None)
    if source is not None:
        try:
            values.update(tomllib.loads(source.read_text()).get("agent", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read config {source}: {exc}") from exc
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in dataclasses.fields(AgentConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown setting(s) in {source}: {', '.join(unknown)}")
    for name in ("data_dir", "pii_key_file"):
        if values.get(name) is not None:
            values[name] = Path(values[name])
    return AgentConfig(**values)

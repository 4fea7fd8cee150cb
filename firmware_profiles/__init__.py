"""Device profiles as data: one TOML file per model."""

from pathlib import Path

PROFILE_DIR = Path(__file__).parent

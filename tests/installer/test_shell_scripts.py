"""The installer's shell scripts are shellcheck-clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "installer").rglob("*.sh"))


def test_scripts_are_shellcheck_clean() -> None:
    """GIVEN every installer script WHEN shellcheck reads them THEN it finds nothing."""
    names = {script.name for script in SCRIPTS}
    assert {"install-terminal.sh", "uninstall-terminal.sh", "system-packages.sh"} <= names
    result = subprocess.run(
        ["shellcheck", "--severity=style", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout


def test_shellcheck_would_catch_an_unquoted_variable(tmp_path: Path) -> None:
    """GIVEN a script with an unquoted expansion WHEN checked THEN shellcheck fails it."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/data\n")
    result = subprocess.run(["shellcheck", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "SC2086" in result.stdout

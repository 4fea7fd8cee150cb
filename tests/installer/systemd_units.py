"""Check systemd units with systemd-analyze inside a throwaway root."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

EXEC = re.compile(r"^Exec\w+=[-+@!:]*(/\S+)", re.M)


def verify_units(root: Path, units: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``systemd-analyze verify --root`` on units installed in ``root``'s systemd folder."""
    # Debian's own units (the targets ours refer to) are copied in, as a real system has them.
    system = root / "usr/lib/systemd/system"
    if not system.exists():
        shutil.copytree("/usr/lib/systemd/system", system, symlinks=True)
        (root / "lib").symlink_to("usr/lib")
    # Programs the real system gets from Debian or pip, missing in the root, are stubbed.
    for unit in units:
        for command in EXEC.findall((root / "etc/systemd/system" / unit).read_text()):
            stub = root / command.lstrip("/")
            if not stub.exists():
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\n")
                stub.chmod(0o755)
    paths = [f"/etc/systemd/system/{unit}" for unit in units]
    return subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *paths],
        capture_output=True,
        text=True,
        timeout=60,
    )

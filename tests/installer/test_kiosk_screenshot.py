"""installer/kiosk-screenshot.py against a real Chromium's remote debugging port."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "installer" / "kiosk-screenshot.py"
PAGE = (
    "<!doctype html><html lang=fa dir=rtl><head><meta charset=utf-8><title>صندوق</title></head>"
    "<body style='margin:0;background:#0f766e'><h1 style='color:#fff'>رمز صندوق‌دار</h1>"
    "</body></html>"
)


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test's output quiet."""


@pytest.fixture
def till_url() -> Iterator[str]:
    """Serve a stand-in till page on loopback."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cashier/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def debug_port(tmp_path: Path, till_url: str) -> Iterator[int]:
    """Run headless Chromium on the page with a debugging port; yield the port."""
    profile = tmp_path / "profile"
    browser = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless=new",
            *CHROMIUM_ARGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=800,480",
            till_url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        for _ in range(300):
            if active.exists() and active.read_text().strip():
                break
            time.sleep(0.1)
        yield int(active.read_text().split()[0])
    finally:
        browser.terminate()
        browser.wait(timeout=30)


def run_script(port: int, prefix: str, output: Path) -> subprocess.CompletedProcess[str]:
    """Run the screenshot script, as guest-checks.sh does."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--port", str(port), "--url-prefix", prefix, str(output)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_screenshot_of_the_page_on_the_till_address(
    debug_port: int, till_url: str, tmp_path: Path
) -> None:
    """GIVEN Chromium showing the till WHEN the script runs THEN it saves that page's picture."""
    output = tmp_path / "kiosk.png"
    for _ in range(100):  # the page may still be loading
        result = run_script(debug_port, till_url, output)
        if result.returncode == 0 and "«صندوق»" in result.stdout:
            break
        time.sleep(0.2)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{till_url} «صندوق»"
    with Image.open(output) as image:
        assert image.width == 800  # the window's width (its height loses the browser's frame)
        assert image.convert("RGB").getpixel((400, image.height - 5)) == (15, 118, 110)


def test_no_page_on_the_address_fails(debug_port: int, till_url: str, tmp_path: Path) -> None:
    """GIVEN Chromium elsewhere WHEN asked for the till's page THEN exit 1, no picture, and
    the pages it does show are named (what a failed check needs to say why)."""
    output = tmp_path / "kiosk.png"
    for _ in range(100):  # the page may still be loading
        result = run_script(debug_port, "http://127.0.0.1:8300/cashier/", output)
        if "«صندوق»" in result.stderr:
            break
        time.sleep(0.2)
    assert result.returncode == 1
    assert "no page on http://127.0.0.1:8300/cashier/ (open: " in result.stderr
    assert f"{till_url} «صندوق»" in result.stderr
    assert not output.exists()


def test_a_debugging_port_that_never_answers_fails_after_the_timeout(tmp_path: Path) -> None:
    """GIVEN a port that accepts but never answers WHEN --timeout 1 THEN it fails, no picture.

    check-under-systemd.sh raises --timeout for an emulated guest; it must bound every request.
    """
    silent = socket.create_server(("127.0.0.1", 0))
    output = tmp_path / "kiosk.png"
    try:
        options = ["--port", str(silent.getsockname()[1]), "--timeout", "1"]
        till = "http://127.0.0.1:8300/cashier/"
        result = subprocess.run(
            [sys.executable, str(SCRIPT), *options, "--url-prefix", till, str(output)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        silent.close()
    assert result.returncode == 1
    assert "timed out" in result.stderr
    assert not output.exists()

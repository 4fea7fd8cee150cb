"""Screenshot of the kiosk's page through Chromium's remote debugging port (standard library only).

Used by installer/guest-checks.sh inside a test guest, where the kiosk's Chromium was started
with --remote-debugging-port (a check-only drop-in): it prints the page's address and title
and writes a PNG. Exit status 1 when no page is open on the expected address.

    python kiosk-screenshot.py --port 9222 --url-prefix http://127.0.0.1:8300/cashier/ out.png
        [--timeout SECONDS]   # per request to Chromium (default 30)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import sys
import urllib.parse
import urllib.request


def open_pages(port: int, timeout: float = 10) -> list[dict[str, str]]:
    """Return the pages Chromium reports on its debugging port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=timeout) as answer:
        pages: list[dict[str, str]] = json.load(answer)
    return [page for page in pages if page.get("type") == "page"]


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the debugging socket closed")
        data += chunk
    return data


def _send_text(conn: socket.socket, text: str) -> None:
    """Send one masked text frame (a client must mask, RFC 6455 5.3)."""
    payload = text.encode()
    mask = os.urandom(4)
    header = b"\x81"
    if len(payload) < 126:
        header += struct.pack("!B", 0x80 | len(payload))
    else:
        header += struct.pack("!BH", 0x80 | 126, len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    conn.sendall(header + mask + masked)


def _read_message(conn: socket.socket) -> str:
    """Read one whole text message (frames joined until FIN)."""
    parts = b""
    while True:
        first, second = _read_exactly(conn, 2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", _read_exactly(conn, 2))
        elif size == 127:
            (size,) = struct.unpack("!Q", _read_exactly(conn, 8))
        parts += _read_exactly(conn, size)
        if first & 0x80:
            return parts.decode()


def capture(websocket_url: str, timeout: float = 30) -> bytes:
    """Ask the page for a PNG screenshot over the DevTools protocol."""
    url = urllib.parse.urlparse(websocket_url)
    address = (url.hostname or "127.0.0.1", url.port or 80)
    with socket.create_connection(address, timeout) as conn:
        key = base64.b64encode(os.urandom(16)).decode()
        conn.sendall(
            (
                f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += _read_exactly(conn, 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"no websocket upgrade: {head[:80]!r}")
        _send_text(conn, json.dumps({"id": 1, "method": "Page.captureScreenshot"}))
        while True:
            message = json.loads(_read_message(conn))
            if message.get("id") == 1:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return base64.b64decode(message["result"]["data"])


def main() -> int:
    """Find the kiosk's page, print where it is, and save its screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9222)
    parser.add_argument("--url-prefix", required=True)
    # An emulated guest (qemu TCG) renders slowly: check-under-systemd.sh raises it there.
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    parser.add_argument("output")
    args = parser.parse_args()
    every_page = open_pages(args.port, args.timeout)
    pages = [p for p in every_page if p.get("url", "").startswith(args.url_prefix)]
    if not pages:
        # What it shows instead (an error page, a blank one) says why.
        shown = ", ".join(f"{p.get('url', '')} «{p.get('title', '')}»" for p in every_page)
        print(f"no page on {args.url_prefix} (open: {shown or 'none'})", file=sys.stderr)
        return 1
    page = pages[0]
    with open(args.output, "wb") as out:
        out.write(capture(page["webSocketDebuggerUrl"], args.timeout))
    print(f"{page['url']} «{page.get('title', '')}»")
    return 0


if __name__ == "__main__":
    sys.exit(main())

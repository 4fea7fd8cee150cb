"""The reverse-proxy example in installer/cloud/nginx-vafa.conf, served by Debian's nginx.

The file is used as shipped except for what a real host fills in: the certificate (a
throwaway self-signed one), the ports (free high ones, no root needed) and nginx's own
paths. A terminal then enrols and syncs through it over TLS: signed requests must survive
the proxy, HTTP must redirect to HTTPS, and /metrics must stay closed to outsiders.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.config import AgentConfig
from agent.demo import cloud_command, cloud_server, free_port
from agent.identity import enroll, load_identity
from agent.offline_queue.sync import SyncClient
from agent.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "installer" / "cloud" / "nginx-vafa.conf"
HOST = "vafa.example.ir"


def _certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for HOST (and 127.0.0.1) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _site(cloud_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped site with a real host's values filled in; nothing else changed."""
    site = SHIPPED.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/letsencrypt/live/vafa.example.ir/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/vafa.example.ir/privkey.pem", str(key)),
        ("http://127.0.0.1:8400", f"http://127.0.0.1:{cloud_port}"),
    ):
        assert old in site, old  # the shipped file still says what a technician edits
        site = site.replace(old, new)
    return site


def _trust(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@dataclass
class Proxied:
    """The cloud behind the shipped nginx site."""

    base: str  # https://vafa.example.ir:PORT
    http_port: int
    cert: Path
    cloud_dir: Path


@pytest.fixture
def proxied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxied]:
    """Yield the cloud behind the shipped nginx site, HOST resolving to 127.0.0.1 and its
    throwaway certificate trusted through SSL_CERT_FILE, as a terminal trusts a real CA."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is installed by installer/system-packages.sh test"
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if host == HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)  # no DNS for HOST in a test
    cloud_dir = tmp_path / "cloud"
    cloud_port, http_port, https_port = free_port(), free_port(), free_port()
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    site = _site(cloud_port, http_port, https_port, cert, key)
    (prefix / "nginx.conf").write_text(
        f"""pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""
    )
    conf = str(prefix / "nginx.conf")
    checked = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", conf], capture_output=True)
    assert checked.returncode == 0, checked.stderr.decode()
    cloud_command(cloud_dir, "migrate")
    with cloud_server(cloud_dir, cloud_port):
        server = subprocess.Popen([nginx, "-p", str(prefix), "-c", conf, "-g", "daemon off;"])
        try:
            base = f"https://{HOST}:{https_port}"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/api/v1/health", verify=_trust(cert)).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield Proxied(base, http_port, cert, cloud_dir)
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_a_terminal_enrols_and_syncs_through_the_shipped_nginx_site(
    proxied: Proxied, tmp_path: Path
) -> None:
    """GIVEN the cloud behind nginx-vafa.conf WHEN a terminal enrols and syncs a sale over
    HTTPS THEN the signed requests verify through the proxy and the sale is at the cloud;
    HTTP redirects to HTTPS, HSTS is sent, /metrics is refused from this address."""
    enrolment = cloud_command(proxied.cloud_dir, "store", "create", "--name", "شعبه ونک")[
        "enrolment_code"
    ]
    config = AgentConfig(data_dir=tmp_path / "terminal", cloud_url=proxied.base)
    enroll(proxied.base, str(enrolment), config.data_dir)
    terminal = Terminal(config)
    try:
        member = terminal.flow.enrol("09121234567", "سارا احمدی", consent=True)
        terminal.flow.sale(member.id, 1_500_000)
        client = SyncClient(load_identity(config.data_dir))
        assert client.drain(terminal.conn, terminal.vault).acked == 2
        client.close()
    finally:
        terminal.close()
    assert cloud_command(proxied.cloud_dir, "totals")["sales"] == 1

    with httpx.Client(verify=_trust(proxied.cert)) as web:
        secure = web.get(proxied.base + "/api/v1/health")
        assert secure.headers["strict-transport-security"] == "max-age=31536000"
        assert web.get(proxied.base + "/metrics").status_code == 403  # not from 10.0.0.0/8
        plain = web.get(f"http://{HOST}:{proxied.http_port}/hq/")
        assert plain.status_code == 301
        assert plain.headers["location"] == f"https://{HOST}/hq/"

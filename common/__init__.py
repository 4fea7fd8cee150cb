"""What the terminal agent and the cloud both need, written once.

- ``common.protocol``: the sync wire format (events, batches, canonical JSON, digests).
- ``common.signing``: Ed25519 request signatures over method, path, body digest, time, nonce.
- ``common.persian``: Persian digits, Arabic-letter normalisation, Jalali dates, money.
- ``common.mobile``: Iranian mobile numbers to E.164.
- ``common.errors``: the base of both sides' exception trees.
"""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"  # the stylesheet both web apps serve

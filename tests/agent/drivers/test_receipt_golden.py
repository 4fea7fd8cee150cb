"""Golden receipt images: the printed receipt, decoded from its ESC/POS bytes, against PNGs.

The stored images are in ``tests/agent/drivers/golden/``. After an intended change to the
layout or the font, regenerate them and LOOK at them before committing:

    .venv/bin/python -m tests.agent.drivers.test_receipt_golden

A font upgrade may move a few pixels of anti-aliased edges; the tolerance allows that much
and no more (a changed word or a line out of place differs in thousands of pixels).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from agent.drivers.escpos_decoder import receipt_image
from agent.drivers.escpos_printer import compose_receipt
from agent.drivers.profiles import PrinterProfile, load_profile
from agent.receipt import ReceiptData, render_receipt
from common.persian import TEHRAN

GOLDEN = Path(__file__).parent / "golden"
TOLERANCE = 40  # pixels allowed to differ: a changed digit alone differs in hundreds
WIDTHS = {576: "xprinter-xp80c", 384: "xprinter-xp58"}
RECEIPT = ReceiptData(
    store_name="فروشگاه ونک",
    receipt_no=1042,
    moment=dt.datetime(2026, 3, 21, 9, 5, tzinfo=TEHRAN),
    member_name="زهرا محمدی",
    masked_mobile="۰۹۱۲***۶۷۸۹",
    tier_label="طلایی",
    amount_rial=12_500_000,
    points_earned=1_875,
    points_redeemed=250,
    balance=23_450,
    gift_message="یک هدیه در انتظار شماست",
    feedback_url="https://vafa.example/f/VF1.golden",
)


def printed(width: int) -> Image.Image:
    """Render the sample receipt, compose its ESC/POS bytes and decode what was printed."""
    profile = load_profile(WIDTHS[width])
    assert isinstance(profile, PrinterProfile)
    data = compose_receipt(render_receipt(RECEIPT, width), profile, kick_drawer=True)
    image = receipt_image(data)
    assert image is not None
    return image.convert("1")


def differing_pixels(a: Image.Image, b: Image.Image) -> int:
    """Return how many pixels differ (every pixel when the sizes differ)."""
    if a.size != b.size:
        return max(a.width * a.height, b.width * b.height)
    diff = ImageChops.logical_xor(a.convert("1"), b.convert("1")).convert("L")
    return diff.histogram()[255]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_receipt_matches_its_golden_image(width: int) -> None:
    """GIVEN the sample receipt WHEN printed at 576 or 384 dots THEN the decoded raster is the
    stored golden image, within a few anti-aliased pixels."""
    with Image.open(GOLDEN / f"receipt-{width}.png") as stored:
        golden = stored.convert("1")
    image = printed(width)
    assert image.width == width
    assert differing_pixels(image, golden) <= TOLERANCE


def test_the_comparison_catches_a_changed_receipt() -> None:
    """A one-digit change in the amount is far outside the tolerance."""
    with Image.open(GOLDEN / "receipt-576.png") as stored:
        golden = stored.convert("1")
    changed = render_receipt(dataclasses.replace(RECEIPT, amount_rial=13_500_000), 576)
    changed_pixels = differing_pixels(changed, golden)
    assert TOLERANCE < changed_pixels < golden.width * golden.height // 20
    assert differing_pixels(printed(576), golden) == 0  # and this machine matches exactly


def regenerate() -> None:
    """Write the golden images from the current code."""
    GOLDEN.mkdir(exist_ok=True)
    for width in WIDTHS:
        path = GOLDEN / f"receipt-{width}.png"
        printed(width).save(path, optimize=True)
        print(f"wrote {path}")


if __name__ == "__main__":
    regenerate()

"""Receipt bytes: an init, the raster in slices, a cut and the profile's drawer pulse."""

from __future__ import annotations

import datetime as dt

import pytest
from PIL import Image, ImageChops

from agent.drivers.escpos_decoder import decode, drawer_kicks, raster_images, receipt_image
from agent.drivers.escpos_printer import compose_receipt, drawer_kick_bytes
from agent.drivers.profiles import PrinterProfile, load_profiles
from agent.errors import PrinterError
from agent.receipt import ReceiptData, render_receipt
from common.persian import TEHRAN

PRINTERS = {n: p for n, p in load_profiles().items() if isinstance(p, PrinterProfile)}
RECEIPT = ReceiptData(
    store_name="فروشگاه ونک",
    receipt_no=42,
    moment=dt.datetime(2026, 11, 22, 10, 30, tzinfo=TEHRAN),
    member_name="زهرا محمدی",
    masked_mobile="۰۹۱۲***۶۷۸۹",
    tier_label="طلایی",
    amount_rial=1_250_000,
    points_earned=187,
    points_redeemed=50,
    balance=2_345,
    feedback_url="https://vafa.example/f/abc",
)


@pytest.mark.parametrize("name", sorted(PRINTERS))
def test_receipt_round_trips_through_escpos_bytes(name: str) -> None:
    profile = PRINTERS[name]
    image = render_receipt(RECEIPT, profile.dots)
    data = compose_receipt(image, profile, kick_drawer=True)
    commands = decode(data)
    assert commands[0].name == "ESC @"
    slices = raster_images(commands)
    assert all(s.height <= profile.raster_slice_height for s in slices)
    decoded = receipt_image(data)
    assert decoded is not None
    assert decoded.size == image.size
    assert ImageChops.difference(decoded.convert("1"), image.convert("1")).getbbox() is None
    pin = 2 if profile.drawer_pin == 0 else 5
    assert drawer_kicks(commands) == [(pin, profile.drawer_on_ms, profile.drawer_off_ms)]


def test_drawer_kick_is_exact_bytes() -> None:
    profile = PRINTERS["xprinter-xp80c"]
    expected = bytes(
        [0x1B, 0x70, profile.drawer_pin, profile.drawer_on_ms // 2, profile.drawer_off_ms // 2]
    )
    assert drawer_kick_bytes(profile) == expected


def test_an_image_wider_than_the_head_is_refused() -> None:
    narrow = PRINTERS["xprinter-xp58"]
    with pytest.raises(PrinterError, match="wide"):
        compose_receipt(Image.new("1", (576, 100), 1), narrow, kick_drawer=False)


def test_receipt_text_is_drawn_right_to_left() -> None:
    image = render_receipt(RECEIPT, 576).convert("L")
    top_band = image.crop((0, 100, 576, 150))  # the «باشگاه مشتریان وفا» line, centred
    label_row = image.crop((0, 150, 576, 200))  # «تاریخ» label at the right, date at the left
    assert top_band.getbbox() is not None
    bbox = ImageChops.invert(label_row).getbbox()
    assert bbox is not None and bbox[2] > 500  # ink reaches the right margin


def test_the_memory_printer_keeps_only_the_last_jobs() -> None:
    """A terminal left on the simulated printer must not hold every receipt it ever printed."""
    from agent.drivers.escpos_printer import MemoryPrinter

    printer = MemoryPrinter(keep=3)
    for n in range(10):
        printer.send(bytes([n]) * 1000)
    assert [job[0] for job in printer.jobs] == [7, 8, 9]

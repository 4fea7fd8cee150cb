"""BRIEF §5 printer pitfalls: the code page lost after ESC @, an image too big for the buffer."""

from __future__ import annotations

import math

import pytest
from PIL import Image, ImageChops, ImageDraw

from agent.drivers.escpos_decoder import decode, raster_images, receipt_image
from agent.drivers.escpos_printer import compose_receipt, init_bytes
from agent.drivers.profiles import PrinterProfile, load_profiles

PRINTERS = {n: p for n, p in load_profiles().items() if isinstance(p, PrinterProfile)}
QUIRKY = sorted(n for n, p in PRINTERS.items() if p.has_quirk("codepage_lost_after_init"))


def test_some_profiles_do_lose_the_code_page() -> None:
    assert "xprinter-xp80c" in QUIRKY and "epson-tm-t88v" not in QUIRKY


@pytest.mark.parametrize("name", QUIRKY)
def test_code_page_is_sent_again_after_every_init(name: str) -> None:
    """GIVEN a model whose ESC @ resets the code page WHEN a receipt is composed THEN every
    ESC @ is followed by ESC t before anything else is printed, and text after it has a
    known code page (the decoder tracks it)."""
    profile = PRINTERS[name]
    commands = decode(compose_receipt(Image.new("1", (profile.dots, 16), 1), profile, True))
    inits = [i for i, c in enumerate(commands) if c.name == "ESC @"]
    assert inits
    for i in inits:
        following = [c.name for c in commands[i + 1 : i + 3]]
        assert "ESC t" in following
        assert commands[i + 1 + following.index("ESC t")].args["codepage"] == 0
    job = init_bytes(profile) + b"Vafa 1042"
    text = [c for c in decode(job) if c.name == "text"]
    assert text[0].args["codepage"] == 0


def test_a_model_without_the_quirk_gets_a_bare_init() -> None:
    assert init_bytes(PRINTERS["epson-tm-t88v"]) == b"\x1b@"


def test_chinese_mode_is_left_before_any_text() -> None:
    """GIVEN a model that powers up in Chinese double-byte mode THEN FS . follows ESC @."""
    profile = PRINTERS["xprinter-xp80c"]
    assert profile.has_quirk("chinese_mode_default")
    names = [c.name for c in decode(init_bytes(profile))]
    assert names[0] == "ESC @" and "FS ." in names


@pytest.mark.parametrize("name", sorted(PRINTERS))
def test_an_image_too_tall_for_the_buffer_goes_in_slices(name: str) -> None:
    """GIVEN a 3,000-row image (a long receipt, far over any printer's input buffer) WHEN
    composed THEN it goes as raster blocks of at most raster_slice_height rows, no block
    larger than one slice's bytes, and the blocks stack back into the same picture."""
    profile = PRINTERS[name]
    image = Image.new("1", (profile.dots, 3000), 1)
    draw = ImageDraw.Draw(image)
    for y in range(0, 3000, 37):  # marks on every slice so a lost or reordered slice shows
        draw.line((0, y, profile.dots - 1, 3000 - y), fill=0, width=3)
    commands = decode(compose_receipt(image, profile, kick_drawer=False))
    blocks = [c for c in commands if c.name == "GS v 0"]
    slice_bytes = profile.raster_slice_height * profile.dots // 8
    assert len(blocks) == math.ceil(3000 / profile.raster_slice_height)
    assert max(len(c.raw) for c in blocks) <= slice_bytes + 8  # 8 header bytes
    assert all(s.height <= profile.raster_slice_height for s in raster_images(commands))
    printed = receipt_image(b"".join(c.raw for c in commands))
    assert printed is not None
    assert ImageChops.logical_xor(printed, image).getbbox() is None


def test_small_buffer_models_get_smaller_slices() -> None:
    small = [p for p in PRINTERS.values() if p.has_quirk("small_raster_buffer")]
    assert small and all(p.raster_slice_height <= 128 for p in small)

"""The ESC/POS decoder reads back exactly what python-escpos sends, and survives garbage."""

from __future__ import annotations

import random
from typing import Any

import pytest
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from agent.drivers.escpos_decoder import (
    Command,
    decode,
    drawer_kicks,
    raster_images,
    receipt_image,
)

# A profile with a known media width (576 dots) and a cutter, so python-escpos neither
# prints notices nor skips the cut.
PROFILE = "TM-T20II"


def printer() -> Dummy:
    """Return a fresh python-escpos Dummy printer."""
    return Dummy(profile=PROFILE)


def named(commands: list[Command]) -> list[tuple[str, dict[str, Any]]]:
    """Drop offsets and raw bytes, keeping what a reader of the receipt cares about."""
    return [(c.name, c.args) for c in commands]


def drawn(width: int, height: int, seed: int) -> Image.Image:
    """Draw a test card: shapes, text and random speckle, so every pixel matters."""
    rng = random.Random(seed)
    speckle = bytes(rng.getrandbits(8) for _ in range(((width + 7) // 8) * height))
    image = Image.frombytes("1", (width, height), speckle)
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, width - 1, height - 1), outline=0)
    pen.ellipse((width // 4, 10, 3 * width // 4, height - 10), fill=0)
    pen.text((12, 12), "Vafa 1404", fill=1)
    pen.line((0, height - 1, width - 1, 0), fill=1, width=3)
    return image


# --- text, init and code page -------------------------------------------------------------


def test_init_and_text_decode_with_the_code_page_they_print_in() -> None:
    p = printer()
    p.hw("INIT")
    p.textln("Vafa")
    p.hw("INIT")
    p._raw(b"after init")
    assert named(decode(p.output)) == [
        ("ESC @", {}),
        ("ESC t", {"codepage": 0}),
        ("text", {"text": "Vafa", "data": b"Vafa", "codepage": 0}),
        ("LF", {}),
        ("ESC @", {}),
        # GIVEN a printer that forgets its code page on ESC @, THEN this text is in the default
        ("text", {"text": "after init", "data": b"after init", "codepage": None}),
    ]


def test_code_page_bytes_stay_bytes_and_are_tagged_with_the_code_page() -> None:
    p = printer()
    p.charcode("CP437")
    p.text("é")
    (select, text) = decode(p.output)
    assert select.name == "ESC t"
    assert text.args == {"text": "\ufffd", "data": b"\x82", "codepage": select.args["codepage"]}


def test_offsets_and_raw_bytes_locate_each_command() -> None:
    data = b"\x1b@ab\n\x1bE\x01"
    commands = decode(data)
    assert [(c.offset, c.raw) for c in commands] == [
        (0, b"\x1b@"),
        (2, b"ab"),
        (4, b"\n"),
        (5, b"\x1bE\x01"),
    ]


# --- set() ------------------------------------------------------------------------------

STYLES: list[tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    ({"bold": True}, [("ESC E", {"bold": True})]),
    ({"bold": False}, [("ESC E", {"bold": False})]),
    ({"underline": 2}, [("ESC -", {"underline": 2})]),
    ({"align": "center"}, [("ESC a", {"align": "center"})]),
    ({"align": "right"}, [("ESC a", {"align": "right"})]),
    ({"font": "b"}, [("ESC M", {"font": "b"})]),
    ({"invert": True}, [("GS B", {"invert": True})]),
    ({"flip": True}, [("ESC {", {"upside_down": True})]),
    ({"smooth": True}, [("GS b", {"smooth": True})]),
    ({"density": 4}, [("GS |", {"density": 4})]),
    (
        {"custom_size": True, "width": 3, "height": 2},
        [("GS !", {"n": 0x21, "width": 3, "height": 2})],
    ),
]


def _print_mode(n: int) -> tuple[str, dict[str, Any]]:
    """The expected ESC ! command for mode byte ``n``."""
    bits = {"font_b": 1, "bold": 8, "double_height": 16, "double_width": 32, "underline": 128}
    return ("ESC !", {"n": n, **{k: bool(n & bit) for k, bit in bits.items()}})


@pytest.mark.parametrize(("style", "expected"), STYLES, ids=[str(s) for s, _ in STYLES])
def test_set_decodes_to_the_style_asked_for(
    style: dict[str, Any], expected: list[tuple[str, dict[str, Any]]]
) -> None:
    p = printer()
    p.set(**style)
    assert named(decode(p.output)) == expected


@pytest.mark.parametrize(
    ("style", "mode"),
    [
        ({"double_height": True}, 0x10),
        ({"double_width": True}, 0x20),
        ({"normal_textsize": True}, 0),
    ],
)
def test_text_size_goes_through_esc_bang(style: dict[str, Any], mode: int) -> None:
    p = printer()
    p.set(**style)
    # python-escpos resets with ESC ! 0 twice before the size it wants
    assert named(decode(p.output)) == [_print_mode(0), _print_mode(0), _print_mode(mode)]


# --- raster images ----------------------------------------------------------------------


@pytest.mark.parametrize("width", [384, 576])
@pytest.mark.parametrize("fragment_height", [64, 128, 256, 960])
def test_a_raster_image_decodes_pixel_for_pixel_from_its_slices(
    width: int, fragment_height: int
) -> None:
    original = drawn(width, 300, seed=width + fragment_height)
    p = printer()
    p.image(original, impl="bitImageRaster", fragment_height=fragment_height)
    commands = decode(p.output)
    assert {c.name for c in commands} == {"GS v 0"}
    heights = [c.args["height"] for c in commands]
    full, rest = divmod(300, fragment_height)
    assert heights == [fragment_height] * full + ([rest] if rest else [])
    assert all(c.args["width"] == width and c.args["scale"] == "normal" for c in commands)
    slices = raster_images(commands)
    assert [(s.mode, s.size) for s in slices] == [("1", (width, h)) for h in heights]
    receipt = receipt_image(p.output)
    assert receipt is not None
    assert receipt.mode == "1" and receipt.size == original.size
    assert receipt.tobytes() == original.convert("1").tobytes()


def test_a_grey_picture_decodes_to_what_python_escpos_made_of_it() -> None:
    original = Image.linear_gradient("L").resize((384, 64))  # black at the top, white below
    p = printer()
    p.image(original)
    receipt = receipt_image(p.output)
    assert receipt is not None
    # python-escpos dithers grey to one bit per dot: dark prints, light does not
    assert receipt.size == (384, 64)
    assert receipt.getpixel((0, 0)) == 0 and receipt.getpixel((0, 63)) == 255
    ink = [receipt.crop((0, y, 384, y + 8)).histogram()[0] for y in range(0, 64, 8)]
    assert ink == sorted(ink, reverse=True)  # less ink as the grey gets lighter


def test_graphics_images_decode_too() -> None:
    original = drawn(384, 200, seed=7)
    p = printer()
    p.image(original, impl="graphics", fragment_height=128)
    commands = decode(p.output)
    assert [(c.name, c.args["function"]) for c in commands] == [
        ("GS ( L", "store_raster"),
        ("GS ( L", "print"),
        ("GS ( L", "store_raster"),
        ("GS ( L", "print"),
    ]
    assert all(c.args["complete"] for c in commands if c.args["function"] == "store_raster")
    receipt = receipt_image(p.output)
    assert receipt is not None
    assert receipt.tobytes() == original.convert("1").tobytes()


def test_raster_scale_modes_print_double_width_and_height() -> None:
    row = bytes([0b10000001])
    data = b"\x1dv0\x03\x01\x00\x02\x00" + row + row
    (command,) = decode(data)
    assert command.args["scale"] == "quadruple"
    (image,) = raster_images([command])
    assert image.size == (16, 4)
    assert image.getpixel((0, 0)) == 0 and image.getpixel((1, 3)) == 0  # printed dot, doubled
    assert image.getpixel((2, 0)) == 255


def test_receipt_image_stacks_blocks_of_any_width_and_is_none_without_raster() -> None:
    p = printer()
    p.image(drawn(384, 40, seed=1))
    p.textln("between")
    p.image(drawn(576, 30, seed=2))
    receipt = receipt_image(p.output)
    assert receipt is not None and receipt.size == (576, 70)
    assert receipt_image(b"\x1b@hello\n") is None


# --- cut, drawer, QR, status ------------------------------------------------------------


def test_cuts_decode_to_their_mode() -> None:
    p = printer()
    p.cut()
    p.cut(mode="PART")
    p.cut(feed=False)
    assert named(decode(p.output)) == [
        ("ESC d", {"lines": 6}),
        ("GS V", {"m": 0, "mode": "full", "feed": None}),
        ("ESC d", {"lines": 6}),
        ("GS V", {"m": 1, "mode": "partial", "feed": None}),
        ("GS V", {"m": 66, "mode": "partial", "feed": 0}),
    ]


@pytest.mark.parametrize(
    ("pin", "expected"),
    [
        (2, {"m": 0, "pin": 2, "on_ms": 100, "off_ms": 100}),
        (5, {"m": 1, "pin": 5, "on_ms": 100, "off_ms": 100}),
        ([27, 112, 0, 25, 250], {"m": 0, "pin": 2, "on_ms": 50, "off_ms": 500}),
        ([27, 112, 1, 25, 25], {"m": 1, "pin": 5, "on_ms": 50, "off_ms": 50}),
        ([27, 112, 48, 50, 50], {"m": 48, "pin": 2, "on_ms": 100, "off_ms": 100}),
    ],
    ids=["pin 2", "pin 5", "custom 25/250", "custom 25/25 pin 5", "ascii m"],
)
def test_cash_drawer_pulses_decode_to_pin_and_milliseconds(
    pin: int | list[int], expected: dict[str, int]
) -> None:
    p = printer()
    p.cashdraw(pin)
    commands = decode(p.output)
    assert named(commands) == [("ESC p", expected)]
    assert drawer_kicks(commands) == [(expected["pin"], expected["on_ms"], expected["off_ms"])]


def test_a_realtime_drawer_pulse_counts_as_a_kick() -> None:
    commands = decode(b"\x10\x14\x01\x01\x02")
    assert named(commands) == [
        ("DLE DC4", {"fn": 1, "m": 1, "pin": 5, "on_ms": 200, "off_ms": 200})
    ]
    assert drawer_kicks(commands) == [(5, 200, 200)]


def test_a_native_qr_code_decodes_to_its_settings_and_content() -> None:
    p = printer()
    p.qr("https://vafa.ir/r/۱۲۳", native=True, size=5, ec=2)
    content = "https://vafa.ir/r/۱۲۳".encode()
    summary = [
        {k: v for k, v in c.args.items() if k not in ("payload", "fn")} for c in decode(p.output)
    ]
    assert summary == [
        {"symbol": "qr", "function": "model", "model": 2},
        {"symbol": "qr", "function": "size", "size": 5},
        {"symbol": "qr", "function": "error_correction", "ec": "Q"},
        {"symbol": "qr", "function": "store", "data": content},
        {"symbol": "qr", "function": "print"},
    ]


def test_status_requests_decode() -> None:
    assert named(decode(b"\x10\x04\x01\x10\x04\x04")) == [
        ("DLE EOT", {"n": 1, "status": "printer"}),
        ("DLE EOT", {"n": 4, "status": "paper"}),
    ]


def test_a_whole_receipt_job_decodes_in_order() -> None:
    p = printer()
    p.hw("INIT")
    p.set(align="center", bold=True)
    p.image(drawn(576, 100, seed=3), fragment_height=64)
    p.qr("member:42", native=True)
    p.cut(mode="PART")
    p.cashdraw(2)
    names = [c.name for c in decode(p.output)]
    assert names == (
        ["ESC @", "ESC E", "ESC a", "GS v 0", "GS v 0"]
        + ["GS ( k"] * 5
        + ["ESC d", "GS V", "ESC p"]
    )


# --- garbage, truncation, and the never-raise property ------------------------------------


def test_unknown_bytes_are_reported_not_raised() -> None:
    data = b"\x1b\xff\x01\x1d\x99ok\x00"
    assert named(decode(data)) == [
        ("unknown", {"prefix": "ESC", "fn": 0xFF}),
        ("unknown", {"byte": 0x01}),
        ("unknown", {"prefix": "GS", "fn": 0x99}),
        ("text", {"text": "ok", "data": b"ok", "codepage": None}),
        ("unknown", {"byte": 0x00}),
    ]


def test_a_truncated_raster_is_reported_and_not_imaged() -> None:
    p = printer()
    p.image(drawn(384, 128, seed=4))
    cut_short = p.output[:1000]
    commands = decode(b"\x1b@" + cut_short)
    assert [c.name for c in commands] == ["ESC @", "truncated"]
    assert commands[1].args == {"command": "GS v 0", "needed": 8 + 48 * 128, "available": 1000}
    assert commands[1].raw == cut_short
    assert raster_images(commands) == []
    assert receipt_image(cut_short) is None


@pytest.mark.parametrize(
    ("data", "command"),
    [
        (b"\x1b", "ESC"),
        (b"\x1d(", "GS"),
        (b"\x1dv", "GS"),
        (b"\x1bp\x00\x19", "ESC p"),
        (b"\x1d(k\x08\x001P0he", "GS ( k"),
        (b"\x1bD\x08\x10", "ESC D"),
        (b"\x1dk\x02123", "GS k"),
    ],
)
def test_a_command_cut_short_by_the_end_is_reported(data: bytes, command: str) -> None:
    (only,) = decode(b"ab" + data)[1:]
    assert only.name == "truncated" and only.args["command"] == command
    assert only.offset == 2 and only.raw == data


BYTE_SOUP = st.lists(
    st.one_of(
        st.binary(max_size=6),
        st.sampled_from(
            [b"\x1b", b"\x1d", b"\x10", b"\x1c", b"v0", b"(k", b"(L", b"8L", b"V", b"p", b"D"]
        ),
    ),
    max_size=40,
).map(b"".join)


@given(st.one_of(st.binary(max_size=512), BYTE_SOUP))
def test_decode_never_raises_and_loses_no_byte(data: bytes) -> None:
    commands = decode(data)
    assert b"".join(c.raw for c in commands) == data
    offsets = [c.offset for c in commands]
    assert offsets == [sum(len(c.raw) for c in commands[:i]) for i in range(len(commands))]
    assert all(c.raw for c in commands)
    receipt_image(data)  # must not raise either
    drawer_kicks(commands)

"""Lay out a Persian receipt as an image the printer prints as raster.

Thermal printers cannot shape Persian from their code pages, so the receipt is drawn
with Pillow's raqm layout (which does the shaping and the bidi itself: no reshaper, no
python-bidi on top of it) in a Persian font, then printed as a 1-bit image.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from agent.errors import PrinterError
from common.persian import (
    MoneyUnit,
    format_money,
    group_thousands,
    jalali_datetime,
    to_persian_digits,
)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/farsiweb/nazli.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf"),
)
BOLD_CANDIDATES = (
    Path("/usr/share/fonts/truetype/farsiweb/nazlib.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf"),
)
MARGIN = 12


@dataclass(frozen=True)
class ReceiptData:
    """Everything printed on one receipt."""

    store_name: str
    receipt_no: int
    moment: dt.datetime
    member_name: str
    masked_mobile: str
    tier_label: str
    amount_rial: int
    points_earned: int
    points_redeemed: int
    balance: int
    unit: MoneyUnit = "toman"
    gift_message: str = ""
    feedback_url: str = ""


def find_font(candidates: tuple[Path, ...] = FONT_CANDIDATES) -> Path:
    """Return the first installed Persian font, or raise PrinterError naming the package."""
    for path in candidates:
        if path.exists():
            return path
    raise PrinterError(
        "no Persian font found: install fonts-farsiweb (installer/system-packages.sh runtime)"
    )


def _fonts(width: int) -> tuple[ImageFont.FreeTypeFont, ...]:
    """Return the title, heading and body fonts for a paper of ``width`` dots."""
    if width not in (384, 512, 576):
        raise PrinterError(f"unsupported receipt width {width}")
    scale = width / 576
    regular, bold = find_font(), find_font(BOLD_CANDIDATES + FONT_CANDIDATES)
    layout = ImageFont.Layout.RAQM
    return (
        ImageFont.truetype(str(bold), round(44 * scale), layout_engine=layout),
        ImageFont.truetype(str(bold), round(30 * scale), layout_engine=layout),
        ImageFont.truetype(str(regular), round(28 * scale), layout_engine=layout),
    )


class _Canvas:
    """A tall white strip we write lines on from the top, right to left."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.image = Image.new("L", (width, 4000), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.y = MARGIN

    def text(self, text: str, font: ImageFont.FreeTypeFont, align: str = "right") -> None:
        x, anchor = {
            "right": (self.width - MARGIN, "ra"),
            "center": (self.width // 2, "ma"),
        }[align]
        self.draw.text((x, self.y), text, font=font, anchor=anchor, direction="rtl", language="fa")
        self.y += self._height(font)

    def pair(
        self, label: str, value: str, font: ImageFont.FreeTypeFont, value_dir: str = "rtl"
    ) -> None:
        right = (self.width - MARGIN, self.y)
        self.draw.text(right, label, font=font, anchor="ra", direction="rtl", language="fa")
        self.draw.text((MARGIN, self.y), value, font=font, anchor="la", direction=value_dir)
        self.y += self._height(font)

    def rule(self) -> None:
        self.y += 6
        self.draw.line((MARGIN, self.y, self.width - MARGIN, self.y), fill=0, width=2)
        self.y += 10

    def paste(self, picture: Image.Image) -> None:
        self.image.paste(picture, ((self.width - picture.width) // 2, self.y))
        self.y += picture.height + 6

    def finish(self) -> Image.Image:
        cropped = self.image.crop((0, 0, self.width, self.y + MARGIN))
        # A hard threshold keeps glyph edges crisp on a thermal head; dithering blurs them.
        return cropped.point(lambda v: 255 if v > 150 else 0, mode="1")

    @staticmethod
    def _height(font: ImageFont.FreeTypeFont) -> int:
        ascent, descent = font.getmetrics()
        return ascent + descent + 4


def render_receipt(data: ReceiptData, width: int = 576) -> Image.Image:
    """Draw a receipt at the printer's dot width (576 or 512 for 80 mm, 384 for 58 mm)."""
    title, heading, body = _fonts(width)
    canvas = _Canvas(width)
    canvas.text(data.store_name, title, "center")
    canvas.text("باشگاه مشتریان وفا", body, "center")
    canvas.rule()
    canvas.pair("تاریخ", jalali_datetime(data.moment), body)
    canvas.pair("شماره رسید", to_persian_digits(str(data.receipt_no)), body)
    canvas.pair("عضو", data.member_name, body)
    # A phone number reads left to right even inside Persian text.
    canvas.pair("موبایل", data.masked_mobile, body, value_dir="ltr")
    canvas.pair("سطح", data.tier_label, body)
    canvas.rule()
    canvas.pair("مبلغ خرید", format_money(data.amount_rial, data.unit), heading)
    canvas.pair("امتیاز این خرید", group_thousands(data.points_earned), body)
    if data.points_redeemed:
        canvas.pair("امتیاز خرج‌شده", group_thousands(data.points_redeemed), body)
    canvas.pair("مانده امتیاز", group_thousands(data.balance), heading)
    if data.gift_message:
        canvas.rule()
        canvas.text(data.gift_message, heading, "center")
    if data.feedback_url:
        canvas.rule()
        canvas.text("نظرتان را با اسکن این کد بگویید", body, "center")
        canvas.paste(_qr(data.feedback_url, width))
    canvas.rule()
    canvas.text("از خرید شما سپاسگزاریم", body, "center")
    return canvas.finish()


@dataclass(frozen=True)
class GiftSlip:
    """What the slip handed over with a surprise gift shows."""

    store_name: str
    moment: dt.datetime
    member_name: str
    masked_mobile: str
    note: str
    points: int


def render_gift_slip(slip: GiftSlip, width: int = 576) -> Image.Image:
    """Draw the slip for a surprise gift: the note the scenario wrote, and its points."""
    title, heading, body = _fonts(width)
    canvas = _Canvas(width)
    canvas.text(slip.store_name, title, "center")
    canvas.text("هدیهٔ ویژهٔ شما", heading, "center")
    canvas.rule()
    canvas.pair("تاریخ", jalali_datetime(slip.moment), body)
    canvas.pair("عضو", slip.member_name, body)
    canvas.pair("موبایل", slip.masked_mobile, body, value_dir="ltr")
    canvas.rule()
    for line in _wrap(slip.note, heading, width - 2 * MARGIN):
        canvas.text(line, heading, "center")
    if slip.points:
        canvas.pair("امتیاز هدیه", group_thousands(slip.points), heading)
    canvas.rule()
    canvas.text("باشگاه مشتریان وفا", body, "center")
    return canvas.finish()


def _wrap(text: str, font: ImageFont.FreeTypeFont, room: int) -> list[str]:
    """Break text into lines that fit ``room`` dots, at spaces (a note is up to 200 long)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and font.getlength(candidate, direction="rtl", language="fa") > room:
                lines.append(line)
                candidate = word
            line = candidate
        lines.append(line)
    return lines


def _qr(url: str, width: int) -> Image.Image:
    code = qrcode.QRCode(border=1, box_size=max(3, width // 96))
    code.add_data(url)
    code.make(fit=True)
    picture: Image.Image = code.make_image(fill_color="black", back_color="white").get_image()
    return picture.convert("L")

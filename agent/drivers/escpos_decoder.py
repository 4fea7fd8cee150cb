"""Decode an ESC/POS byte stream into commands, and its raster images into pictures.

Tests use it to read what a printer would have received (python-escpos' ``Dummy`` output,
a capture file, a serial pty) and assert on meaning rather than on opaque bytes: "a partial
cut", "a drawer pulse of 100 ms on pin 2", "this receipt image, pixel for pixel".

The decoder never raises on bad input. Bytes it does not know become ``unknown`` commands;
a command whose declared length runs past the end becomes one ``truncated`` command holding
the rest of the input. Every byte lands in exactly one command, in order, so
``b"".join(c.raw for c in decode(data)) == data`` always holds.

Names are the ESC/POS mnemonics (``"ESC @"``, ``"GS v 0"``, ``"GS ( k"``, ``"DLE EOT"``);
plain bytes are ``"text"``, single control bytes ``"LF"``, ``"CR"``, ``"HT"``, ``"FF"``,
``"CAN"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

__all__ = ["Command", "decode", "drawer_kicks", "raster_images", "receipt_image"]

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
_PREFIX_NAMES = {ESC: "ESC", GS: "GS", DLE: "DLE", FS: "FS"}
_CONTROLS = {0x09: "HT", 0x0A: "LF", 0x0C: "FF", 0x0D: "CR", 0x18: "CAN"}
_TEXT = re.compile(rb"[\x20-\xff]+")
_INVERT = bytes(255 - i for i in range(256))


@dataclass(frozen=True)
class Command:
    """One decoded command: its mnemonic, its meaning, where it starts and its exact bytes."""

    name: str
    args: dict[str, Any]
    offset: int
    raw: bytes


class _Truncated(Exception):
    """The input ends before the command it is in; ``needed`` is the length it declared."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


# A parser gets the input and the position just after the command's name bytes; it returns
# the command's arguments and the position just after the command.
Parser = Callable[[bytes, int], tuple[dict[str, Any], int]]


def _take(data: bytes, pos: int, count: int) -> bytes:
    """Return ``count`` bytes at ``pos`` or raise _Truncated."""
    if pos + count > len(data):
        raise _Truncated(pos + count)
    return data[pos : pos + count]


def _until_nul(data: bytes, pos: int, limit: int) -> bytes:
    """Return the bytes before the next NUL (searched within ``limit`` bytes)."""
    end = data.find(b"\x00", pos, pos + limit)
    if end < 0:
        raise _Truncated(min(len(data), pos + limit) + 1)
    return data[pos:end]


def _le(two: bytes) -> int:
    """Read a little-endian unsigned number (ESC/POS's nL nH order)."""
    return int.from_bytes(two, "little")


def _fixed(count: int, meaning: Callable[[bytes], dict[str, Any]] | None = None) -> Parser:
    """Build a parser for a command with ``count`` argument bytes."""

    def parse(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
        params = _take(data, pos, count)
        args = meaning(params) if meaning else ({"params": params} if count else {})
        return args, pos + count

    return parse


def _one(key: str, convert: Callable[[int], Any] = int) -> Parser:
    """Build a parser for a command with one argument byte, named ``key``."""
    return _fixed(1, lambda p: {key: convert(p[0])})


def _flag(n: int) -> bool:
    """Read an on/off argument: ESC/POS looks at the lowest bit (0/1 or "0"/"1")."""
    return bool(n & 1)


def _select(n: int, names: tuple[str, ...]) -> str | int:
    """Name a 0/1/2 or "0"/"1"/"2" argument; unknown values stay numbers."""
    index = n - 48 if n >= 48 else n
    return names[index] if 0 <= index < len(names) else n


# --- ESC ------------------------------------------------------------------------------


def _print_mode(p: bytes) -> dict[str, Any]:
    """ESC ! n: font, emphasis, size and underline in one byte."""
    n = p[0]
    return {
        "n": n,
        "font_b": bool(n & 0x01),
        "bold": bool(n & 0x08),
        "double_height": bool(n & 0x10),
        "double_width": bool(n & 0x20),
        "underline": bool(n & 0x80),
    }


def _drawer(p: bytes) -> dict[str, Any]:
    """ESC p m t1 t2: pulse connector pin 2 (m=0) or 5 (m=1), times in 2 ms units."""
    m, t1, t2 = p
    return {"m": m, "pin": 5 if m & 1 else 2, "on_ms": t1 * 2, "off_ms": t2 * 2}


def _tabs(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """ESC D n1 ... nk NUL: horizontal tab stops."""
    stops = _until_nul(data, pos, 33)
    return {"stops": list(stops)}, pos + len(stops) + 1


def _column_image(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """ESC * m nL nH d1...dk: one band of a column-format bit image."""
    head = _take(data, pos, 3)
    m, width = head[0], _le(head[1:3])
    size = width * (3 if m in (32, 33) else 1)
    body = _take(data, pos + 3, size)
    return {"m": m, "width": width, "data": body}, pos + 3 + size


_ESC: dict[bytes, tuple[str, Parser]] = {
    b"@": ("ESC @", _fixed(0)),
    b"!": ("ESC !", _fixed(1, _print_mode)),
    b"E": ("ESC E", _one("bold", _flag)),
    b"G": ("ESC G", _one("double_strike", _flag)),
    b"-": ("ESC -", _one("underline", lambda n: n - 48 if n >= 48 else n)),
    b"a": ("ESC a", _one("align", lambda n: _select(n, ("left", "center", "right")))),
    b"t": ("ESC t", _one("codepage")),
    b"M": ("ESC M", _one("font", lambda n: _select(n, ("a", "b", "c")))),
    b"R": ("ESC R", _one("charset")),
    b"d": ("ESC d", _one("lines")),
    b"J": ("ESC J", _one("dots")),
    b"p": ("ESC p", _fixed(3, _drawer)),
    b"2": ("ESC 2", _fixed(0)),
    b"3": ("ESC 3", _one("spacing")),
    b"+": ("ESC +", _one("spacing")),
    b"A": ("ESC A", _one("spacing")),
    b" ": ("ESC SP", _one("spacing")),
    b"{": ("ESC {", _one("upside_down", _flag)),
    b"r": ("ESC r", _one("color", lambda n: _select(n, ("black", "red")))),
    b"V": ("ESC V", _one("rotate", _flag)),
    b"=": ("ESC =", _one("device")),
    b"?": ("ESC ?", _one("char")),
    b"%": ("ESC %", _one("user_chars", _flag)),
    b"U": ("ESC U", _one("unidirectional", _flag)),
    b"T": ("ESC T", _one("direction")),
    b"B": ("ESC B", _fixed(2, lambda p: {"times": p[0], "duration": p[1]})),
    b"c": ("ESC c", _fixed(2, lambda p: {"fn": chr(p[0]), "n": p[1]})),
    b"$": ("ESC $", _fixed(2, lambda p: {"position": _le(p)})),
    b"\\": ("ESC \\", _fixed(2, lambda p: {"offset": int.from_bytes(p, "little", signed=True)})),
    b"W": ("ESC W", _fixed(8)),
    b"D": ("ESC D", _tabs),
    b"*": ("ESC *", _column_image),
    b"i": ("ESC i", _fixed(0)),
    b"m": ("ESC m", _fixed(0)),
    b"L": ("ESC L", _fixed(0)),
    b"S": ("ESC S", _fixed(0)),
    b"<": ("ESC <", _fixed(0)),
    b"\x0c": ("ESC FF", _fixed(0)),
}


# --- GS -------------------------------------------------------------------------------

_CUTS = {0: "full", 48: "full", 1: "partial", 49: "partial"}
_FEED_CUTS = {65: "full", 66: "partial", 97: "full", 98: "partial", 103: "full", 104: "partial"}
_RASTER_SCALES = ("normal", "double_width", "double_height", "quadruple")


def _cut(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """GS V m [n]: cut, with n dots of feed first for the m=65/66 forms."""
    m = _take(data, pos, 1)[0]
    if m in _FEED_CUTS:
        return {"m": m, "mode": _FEED_CUTS[m], "feed": _take(data, pos + 1, 1)[0]}, pos + 2
    return {"m": m, "mode": _CUTS.get(m, "unknown"), "feed": None}, pos + 1


def _raster(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """GS v 0 m xL xH yL yH d1...dk: one raster bit image, k = width_bytes * height."""
    head = _take(data, pos, 5)
    m, width_bytes, height = head[0], _le(head[1:3]), _le(head[3:5])
    body = _take(data, pos + 5, width_bytes * height)
    args = {
        "m": m,
        "scale": _RASTER_SCALES[m & 3],
        "width_bytes": width_bytes,
        "width": width_bytes * 8,
        "height": height,
        "data": body,
    }
    return args, pos + 5 + len(body)


def _stored_image(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """GS * x y d1...dk: define a downloaded bit image of x*8 by y*8 dots."""
    head = _take(data, pos, 2)
    body = _take(data, pos + 2, head[0] * head[1] * 8)
    return {"x": head[0], "y": head[1], "data": body}, pos + 2 + len(body)


def _char_size(n: int) -> dict[str, Any]:
    """GS ! n: width and height multipliers in the high and low nibbles."""
    return {"n": n, "width": ((n >> 4) & 7) + 1, "height": (n & 7) + 1}


def _barcode(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """GS k m ...: a barcode, NUL-terminated (m <= 6) or length-prefixed (m >= 65)."""
    m = _take(data, pos, 1)[0]
    if m <= 6:
        code = _until_nul(data, pos + 1, 256)
        return {"m": m, "data": code}, pos + 2 + len(code)
    size = _take(data, pos + 1, 1)[0]
    code = _take(data, pos + 2, size)
    return {"m": m, "data": code}, pos + 2 + size


_GS: dict[bytes, tuple[str, Parser]] = {
    b"!": ("GS !", _fixed(1, lambda p: _char_size(p[0]))),
    b"B": ("GS B", _one("invert", _flag)),
    b"b": ("GS b", _one("smooth", _flag)),
    b"|": ("GS |", _one("density")),
    b"V": ("GS V", _cut),
    b"v0": ("GS v 0", _raster),
    b"*": ("GS *", _stored_image),
    b"/": ("GS /", _one("m")),
    b"h": ("GS h", _one("height")),
    b"w": ("GS w", _one("width")),
    b"H": ("GS H", _one("hri_position")),
    b"f": ("GS f", _one("hri_font")),
    b"k": ("GS k", _barcode),
    b"a": ("GS a", _one("asb")),
    b"r": ("GS r", _one("n")),
    b"I": ("GS I", _one("n")),
    b"L": ("GS L", _fixed(2, lambda p: {"margin": _le(p)})),
    b"W": ("GS W", _fixed(2, lambda p: {"width": _le(p)})),
    b"P": ("GS P", _fixed(2, lambda p: {"x": p[0], "y": p[1]})),
    b"$": ("GS $", _fixed(2, lambda p: {"position": _le(p)})),
    b"\\": ("GS \\", _fixed(2, lambda p: {"offset": int.from_bytes(p, "little", signed=True)})),
    b":": ("GS :", _fixed(0)),
    b"^": ("GS ^", _fixed(3, lambda p: {"repeat": p[0], "wait": p[1], "mode": p[2]})),
}


# --- GS ( k: 2D codes -----------------------------------------------------------------

_SYMBOLS = {48: "pdf417", 49: "qr", 50: "maxicode", 51: "databar", 52: "composite"}
_QR_FUNCTIONS = {65: "model", 67: "size", 69: "error_correction", 80: "store", 81: "print"}


def _qr_args(fn: int, rest: bytes) -> dict[str, Any]:
    """Name a QR function's parameters (GS ( k with cn = 49)."""
    if fn == 65 and rest:
        return {"model": {49: 1, 50: 2, 51: "micro"}.get(rest[0], rest[0])}
    if fn == 67 and rest:
        return {"size": rest[0]}
    if fn == 69 and rest:
        return {"ec": {48: "L", 49: "M", 50: "Q", 51: "H"}.get(rest[0], rest[0])}
    if fn == 80 and rest:
        return {"data": rest[1:]}
    return {}


def _code_2d(payload: bytes) -> dict[str, Any]:
    """Interpret GS ( k's payload: cn fn [parameters]."""
    if len(payload) < 2:
        return {"payload": payload}
    cn, fn, rest = payload[0], payload[1], payload[2:]
    args: dict[str, Any] = {"symbol": _SYMBOLS.get(cn, cn), "fn": fn, "payload": payload}
    if cn == 49:
        args["function"] = _QR_FUNCTIONS.get(fn, fn)
        args.update(_qr_args(fn, rest))
    return args


# --- GS ( L / GS 8 L: graphics ------------------------------------------------------

_GRAPHICS_FUNCTIONS = {2: "print", 50: "print", 112: "store_raster", 113: "store_column"}


def _graphics(payload: bytes) -> dict[str, Any]:
    """Interpret GS ( L's payload: m fn [parameters]; fn 112 stores a raster image."""
    if len(payload) < 2:
        return {"payload": payload}
    fn = payload[1]
    args: dict[str, Any] = {"fn": fn, "function": _GRAPHICS_FUNCTIONS.get(fn, fn)}
    if fn == 112 and len(payload) >= 10:
        tone, scale_x, scale_y, color = payload[2:6]
        width, height = _le(payload[6:8]), _le(payload[8:10])
        args.update(tone=tone, scale_x=scale_x, scale_y=scale_y, color=color)
        args.update(width=width, height=height, data=payload[10:])
        args["complete"] = len(payload) - 10 == ((width + 7) // 8) * height
    else:
        args["payload"] = payload
    return args


def _length_prefixed(size_bytes: int, meaning: Callable[[bytes], dict[str, Any]]) -> Parser:
    """Build a parser for a command whose first bytes give the length of the rest."""

    def parse(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
        size = _le(_take(data, pos, size_bytes))
        payload = _take(data, pos + size_bytes, size)
        return meaning(payload), pos + size_bytes + size

    return parse


def _raw_payload(payload: bytes) -> dict[str, Any]:
    """Keep a GS ( function's payload as it is."""
    return {"payload": payload}


for _letter in b"ABCDEFGHIJKMNPQRSTUVWXYZabcdefghijlmnopqrstuvwxyz":
    _GS[b"(" + bytes((_letter,))] = (f"GS ( {chr(_letter)}", _length_prefixed(2, _raw_payload))
_GS[b"(k"] = ("GS ( k", _length_prefixed(2, _code_2d))
_GS[b"(L"] = ("GS ( L", _length_prefixed(2, _graphics))
_GS[b"8L"] = ("GS 8 L", _length_prefixed(4, _graphics))


# --- DLE, FS --------------------------------------------------------------------------

_STATUS_KINDS = {1: "printer", 2: "offline", 3: "error", 4: "paper"}


def _realtime_pulse(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """DLE DC4 fn ...: fn 1 pulses a drawer pin for t * 100 ms; others are kept raw."""
    fn = _take(data, pos, 1)[0]
    size = 7 if fn == 8 else 2
    params = _take(data, pos + 1, size)
    if fn == 1:
        m, t = params
        pulse = {"pin": 5 if m & 1 else 2, "on_ms": t * 100, "off_ms": t * 100}
        return {"fn": fn, "m": m, **pulse}, pos + 3
    return {"fn": fn, "params": params}, pos + 1 + size


_DLE: dict[bytes, tuple[str, Parser]] = {
    b"\x04": ("DLE EOT", _fixed(1, lambda p: {"n": p[0], "status": _STATUS_KINDS.get(p[0])})),
    b"\x05": ("DLE ENQ", _one("n")),
    b"\x14": ("DLE DC4", _realtime_pulse),
}

_FS: dict[bytes, tuple[str, Parser]] = {
    b".": ("FS .", _fixed(0)),
    b"&": ("FS &", _fixed(0)),
    b"!": ("FS !", _one("n")),
    b"-": ("FS -", _one("underline")),
    b"C": ("FS C", _one("n")),
    b"p": ("FS p", _fixed(2, lambda p: {"image": p[0], "m": p[1]})),
}


def _prefixed(prefix: int, table: Mapping[bytes, tuple[str, Parser]]) -> dict[bytes, Any]:
    """Key a command table by its full leading bytes."""
    return {bytes((prefix,)) + key: spec for key, spec in table.items()}


_TABLE: dict[bytes, tuple[str, Parser]] = {
    **_prefixed(ESC, _ESC),
    **_prefixed(GS, _GS),
    **_prefixed(DLE, _DLE),
    **_prefixed(FS, _FS),
}
_KEY_LENGTHS = sorted({len(key) for key in _TABLE}, reverse=True)
_PARTIAL_KEYS = {key[:i] for key in _TABLE for i in range(1, len(key))}


# --- decoding -------------------------------------------------------------------------


class _Decoder:
    """Walk the input once, tracking the code page so text can say which one it is in."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.codepage: int | None = None
        self.commands: list[Command] = []

    def run(self) -> list[Command]:
        """Decode the whole input."""
        pos = 0
        while pos < len(self.data):
            pos = self.step(pos)
        return self.commands

    def emit(self, name: str, args: dict[str, Any], start: int, end: int) -> int:
        """Record one command covering data[start:end] and return ``end``."""
        self.commands.append(Command(name, args, start, self.data[start:end]))
        return end

    def step(self, pos: int) -> int:
        """Decode the command at ``pos`` and return the position after it."""
        byte = self.data[pos]
        if byte >= 0x20:
            return self.text(pos)
        if byte in _CONTROLS:
            return self.emit(_CONTROLS[byte], {}, pos, pos + 1)
        if byte in _PREFIX_NAMES:
            return self.command(pos)
        return self.emit("unknown", {"byte": byte}, pos, pos + 1)

    def text(self, pos: int) -> int:
        """Decode a run of printable bytes."""
        match = _TEXT.match(self.data, pos)
        assert match is not None  # step() only calls this on a printable byte
        chunk = match.group()
        args = {
            "text": chunk.decode("ascii", errors="replace"),
            "data": chunk,
            "codepage": self.codepage,
        }
        return self.emit("text", args, pos, match.end())

    def command(self, pos: int) -> int:
        """Decode an ESC, GS, DLE or FS command."""
        for length in _KEY_LENGTHS:
            key = self.data[pos : pos + length]
            if len(key) == length and key in _TABLE:
                return self.parse(pos, key)
        tail = self.data[pos:]
        if len(tail) == 1 or tail in _PARTIAL_KEYS:
            return self.truncated(_PREFIX_NAMES[tail[0]], pos, None)
        prefix, fn = self.data[pos], self.data[pos + 1]
        args = {"prefix": _PREFIX_NAMES[prefix], "fn": fn}
        return self.emit("unknown", args, pos, pos + 2)

    def parse(self, pos: int, key: bytes) -> int:
        """Run the parser for a known command."""
        name, parser = _TABLE[key]
        try:
            args, end = parser(self.data, pos + len(key))
        except _Truncated as short:
            return self.truncated(name, pos, short.needed - pos)
        self.track_codepage(name, args)
        return self.emit(name, args, pos, end)

    def track_codepage(self, name: str, args: Mapping[str, Any]) -> None:
        """Follow ESC t, and forget it on ESC @ (the printer returns to its default)."""
        if name == "ESC t":
            self.codepage = args["codepage"]
        elif name == "ESC @":
            self.codepage = None

    def truncated(self, name: str, pos: int, needed: int | None) -> int:
        """Record a command cut short by the end of input; it takes the rest of the input."""
        args = {"command": name, "needed": needed, "available": len(self.data) - pos}
        return self.emit("truncated", args, pos, len(self.data))


def decode(data: bytes) -> list[Command]:
    """Decode an ESC/POS byte stream into commands; never raise on bad input."""
    return _Decoder(bytes(data)).run()


# --- pictures and drawer --------------------------------------------------------------


def _bitmap(width: int, height: int, data: bytes) -> Image.Image | None:
    """Turn 1-bit rows (1 = printed dot) into a mode "1" image (black = printed)."""
    if width <= 0 or height <= 0 or len(data) != ((width + 7) // 8) * height:
        return None
    return Image.frombytes("1", (width, height), data.translate(_INVERT))


def _scaled(image: Image.Image | None, sx: int, sy: int) -> Image.Image | None:
    """Enlarge an image as a printer does for double width or height."""
    if image is None or (sx, sy) == (1, 1):
        return image
    return image.resize((image.width * sx, image.height * sy), Image.Resampling.NEAREST)


def _image_of(command: Command) -> Image.Image | None:
    """Return the picture a raster or graphics command prints, if it is one."""
    args = command.args
    if command.name == "GS v 0":
        bitmap = _bitmap(args["width"], args["height"], args["data"])
        return _scaled(bitmap, 1 + (args["m"] & 1), 1 + ((args["m"] >> 1) & 1))
    if command.name in ("GS ( L", "GS 8 L") and args.get("function") == "store_raster":
        bitmap = _bitmap(args["width"], args["height"], args["data"])
        return _scaled(bitmap, 2 if args["scale_x"] == 2 else 1, 2 if args["scale_y"] == 2 else 1)
    return None


def raster_images(commands: Iterable[Command]) -> list[Image.Image]:
    """Return the image of each raster block (GS v 0, GS ( L / GS 8 L store), in order."""
    return [image for command in commands if (image := _image_of(command)) is not None]


def receipt_image(data: bytes) -> Image.Image | None:
    """Stack every raster block of a byte stream top to bottom; None if there is none."""
    images = raster_images(decode(data))
    if not images:
        return None
    width, height = max(i.width for i in images), sum(i.height for i in images)
    receipt = Image.new("1", (width, height), 1)
    top = 0
    for image in images:
        receipt.paste(image, (0, top))
        top += image.height
    return receipt


def drawer_kicks(commands: Iterable[Command]) -> list[tuple[int, int, int]]:
    """Return (connector pin 2 or 5, on ms, off ms) for each ESC p and DLE DC4 1 pulse."""
    return [
        (c.args["pin"], c.args["on_ms"], c.args["off_ms"])
        for c in commands
        if c.name == "ESC p" or (c.name == "DLE DC4" and c.args.get("fn") == 1)
    ]

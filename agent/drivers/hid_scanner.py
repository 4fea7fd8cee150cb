"""USB keyboard-wedge (HID) barcode scanners, read through evdev.

A wedge scanner "types" its code as key events. Decoding is split in two so it can be tested
without hardware: :class:`HidDecoder` is a pure function of recorded ``(timestamp, code,
value)`` key events, and :class:`HidScanner` is a thin loop that polls (``select.poll``) the
device's event nodes and feeds one decoder per device.

The decoder acts on key-down only (autorepeat never duplicates a character), keeps its own
Shift and Caps Lock state from the device's own events (the host's Caps Lock LED is never
consulted, so a cashier's Caps Lock cannot change a scan), ends a frame on the profile's
terminator keys and strips the prefix. A frame whose median gap between keys is longer than
``profile.max_interkey_ms`` was typed by a person, not scanned, and is refused; so are
overlong frames. Refusals are logged with a reason, never with the content (it may be a
mobile number).

Follow-up: reopening a node after a replug is left to discovery (it opens a new scanner).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import select
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from agent.drivers.base import Scanner
from agent.drivers.profiles import ScannerProfile
from agent.errors import ProfileError, ScannerError

log = logging.getLogger(__name__)

MAX_FRAME = 512
#: A scanner never pauses this long inside one code; older partial input is stale.
FRAME_IDLE_S = 1.0
EV_KEY = 1  # Linux input-event-codes.h; evdev.ecodes.EV_KEY
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

#: Key names a profile may use as terminators, with their Linux key codes.
TERMINATOR_CODES: Mapping[str, int] = {"KEY_ENTER": 28, "KEY_KPENTER": 96, "KEY_TAB": 15}
SHIFT_CODES = frozenset({42, 54})  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
CAPSLOCK_CODE = 58  # KEY_CAPSLOCK

# The US layout as rows of consecutive Linux key codes: (first code, unshifted, shifted).
_US_ROWS: tuple[tuple[int, str, str], ...] = (
    (2, "1234567890-=", "!@#$%^&*()_+"),  # KEY_1 .. KEY_EQUAL
    (16, "qwertyuiop[]", "QWERTYUIOP{}"),  # KEY_Q .. KEY_RIGHTBRACE
    (30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),  # KEY_A .. KEY_GRAVE
    (43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),  # KEY_BACKSLASH, KEY_Z .. KEY_SLASH
    (55, "*", "*"),  # KEY_KPASTERISK
    (57, " ", " "),  # KEY_SPACE
    (71, "789-456+1230.", "789-456+1230."),  # KEY_KP7 .. KEY_KPDOT (Num Lock on)
    (98, "/", "/"),  # KEY_KPSLASH
)


def _build_keymap(rows: Iterable[tuple[int, str, str]]) -> dict[int, tuple[str, str]]:
    """Expand keymap rows into {key code: (unshifted, shifted)}."""
    keymap: dict[int, tuple[str, str]] = {}
    for first, plain, shifted in rows:
        for offset, pair in enumerate(zip(plain, shifted, strict=True)):
            keymap[first + offset] = pair
    return keymap


#: Key code -> (character, character with Shift), per profile ``keymap`` name.
KEYMAPS: Mapping[str, Mapping[int, tuple[str, str]]] = {"us": _build_keymap(_US_ROWS)}


def median_gap_ms(timestamps: Sequence[float]) -> float:
    """Return the median gap between consecutive timestamps, in milliseconds."""
    gaps = [b - a for a, b in itertools.pairwise(timestamps)]
    return statistics.median(gaps) * 1000 if gaps else 0.0


class HidDecoder:
    """Turn one device's key events into scanned codes."""

    def __init__(self, profile: ScannerProfile) -> None:
        if profile.keymap not in KEYMAPS:
            raise ProfileError(f"{profile.name}: keymap: no table for {profile.keymap!r}")
        self.profile = profile
        self.keymap = KEYMAPS[profile.keymap]
        self.terminators = frozenset(TERMINATOR_CODES[name] for name in profile.terminators)
        self.shift_held: set[int] = set()
        self.caps_lock = False
        self.chars: list[str] = []
        self.times: list[float] = []

    def feed(self, timestamp: float, code: int, value: int) -> str | None:
        """Take one key event; return a code when it completes a scan, else None."""
        if code in SHIFT_CODES:
            self._track_shift(code, value)
        elif value != KEY_DOWN:
            return None  # key-up and autorepeat never type anything
        elif code == CAPSLOCK_CODE:
            self.caps_lock = not self.caps_lock
        elif code in self.terminators:
            return self._finish(timestamp)
        elif code in self.keymap:
            self._type(timestamp, self._character(code))
        return None

    def _track_shift(self, code: int, value: int) -> None:
        if value == KEY_DOWN:
            self.shift_held.add(code)
        elif value == KEY_UP:
            self.shift_held.discard(code)

    def _character(self, code: int) -> str:
        plain, shifted = self.keymap[code]
        upper = bool(self.shift_held)
        if plain.isalpha() and self.caps_lock:
            upper = not upper  # Caps Lock inverts letters only; Shift+letter gives lower case
        return shifted if upper else plain

    def _type(self, timestamp: float, char: str) -> None:
        if self.times and timestamp - self.times[-1] > FRAME_IDLE_S:
            log.info("hid scanner: dropped %d stale keys before a new frame", len(self.chars))
            self._clear()
        if len(self.chars) > MAX_FRAME:  # already overlong: keep only the clock, not the keys
            self.times[-1] = timestamp
            return
        self.chars.append(char)
        self.times.append(timestamp)

    def _finish(self, timestamp: float) -> str | None:
        chars, times = self.chars, [*self.times, timestamp]
        self._clear()
        if not chars:
            return None  # a lone terminator
        if len(chars) > MAX_FRAME:
            log.warning("hid scanner: dropped an overlong frame of %d+ keys", MAX_FRAME)
            return None
        gap = median_gap_ms(times)
        if gap > self.profile.max_interkey_ms:
            log.info(
                "hid scanner: refused %d keys typed by a person (median gap %.0f ms > %d ms)",
                len(chars),
                gap,
                self.profile.max_interkey_ms,
            )
            return None
        return "".join(chars).removeprefix(self.profile.prefix).strip() or None

    def _clear(self) -> None:
        self.chars = []
        self.times = []


class KeyEvent(Protocol):
    """One input event as evdev yields it."""

    type: int
    code: int
    value: int

    def timestamp(self) -> float:
        """Return the kernel's timestamp of the event, in seconds."""
        ...


class EventNode(Protocol):
    """One /dev/input/event* node of a device, as evdev's InputDevice offers it."""

    def fileno(self) -> int:
        """Return the node's file descriptor, for poll."""
        ...

    def read(self) -> Iterable[KeyEvent]:
        """Return the pending events; raise BlockingIOError if none, OSError on unplug."""
        ...

    def grab(self) -> None:
        """Take the node exclusively, so its keys reach no other program."""
        ...

    def close(self) -> None:
        """Close the node."""
        ...


def open_evdev_node(path: str) -> EventNode:
    """Open an event node with evdev."""
    import evdev  # only here: the decoder and its tests do not need it

    return evdev.InputDevice(path)


class HidScanner(Scanner):
    """Read codes from one keyboard-wedge scanner over all of its event nodes."""

    def __init__(
        self,
        paths: str | Sequence[str],
        profile: ScannerProfile,
        grab: bool = False,
        open_node: Callable[[str], EventNode] | None = None,
    ) -> None:
        self.decoder = HidDecoder(profile)
        self.ready: deque[str] = deque()
        self.nodes: dict[int, tuple[str, EventNode]] = {}
        for path in [paths] if isinstance(paths, str) else paths:
            self._open(path, open_node or open_evdev_node, grab)
        if not self.nodes:
            raise ScannerError("hid scanner: no event node given")

    def _open(self, path: str, open_node: Callable[[str], EventNode], grab: bool) -> None:
        try:
            node = open_node(path)
            self.nodes[node.fileno()] = (path, node)
            if grab:  # only for devices the caller confirmed to be scanners
                node.grab()
        except OSError as exc:
            self.close()
            raise ScannerError(f"cannot open scanner node {path}: {exc}") from exc

    def read(self, timeout: float) -> str | None:
        """Return the next complete code, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            if not self.nodes:
                raise ScannerError("hid scanner: every event node is gone (unplugged?)")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._poll(remaining)
        return self.ready.popleft()

    def _poll(self, wait: float) -> None:
        poller = select.poll()  # not select.select: it fails on descriptors past 1023
        for fd in self.nodes:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(math.ceil(wait * 1000)):  # also wakes on POLLHUP/POLLERR
            self._drain(fd)

    def _drain(self, fd: int) -> None:
        path, node = self.nodes[fd]
        try:
            events = list(node.read())
        except BlockingIOError:
            return
        except OSError as exc:  # ENODEV after an unplug
            log.warning("hid scanner: dropped node %s: %s", path, exc)
            del self.nodes[fd]
            with contextlib.suppress(OSError):
                node.close()
            return
        for event in events:
            if event.type == EV_KEY:
                code = self.decoder.feed(event.timestamp(), event.code, event.value)
                if code is not None:
                    self.ready.append(code)

    def close(self) -> None:
        """Release every node (an exclusive grab ends with its file)."""
        for _, node in self.nodes.values():
            with contextlib.suppress(OSError):
                node.close()
        self.nodes.clear()

"""Keyboard-wedge scanners from recorded key-event streams (this machine has no /dev/uinput).

Streams are ``(timestamp_seconds, key_code, value)`` as evdev reports them; the reader's tests
push real ``struct input_event`` bytes through pipes, one pipe per event node.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.drivers.hid_scanner import (
    KEYMAPS,
    MAX_FRAME,
    TERMINATOR_CODES,
    HidDecoder,
    HidScanner,
)
from agent.drivers.profiles import ScannerProfile, load_profile
from agent.errors import ScannerError

Event = tuple[float, int, int]

KEY_ENTER, KEY_KPENTER, KEY_TAB = 28, 96, 15
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_A, KEY_B, KEY_1, KEY_2, KEY_9 = 30, 48, 2, 3, 10
SCAN_GAP = 0.004  # 4 ms between keys: a scanner
HUMAN_GAP = 0.180  # 180 ms between keys: a fast typist

# Reverse of the US table: character -> (code, needs shift).
_CHAR_KEYS: dict[str, tuple[int, bool]] = {}
for _code, (_plain, _shifted) in sorted(KEYMAPS["us"].items(), reverse=True):
    _CHAR_KEYS[_shifted] = (_code, True)
    _CHAR_KEYS[_plain] = (_code, False)


@pytest.fixture
def profile() -> ScannerProfile:
    loaded = load_profile("zebra-ds2208")
    assert isinstance(loaded, ScannerProfile)
    return loaded


def typed(
    text: str, start: float = 100.0, gap: float = SCAN_GAP, end: int = KEY_ENTER
) -> list[Event]:
    """Record the events a US-layout wedge sends for ``text`` and a terminator key."""
    events: list[Event] = []
    t = start
    for char in text:
        code, shift = _CHAR_KEYS[char]
        if shift:
            events.append((t, KEY_LEFTSHIFT, 1))
        events += [(t, code, 1), (t + 0.001, code, 0)]
        if shift:
            events.append((t + 0.001, KEY_LEFTSHIFT, 0))
        t += gap
    return [*events, (t, end, 1), (t + 0.001, end, 0)]


def decode(decoder: HidDecoder, events: list[Event]) -> list[str]:
    """Feed a recorded stream; return the codes it produced."""
    return [code for event in events if (code := decoder.feed(*event)) is not None]


def test_digits_and_letters(profile: ScannerProfile) -> None:
    """GIVEN a scanner WHEN it sends a card number and a coupon THEN both decode exactly."""
    decoder = HidDecoder(profile)
    stream = typed("2900012345675") + typed("CP-AB12cd;/.", start=101.0)
    assert decode(decoder, stream) == ["2900012345675", "CP-AB12cd;/."]


def test_right_shift_and_shifted_symbols(profile: ScannerProfile) -> None:
    decoder = HidDecoder(profile)
    t = 5.0
    stream = [(t, KEY_RIGHTSHIFT, 1), (t, KEY_1, 1), (t + 0.002, KEY_A, 1)]
    stream += [(t + 0.003, KEY_RIGHTSHIFT, 0), (t + 0.004, KEY_A, 1), (t + 0.006, KEY_ENTER, 1)]
    assert decode(decoder, stream) == ["!Aa"]


def test_caps_lock_during_a_scan(profile: ScannerProfile) -> None:
    """GIVEN Caps Lock on mid-scan THEN letters invert, digits do not, Shift+letter is lower."""
    decoder = HidDecoder(profile)
    t = 10.0
    stream = [
        (t, KEY_A, 1),  # a
        (t + 0.002, KEY_CAPSLOCK, 1),  # on
        (t + 0.003, KEY_CAPSLOCK, 0),
        (t + 0.004, KEY_B, 1),  # B
        (t + 0.006, KEY_1, 1),  # 1: Caps Lock leaves digits alone
        (t + 0.008, KEY_LEFTSHIFT, 1),
        (t + 0.008, KEY_A, 1),  # Shift with Caps: a
        (t + 0.009, KEY_1, 1),  # Shift+1 with Caps: !
        (t + 0.010, KEY_LEFTSHIFT, 0),
        (t + 0.012, KEY_CAPSLOCK, 1),  # off
        (t + 0.014, KEY_B, 1),  # b
        (t + 0.016, KEY_ENTER, 1),
    ]
    assert decode(decoder, stream) == ["aB1a!b"]


def test_caps_lock_toggles_on_key_down_only(profile: ScannerProfile) -> None:
    decoder = HidDecoder(profile)
    stream = [(1.0, KEY_CAPSLOCK, 1), (1.001, KEY_CAPSLOCK, 2), (1.002, KEY_CAPSLOCK, 0)]
    stream += [(1.003, KEY_A, 1), (1.005, KEY_ENTER, 1)]
    assert decode(decoder, stream) == ["A"]


def test_autorepeat_never_duplicates(profile: ScannerProfile) -> None:
    """GIVEN a key held long enough to autorepeat THEN it types once."""
    decoder = HidDecoder(profile)
    stream = [(1.0, KEY_9, 1), *((1.0 + i * 0.001, KEY_9, 2) for i in range(1, 20))]
    stream += [(1.02, KEY_9, 0), (1.022, KEY_2, 1), (1.024, KEY_ENTER, 1), (1.025, KEY_ENTER, 2)]
    assert decode(decoder, stream) == ["92"]


@pytest.mark.parametrize(
    ("terminators", "end", "expected"),
    [
        (("KEY_ENTER", "KEY_KPENTER"), KEY_ENTER, ["2900012345675"]),
        (("KEY_ENTER", "KEY_KPENTER"), KEY_KPENTER, ["2900012345675"]),
        (("KEY_ENTER", "KEY_KPENTER"), KEY_TAB, []),
        (("KEY_TAB",), KEY_TAB, ["2900012345675"]),
        (("KEY_TAB",), KEY_ENTER, []),
    ],
)
def test_terminators_follow_the_profile(
    profile: ScannerProfile, terminators: tuple[str, ...], end: int, expected: list[str]
) -> None:
    decoder = HidDecoder(replace(profile, terminators=terminators))
    assert decode(decoder, typed("2900012345675", end=end)) == expected


def test_tab_profile_does_not_end_on_enter_but_on_tab(profile: ScannerProfile) -> None:
    decoder = HidDecoder(replace(profile, terminators=("KEY_TAB",)))
    assert decode(decoder, typed("12", end=KEY_ENTER) + typed("34", start=100.02, end=KEY_TAB)) == [
        "1234"
    ]


def test_prefix_is_stripped(profile: ScannerProfile) -> None:
    decoder = HidDecoder(replace(profile, prefix="]E0"))
    assert decode(decoder, typed("]E02900012345675")) == ["2900012345675"]


def test_person_typing_is_refused_but_scanner_speed_passes(
    profile: ScannerProfile, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN the same characters WHEN typed by hand THEN refused; WHEN scanned THEN passed on."""
    decoder = HidDecoder(profile)
    with caplog.at_level(logging.INFO, logger="agent.drivers.hid_scanner"):
        assert decode(decoder, typed("09123456789", gap=HUMAN_GAP)) == []
    assert "typed by a person" in caplog.text
    assert "0912" not in caplog.text  # the content (a mobile) never reaches the log
    assert decode(decoder, typed("09123456789", start=200.0)) == ["09123456789"]


def test_one_slow_key_in_a_fast_scan_still_passes(profile: ScannerProfile) -> None:
    """GIVEN a scan with one USB hiccup THEN the median gap still says scanner."""
    stream = typed("29000123", gap=0.003) + typed("45675", start=100.2, gap=0.003)
    stream = [e for e in stream[:-2] if e[1] != KEY_ENTER] + stream[-2:]
    assert decode(HidDecoder(profile), stream) == ["2900012345675"]


def test_stale_partial_input_does_not_leak_into_the_next_scan(profile: ScannerProfile) -> None:
    decoder = HidDecoder(profile)
    stream = typed("abc")[:-2] + typed("2900012345675", start=105.0)
    assert decode(decoder, stream) == ["2900012345675"]


def test_overlong_frame_is_dropped_with_a_reason(
    profile: ScannerProfile, caplog: pytest.LogCaptureFixture
) -> None:
    decoder = HidDecoder(profile)
    stream = typed("1" * (MAX_FRAME + 50), gap=0.001) + typed("42", start=200.0)
    with caplog.at_level(logging.WARNING, logger="agent.drivers.hid_scanner"):
        assert decode(decoder, stream) == ["42"]
    assert "overlong" in caplog.text


def test_exactly_max_frame_passes(profile: ScannerProfile) -> None:
    assert decode(HidDecoder(profile), typed("7" * MAX_FRAME, gap=0.001)) == ["7" * MAX_FRAME]


def test_two_identical_scanners_interleaved_stay_separate(profile: ScannerProfile) -> None:
    """GIVEN two identical scanners scanning at once THEN each decoder keeps its own frame."""
    first, second = HidDecoder(profile), HidDecoder(profile)
    a = [(first, e) for e in typed("2900012345675", start=50.0, gap=0.004)]
    b = [(second, e) for e in typed("CP-ABC123", start=50.001, gap=0.005)]
    merged = sorted(a + b, key=lambda pair: pair[1][0])
    out = {id(first): [], id(second): []}  # type: dict[int, list[str]]
    for decoder, event in merged:
        if (code := decoder.feed(*event)) is not None:
            out[id(decoder)].append(code)
    assert out == {id(first): ["2900012345675"], id(second): ["CP-ABC123"]}


def test_garbage_codes_are_ignored(profile: ScannerProfile) -> None:
    decoder = HidDecoder(profile)
    junk = [(1.0, -5, 1), (1.001, 0, 1), (1.002, 0x2FF, 1), (1.003, 10**9, 1), (1.004, 29, 1)]
    junk += [(1.005, KEY_1, 7), (1.006, KEY_1, -1), (1.007, 125, 1)]  # bad values, Ctrl, Meta
    assert decode(decoder, junk + typed("123", start=1.008)) == ["123"]


def test_lone_terminator_gives_nothing(profile: ScannerProfile) -> None:
    assert decode(HidDecoder(profile), [(1.0, KEY_ENTER, 1), (1.1, KEY_ENTER, 0)]) == []


def test_keymap_agrees_with_evdev_codes() -> None:
    """GIVEN evdev's own constants THEN our plain-int tables name the same keys."""
    ecodes = pytest.importorskip("evdev.ecodes")
    for name, code in TERMINATOR_CODES.items():
        assert ecodes.ecodes[name] == code
    us = KEYMAPS["us"]
    assert us[ecodes.KEY_A] == ("a", "A")
    assert us[ecodes.KEY_0] == ("0", ")")
    assert us[ecodes.KEY_MINUS] == ("-", "_")
    assert us[ecodes.KEY_EQUAL] == ("=", "+")
    assert us[ecodes.KEY_SEMICOLON] == (";", ":")
    assert us[ecodes.KEY_SLASH] == ("/", "?")
    assert us[ecodes.KEY_DOT] == (".", ">")
    assert us[ecodes.KEY_Z] == ("z", "Z")
    assert us[ecodes.KEY_BACKSLASH] == ("\\", "|")
    assert us[ecodes.KEY_KP0] == ("0", "0")
    assert us[ecodes.KEY_KPDOT] == (".", ".")
    assert us[ecodes.KEY_SPACE] == (" ", " ")


_events = st.lists(
    st.tuples(
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
        st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([2, 28, 42, 54, 58, 96, 15])),
        st.integers(-3, 3),
    ),
    max_size=300,
)


@given(_events)
def test_random_streams_never_raise(events: list[Event]) -> None:
    decoder = HidDecoder(load_profile("generic-hid-scanner"))  # type: ignore[arg-type]
    for code in decode(decoder, events):
        assert 0 < len(code) <= MAX_FRAME
        assert code.isprintable()


# --- the reader, over pipes carrying real ``struct input_event`` bytes ---------------------

_INPUT_EVENT = struct.Struct("llHHi")  # timeval (sec, usec), type, code, value


class PipeNode:
    """An event node backed by a pipe: the test writes kernel-format events into it."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.grabbed = False
        self.reads = 0

    def send(self, events: list[Event]) -> None:
        for t, code, value in events:
            sec, usec = int(t), round((t - int(t)) * 1e6)
            os.write(self.write_fd, _INPUT_EVENT.pack(sec, usec, 1, code, value))
            os.write(self.write_fd, _INPUT_EVENT.pack(sec, usec, 0, 0, 0))  # EV_SYN

    def unplug(self) -> None:
        os.close(self.write_fd)

    def fileno(self) -> int:
        return self.read_fd

    def read(self) -> Iterator[object]:
        from evdev import InputEvent

        self.reads += 1
        data = os.read(self.read_fd, _INPUT_EVENT.size * 64)
        if not data:  # the writer is gone: what the kernel reports after an unplug
            raise OSError(errno.ENODEV, "No such device")
        for fields in _INPUT_EVENT.iter_unpack(data):
            yield InputEvent(*fields)

    def grab(self) -> None:
        self.grabbed = True

    def close(self) -> None:
        os.close(self.read_fd)


@pytest.fixture
def nodes() -> dict[str, PipeNode]:
    pytest.importorskip("evdev")
    return {"/dev/input/event7": PipeNode(), "/dev/input/event8": PipeNode()}


def test_scanner_reads_all_nodes_of_one_device(
    profile: ScannerProfile, nodes: dict[str, PipeNode]
) -> None:
    """GIVEN a scanner with two event nodes WHEN codes arrive on each THEN both are read."""
    scanner = HidScanner(list(nodes), profile, open_node=nodes.__getitem__)  # type: ignore[arg-type]
    node7, node8 = nodes.values()
    assert not node7.grabbed and not node8.grabbed  # never grab by default
    node7.send(typed("2900012345675"))
    node8.send(typed("CP-ABC123", start=101.0))
    assert {scanner.read(timeout=1), scanner.read(timeout=1)} == {"2900012345675", "CP-ABC123"}
    assert scanner.read(timeout=0.05) is None
    scanner.close()


def test_grab_only_when_asked(profile: ScannerProfile, nodes: dict[str, PipeNode]) -> None:
    scanner = HidScanner(list(nodes), profile, grab=True, open_node=nodes.__getitem__)  # type: ignore[arg-type]
    assert all(node.grabbed for node in nodes.values())
    scanner.close()


def test_unplug_drops_nodes_then_raises_without_busy_looping(
    profile: ScannerProfile, nodes: dict[str, PipeNode]
) -> None:
    """GIVEN a two-node scanner WHEN one node goes away THEN the other still reads;
    WHEN both go THEN ScannerError, and an idle read waits in select rather than spinning."""
    scanner = HidScanner(list(nodes), profile, open_node=nodes.__getitem__)  # type: ignore[arg-type]
    node7, node8 = nodes.values()
    assert scanner.read(timeout=0.2) is None
    assert node7.reads + node8.reads == 0  # nothing readable: select waited, no read spun
    node7.unplug()
    node8.send(typed("42"))
    assert scanner.read(timeout=1) == "42"
    assert len(scanner.nodes) == 1
    node8.unplug()
    with pytest.raises(ScannerError, match="every event node is gone"):
        scanner.read(timeout=1)
    scanner.close()


def test_open_failure_is_a_scanner_error(profile: ScannerProfile) -> None:
    def missing(path: str) -> PipeNode:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)

    with pytest.raises(ScannerError, match="event99"):
        HidScanner(["/dev/input/event99"], profile, open_node=missing)  # type: ignore[arg-type]

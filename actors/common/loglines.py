"""Container log lines as the engine gives them, and where a reader of them stands (no IO).

The engine's log reads (``timestamps=True``) give each line as
``2026-11-30T06:17:46.123456789Z text``. A reader keeps, per task and stream,
a :class:`Cursor`: the timestamp of the last line it has and how many lines
it has at exactly that timestamp. The next read asks the engine from that
timestamp on (Docker's ``since`` keeps lines at the instant itself) and
:class:`LineSplitter` drops what the reader already has, so a line is shown
once and none is lost between reads, however the reads are cut by the
bounds on lines and bytes (transport/limits.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from transport import limits

STREAMS = ("stdout", "stderr")
_TIMESTAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# The engine takes ``since`` as float seconds: a float of today's seconds holds about a quarter of a
# microsecond, so reads ask from this much earlier and the cursor drops the lines before it.
SINCE_MARGIN_NS = 1000
PENDING_BYTES = 4 * limits.LOG_LINE_CHARS + 64  # the most of one line kept while its end has not come


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of a container's output: when the engine took it, its stream, its text (no newline)."""

    ns: int
    stream: str
    text: str

    def wire(self) -> list:
        """The line as messages carry it: ``[ns, stream, text]``."""
        return [self.ns, self.stream, self.text]

    @classmethod
    def from_wire(cls, item) -> "Line":
        """A line from ``[ns, stream, text]``; ValueError when it is not one."""
        if not (isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], int)
                and item[1] in STREAMS and isinstance(item[2], str)):
            raise ValueError("a log line is [nanoseconds, stdout|stderr, text]")
        return cls(item[0], item[1], item[2])


def parse_timestamp(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 UTC timestamp as the engine writes them (RFC3339Nano,
    trailing zeros of the fraction dropped); ValueError otherwise."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(f"not an engine timestamp: {text[:40]!r}")
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    seconds = (moment - _EPOCH) // datetime.timedelta(seconds=1)
    return seconds * 1_000_000_000 + int((match.group(7) or "0").ljust(9, "0"))


def format_timestamp(ns: int) -> str:
    """RFC3339Nano with all nine digits of the fraction, as ``docker service logs -t`` aligns them."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    moment = _EPOCH + datetime.timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


def parse_line(raw: bytes, stream: str) -> Line:
    """One line of an engine read with timestamps (without its newline); text past LOG_LINE_CHARS is cut,
    bytes that are not UTF-8 are replaced. ValueError when it does not start with a timestamp."""
    stamp, _, text = raw.partition(b" ")
    return Line(parse_timestamp(stamp.decode("ascii", "replace")), stream,
                text.decode("utf-8", "replace")[:limits.LOG_LINE_CHARS])


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where a reader of one stream stands: it has every line up to ``ns``, ``count`` of them at ``ns``."""

    ns: int = 0
    count: int = 0

    def since_seconds(self) -> float:
        """The ``since`` to ask the engine for (a little early: :data:`SINCE_MARGIN_NS`)."""
        return max(self.ns - SINCE_MARGIN_NS, 0) / 1e9

    def after(self, lines: list[Line]) -> "Cursor":
        """The cursor once the reader also has ``lines`` (unseen ones, in order)."""
        ns, count = self.ns, self.count
        for line in lines:
            if line.ns == ns:
                count += 1
            elif line.ns > ns:
                ns, count = line.ns, 1
        return Cursor(ns, count)

    def wire(self) -> list:
        """``[ns, count]``, as the CLI sends it back."""
        return [self.ns, self.count]

    @classmethod
    def from_wire(cls, item) -> "Cursor":
        """A cursor from ``[ns, count]``; ValueError when it is not one."""
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(v, int) and 0 <= v <= limits.COUNT
                                                                          for v in item)):
            raise ValueError("a log cursor is [nanoseconds, count]")
        return cls(item[0], item[1])


def merged(per_stream: dict[str, list[Line]], tail: int) -> list[Line]:
    """The lines of all streams in time order (stdout first at a tie), the last ``tail`` of them
    (all for a negative ``tail``): each stream was read with the same tail, so the last ``tail`` of
    their union are among them."""
    lines = sorted((line for stream in STREAMS for line in per_stream.get(stream, ())),
                   key=lambda line: (line.ns, STREAMS.index(line.stream)))
    return lines if tail < 0 else lines[len(lines) - tail:] if tail else []


class LineSplitter:
    """Cuts the chunks of one engine read (asked from ``cursor.since_seconds()``) into the lines the reader
    has not seen, up to ``max_lines`` and ``max_bytes`` of them; ``full`` once a bound was reached (the
    rest is for the next read, from the cursor after these lines)."""

    def __init__(self, stream: str, cursor: Cursor, max_lines: int, max_bytes: int):
        self._stream, self._cursor = stream, cursor
        self._skip = cursor.count  # lines at the cursor's instant the reader has
        self._max_lines, self._max_bytes = max_lines, max_bytes
        self._pending = b""
        self.lines: list[Line] = []
        self.bytes = 0
        self.full = False

    def add(self, chunk: bytes) -> bool:
        """Take in ``chunk``; lines past the bounds are not kept. False once full (the read may stop)."""
        self._pending += chunk
        while not self.full and b"\n" in self._pending:
            raw, self._pending = self._pending.split(b"\n", 1)
            self._take(raw)
        if len(self._pending) > PENDING_BYTES:  # a line longer than any log driver writes: cut
            self._take(self._pending[:PENDING_BYTES])
            self._pending = b""
        return not self.full

    def finish(self) -> list[Line]:
        """The lines read, once the read ended (a last line without a newline included)."""
        if self._pending and not self.full:
            self._take(self._pending)
        self._pending = b""
        return self.lines

    def _take(self, raw: bytes) -> None:
        try:
            line = parse_line(raw, self._stream)
        except ValueError:
            return  # the rest of a line cut above (every line of a read starts with its timestamp)
        if line.ns < self._cursor.ns:
            return
        if line.ns == self._cursor.ns and self._skip > 0:
            self._skip -= 1
            return
        if len(self.lines) >= self._max_lines or self.bytes + len(raw) > self._max_bytes:
            self.full = True
            return
        self.lines.append(line)
        self.bytes += len(raw)

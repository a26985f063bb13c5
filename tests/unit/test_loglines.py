"""Log lines and cursors (actors/common/loglines.py): a line is shown once and none is lost across reads."""

from __future__ import annotations

import pytest

from actors.common.loglines import Cursor, Line, LineSplitter, format_timestamp, merged, parse_line, parse_timestamp

T0 = parse_timestamp("2026-11-30T06:17:46.000000001Z")


def test_timestamps_round_trip_with_the_engines_trimmed_fraction():
    assert parse_timestamp("1970-01-01T00:00:01Z") == 1_000_000_000
    assert parse_timestamp("2026-11-30T06:17:46.5Z") == parse_timestamp("2026-11-30T06:17:46.500000000Z")
    assert format_timestamp(parse_timestamp("2026-11-30T06:17:46.5Z")) == "2026-11-30T06:17:46.500000000Z"
    assert format_timestamp(T0) == "2026-11-30T06:17:46.000000001Z"
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_a_line_is_split_from_its_timestamp_and_cut_when_too_long():
    line = parse_line(b"2026-11-30T06:17:46.000000001Z hello world", "stderr")
    assert line == Line(T0, "stderr", "hello world")
    assert len(parse_line(b"2026-11-30T06:17:46Z " + b"x" * 100_000, "stdout").text) == 16 * 1024


def test_the_splitter_drops_what_the_cursor_has_seen_at_its_instant_and_before():
    cursor = Cursor(T0, 1)  # had "a"
    splitter = LineSplitter("stdout", cursor, max_lines=2, max_bytes=1 << 20)
    for ns, text in ((T0 - 5, "old"), (T0, "a"), (T0, "b"), (T0 + 1, "c")):
        splitter.add(f"{format_timestamp(ns)} {text}\n".encode())
    fresh = splitter.finish()
    assert [line.text for line in fresh] == ["b", "c"] and not splitter.full
    assert cursor.after(fresh) == Cursor(T0 + 1, 1)
    assert Cursor(T0, 0).after([Line(T0, "stdout", "a"), Line(T0, "stdout", "b")]) == Cursor(T0, 2)
    assert Cursor(T0, 0).since_seconds() < T0 / 1e9


def test_reads_cut_anywhere_give_every_line_once():
    """Fake engine reads: every cut by the line bound, resumed from the cursor, adds up to the whole log."""
    log = [Line(T0 + i // 3, "stdout", f"line {i}") for i in range(20)]  # three lines per instant
    cursor, shown = Cursor(), []
    for _ in range(20):
        since = cursor.since_seconds() * 1e9
        splitter = LineSplitter("stdout", cursor, max_lines=2, max_bytes=1 << 20)
        for line in log:
            if line.ns >= since:
                splitter.add(f"{format_timestamp(line.ns)} {line.text}\n".encode())
        fresh = splitter.finish()
        shown += fresh
        cursor = cursor.after(fresh)
    assert shown == log


def test_the_splitter_stops_at_its_bounds_and_keeps_a_last_unterminated_line():
    splitter = LineSplitter("stdout", Cursor(), max_lines=2, max_bytes=1 << 20)
    splitter.add(b"2026-11-30T06:17:46Z one\n2026-11-30T06:17:46Z tw")
    splitter.add(b"o\n2026-11-30T06:17:47Z three\n")
    assert [line.text for line in splitter.finish()] == ["one", "two"] and splitter.full
    open_ended = LineSplitter("stdout", Cursor(), max_lines=5, max_bytes=1 << 20)
    open_ended.add(b"2026-11-30T06:17:46Z no newline")
    assert [line.text for line in open_ended.finish()] == ["no newline"] and not open_ended.full
    small = LineSplitter("stdout", Cursor(), max_lines=5, max_bytes=30)
    small.add(b"2026-11-30T06:17:46Z one\n2026-11-30T06:17:46Z two\n")
    assert len(small.finish()) == 1 and small.full


def test_merged_interleaves_streams_by_time_and_keeps_the_last_tail():
    out = [Line(T0, "stdout", "o1"), Line(T0 + 2, "stdout", "o2")]
    err = [Line(T0 + 1, "stderr", "e1"), Line(T0 + 2, "stderr", "e2")]
    assert [l.text for l in merged({"stdout": out, "stderr": err}, -1)] == ["o1", "e1", "o2", "e2"]
    assert [l.text for l in merged({"stdout": out, "stderr": err}, 2)] == ["o2", "e2"]
    assert merged({"stdout": out}, 0) == []


def test_wire_forms_are_checked():
    assert Line.from_wire([1, "stdout", "x"]) == Line(1, "stdout", "x")
    assert Cursor.from_wire([5, 2]) == Cursor(5, 2)
    for bad in ([1, "stdin", "x"], [1, "stdout"], ["1", "stdout", "x"], None):
        with pytest.raises(ValueError):
            Line.from_wire(bad)
    for bad in ([-1, 0], [1], "x", [1, 2.5]):
        with pytest.raises(ValueError):
            Cursor.from_wire(bad)

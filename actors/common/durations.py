"""Go-style durations (``300ms``, ``1m30s``) as docker's CLI and the compose format write them."""

from __future__ import annotations

import re

from transport import limits

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
            "h": 3_600_000_000_000}


def parse_duration(text: str) -> int:
    """Nanoseconds in a Go-style duration (``300ms``, ``5s``, ``1m30s``, ``0``); ValueError if malformed."""
    text = text.strip()
    if text == "0":
        return 0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r}: use a number with a unit, e.g. 300ms, 5s, 1m30s")
    if total > limits.COUNT:
        raise ValueError(f"invalid duration {text!r}: at most {limits.COUNT // 3_600_000_000_000} hours")
    return int(total)

"""Text a human will read: what counts as printable, and how to show text that is not.

The store refuses control characters (terminal escapes among them) in the
strings an operator reads (names, hostnames, labels, messages); the CLI
still escapes whatever it prints, so an older store or a new field can never
reach a terminal raw.
"""

from __future__ import annotations

import unicodedata

# Categories never printed raw: controls (ESC, C1 controls...), format characters (bidi
# overrides, zero-width joiners), line/paragraph separators, surrogates, unassigned.
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
_ASCII_HIDDEN = bytes(range(0x20)) + b"\x7f"  # the hidden characters of ASCII: C0 controls and DEL


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def first_unprintable(text: str, allowed: str = "") -> int | None:
    """Index of the first character of ``text`` that is not printable (and not in ``allowed``), or None."""
    # Fast paths, at C speed: the store checks every string of every object on the Raft loop, and a
    # character-by-character loop over a 1 MiB object held that loop for most of a second. In ASCII
    # only the C0 controls and DEL are hidden; otherwise isprintable() is False for the hidden
    # categories and for non-ASCII spaces (Zs) only.
    if text.isascii():
        hidden = _ASCII_HIDDEN.translate(None, allowed.encode("ascii", "ignore")) if allowed else _ASCII_HIDDEN
        data = text.encode("ascii")
        if len(data.translate(None, hidden)) == len(data):
            return None
    elif (text.translate({ord(char): None for char in allowed}) if allowed else text).isprintable():
        return None
    for position, char in enumerate(text):
        if char not in allowed and _hidden(char):
            return position
    return None


def escaped(text: str) -> str:
    """``text`` with every unprintable character shown as a Python escape (``\\x1b``, ``\\n``, ``\\u202e``)."""
    if first_unprintable(text) is None:
        return text
    return "".join(char.encode("unicode_escape").decode("ascii") if _hidden(char) else char for char in text)


def clipped(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[:max(0, limit - 1)] + "…"

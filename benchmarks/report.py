"""Writing a benchmark's results into a Markdown file of several sections."""

from __future__ import annotations

import pathlib

NEXT_SECTION = ("\n## ", "\n<!--")  # what starts the section after this one: a heading, or a marker comment


def replace_section(path: pathlib.Path, heading: str, section: str) -> None:
    """Put ``section`` (which starts with the line ``heading``) in ``path`` in place of the section that
    starts with ``heading`` and runs to the next ``## `` heading or marker comment after its first line,
    or to the end; append it when there is none. Other sections are kept as they are."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(heading)
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")
        return
    line_end = text.find("\n", start)
    ends = [end for end in (text.find(mark, line_end + 1) for mark in NEXT_SECTION) if line_end >= 0 and end >= 0]
    rest = text[min(ends) + 1:] if ends else ""
    path.write_text(text[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else ""))

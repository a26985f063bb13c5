"""Where a compose file says something, and the one-line error naming it."""

from __future__ import annotations

Path = tuple  # a key path into the loaded document: ("services", "web", "ports", 0)


class ComposeError(ValueError):
    """A compose file Shoal refuses: one line naming the file, line and key."""


class Positions:
    """path -> (file, line) for every key and list item of the loaded files (the last file that wrote it)."""

    def __init__(self, marks: dict[Path, tuple[str, int]] | None = None):
        self.marks = dict(marks or {})

    def update(self, other: "Positions") -> None:
        """Take ``other``'s positions over ours (a later file overriding an earlier one)."""
        self.marks.update(other.marks)

    def where(self, path: Path) -> str:
        """``FILE:LINE: `` of ``path`` or of its nearest enclosing key written in a file ('' when none)."""
        for end in range(len(path), 0, -1):
            mark = self.marks.get(tuple(path[:end]))
            if mark:
                return f"{mark[0]}:{mark[1]}: "
        return ""

    def error(self, path: Path, message: str) -> ComposeError:
        """The error for ``message`` about the key at ``path``: ``FILE:LINE: a.b.c: message``."""
        dotted = ".".join(str(part) for part in path)
        return ComposeError(f"{self.where(path)}{dotted + ': ' if dotted else ''}{message}")

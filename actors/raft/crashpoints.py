"""Deliberate crashes at named points of the member's IO, to test recovery (off unless asked for).

A test starts a member with ``SHOAL_RAFT_CRASH_AT=POINT`` (and optionally
``SHOAL_RAFT_CRASH_AFTER=N``, default 1): the N-th time the member reaches
POINT it exits at once with :data:`CRASH_EXIT_CODE`, as if killed there,
without closing files or flushing anything.
"""

from __future__ import annotations

import os
from typing import Mapping

POINTS = (
    "before_persist",      # a Ready with entries, before anything of it is written
    "after_persist",       # right after the Ready is fsynced, before it is acknowledged or applied
    "snapshot_saved",      # the member's own snapshot is saved, the log not yet compacted
    "snapshot_installed",  # a leader's snapshot is persisted, the store not yet restored from it
)
CRASH_EXIT_CODE = 86


class CrashPoints:
    """Counts arrivals at the chosen point and exits at the chosen arrival."""

    def __init__(self, point: str | None = None, after: int = 1):
        if point is not None and point not in POINTS:
            raise ValueError(f"unknown crash point {point!r}: one of {', '.join(POINTS)}")
        self.point = point
        self._remaining = after

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "CrashPoints":
        """The crash point the environment asks for (none when SHOAL_RAFT_CRASH_AT is unset)."""
        return cls(environ.get("SHOAL_RAFT_CRASH_AT") or None, int(environ.get("SHOAL_RAFT_CRASH_AFTER", "1")))

    def reached(self, point: str) -> None:
        """Exit the process now if this is the arrival at ``point`` to crash on."""
        if point != self.point:
            return
        self._remaining -= 1
        if self._remaining <= 0:
            os._exit(CRASH_EXIT_CODE)

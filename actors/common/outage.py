"""A dependency that fails for a while and comes back (a full disk, a restarted Docker engine).

An actor keeps serving through such an outage and logs it twice: once when
it begins and once when it ends, never once per retry. :class:`Outage` is
that bookkeeping, with no IO.
"""

from __future__ import annotations


class Outage:
    """Whether the last attempt to use a dependency failed, and why."""

    def __init__(self) -> None:
        self.error: str | None = None  # the last failure, None while attempts succeed

    @property
    def ongoing(self) -> bool:
        """True while attempts fail."""
        return self.error is not None

    def failed(self, error: Exception) -> bool:
        """Record a failed attempt; True when it begins an outage (log it then)."""
        began = self.error is None
        self.error = str(error) or type(error).__name__
        return began

    def succeeded(self) -> bool:
        """Record a successful attempt; True when it ends an outage (log it then)."""
        ended = self.error is not None
        self.error = None
        return ended

"""The most a queue held at once within a recent window, for a gauge that a scrape cannot miss.

A queue that fills and drains between two scrapes shows 0 at both; its peak
over the last ``window`` seconds (at least one scrape interval) shows the
burst. :class:`WindowPeak` keeps two consecutive windows' maxima, so its
value is the peak of the last one to two windows, in constant memory and
time. The clock is passed in. One thread writes (:meth:`observe`); another may
read (:meth:`value`, from a scrape) without a lock: it only reads fields and
never writes them.
"""

from __future__ import annotations

PEAK_WINDOW = 15.0  # seconds a burst shows in a peak gauge: at least a usual scrape interval


class WindowPeak:
    """The largest level observed within the last ``window`` seconds (up to twice that). The caller takes
    the larger of it and the queue's level now (a level held longer than two windows is not remembered)."""

    def __init__(self, window: float, now: float):
        self._window = window
        self._start = now  # when the current window began
        self._current = 0  # peak of the current window
        self._previous = 0  # peak of the window before it

    def observe(self, level: int, now: float) -> None:
        """Note the queue's level ``level`` at ``now`` (at least whenever it grows)."""
        if now >= self._start + 2 * self._window:
            self._start, self._current, self._previous = now, 0, 0
        elif now >= self._start + self._window:
            self._start, self._current, self._previous = self._start + self._window, 0, self._current
        self._current = max(self._current, level)

    def value(self, now: float) -> int:
        """The peak observed within the last one to two windows before ``now`` (0 if none)."""
        if now < self._start + self._window:
            return max(self._current, self._previous)
        if now < self._start + 2 * self._window:
            return self._current
        return 0

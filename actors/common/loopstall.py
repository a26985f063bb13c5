"""How long an actor's event loop goes without running its tasks (a stall), measured from inside.

A watcher task sleeps a short interval again and again; whatever it wakes
late by is time the loop spent on something that did not yield (a long
encode, a synchronous write). The Raft member exports this, because a stall
longer than an election timeout makes followers start an election.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Gauge, Histogram

INTERVAL_SECONDS = 0.01
REPORT_SECONDS = 0.1  # a stall at least this long is logged as well


class LoopStallWatch:
    """Observes each stall into ``histogram``, keeps the longest one seen in ``longest``, and logs
    those of REPORT_SECONDS or more to ``log``."""

    def __init__(self, histogram: Histogram, longest: Gauge, log, interval: float = INTERVAL_SECONDS):
        self._histogram = histogram
        self._log = log
        self._longest = longest
        self._interval = interval
        self.max_stall = 0.0

    async def run(self) -> None:
        """Measure until cancelled."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(self._interval)
            stall = max(0.0, time.monotonic() - started - self._interval)
            self._histogram.observe(stall)
            if stall >= REPORT_SECONDS:
                self._log.warning("event loop stalled", seconds=round(stall, 3))
            if stall > self.max_stall:
                self.max_stall = stall
                self._longest.set(stall)

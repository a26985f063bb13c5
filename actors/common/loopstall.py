"""How long an actor's event loop goes without running its tasks (a stall), measured from inside.

A watcher task sleeps a short interval again and again; whatever it wakes
late by is time the loop spent on something that did not yield (a long
encode, a synchronous write), or time the process waited for a CPU on a busy
machine. The CPU time the loop's thread used during the stall tells the two
apart: work that holds the loop burns CPU (or waits for the disk), a starved
process does not. The Raft member exports both, because a stall longer than an
election timeout makes followers start an election.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Gauge, Histogram

INTERVAL_SECONDS = 0.05  # a stall shows as how late this timer runs (short of it by up to one interval)
REPORT_SECONDS = 0.1  # a stall at least this long is logged as well


class LoopStallWatch:
    """Observes each stall into ``histogram``; keeps the longest stall seen in ``longest`` and the most
    CPU time the loop's thread spent within one stall in ``longest_cpu``; logs stalls of REPORT_SECONDS
    or more to ``log``."""

    def __init__(self, histogram: Histogram, longest: Gauge, longest_cpu: Gauge, log,
                 interval: float = INTERVAL_SECONDS):
        self._histogram = histogram
        self._longest = longest
        self._longest_cpu = longest_cpu
        self._log = log
        self._interval = interval
        self.max_stall = 0.0
        self.max_stall_cpu = 0.0

    async def run(self) -> None:
        """Measure until cancelled."""
        while True:
            started, cpu_started = time.monotonic(), time.thread_time()
            await asyncio.sleep(self._interval)
            stall = max(0.0, time.monotonic() - started - self._interval)
            cpu = min(stall, time.thread_time() - cpu_started)
            self._histogram.observe(stall)
            if stall >= REPORT_SECONDS:
                self._log.warning("event loop stalled", seconds=round(stall, 3), cpu_seconds=round(cpu, 3))
            if stall > self.max_stall:
                self.max_stall = stall
                self._longest.set(stall)
            if cpu > self.max_stall_cpu:
                self.max_stall_cpu = cpu
                self._longest_cpu.set(cpu)

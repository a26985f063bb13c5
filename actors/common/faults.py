"""Fault injection for tests, off unless the actor starts with SHOAL_FAULT_INJECTION=1.

The Raft member's ``faults`` request cuts it off from chosen peers; an
executor cuts itself off from every dispatcher on SIGUSR1 and comes back on
SIGUSR2 (:class:`DispatcherCut`), while its containers keep running.
"""

from __future__ import annotations

import asyncio
import os
import signal

FAULT_INJECTION_ENV = "SHOAL_FAULT_INJECTION"


def enabled() -> bool:
    """True when this process was started with fault injection on."""
    return os.environ.get(FAULT_INJECTION_ENV) == "1"


class DispatcherCut:
    """Whether an executor is cut off from the managers; SIGUSR1 cuts, SIGUSR2 heals (when enabled)."""

    def __init__(self, log):
        self.cut = False
        self._log = log

    def install(self) -> None:
        """Listen for the signals on the running loop, if fault injection is enabled."""
        if not enabled():
            return
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self._set, True)
        loop.add_signal_handler(signal.SIGUSR2, self._set, False)

    def _set(self, cut: bool) -> None:
        self.cut = cut
        self._log.warning("fault injection", cut_off_from_managers=cut)

"""Restart back-off for supervised actors: a pure policy, the supervisor does the waiting."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Backoff:
    """Delay before restarting a crashed actor: doubles per quick crash, resets after a healthy run.

    ``initial`` is the first delay, ``maximum`` the cap; a run that lasted at
    least ``healthy_after`` seconds counts as healthy and resets the delay.
    """

    initial: float = 0.1
    maximum: float = 5.0
    healthy_after: float = 10.0
    _next: float = dataclasses.field(default=0.0, init=False)

    def delay_after_exit(self, ran_for: float) -> float:
        """Seconds to wait before the next start, given how long the last run lasted."""
        if ran_for >= self.healthy_after or self._next == 0.0:
            self._next = self.initial
        else:
            self._next = min(self._next * 2, self.maximum)
        return self._next

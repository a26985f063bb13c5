"""A service's restart policy: whether, and from when, a task that ended may be replaced.

Docker's ``RestartPolicy``: ``Condition`` ``any`` (default) | ``on-failure`` |
``none``, ``Delay`` in nanoseconds (default 5 s; 0 is honoured),
``MaxAttempts`` (0 = unlimited) and ``Window`` in nanoseconds. Without a
window every restart of the slot counts against ``MaxAttempts`` (the task's
``Shoal.Attempt``); with one, as in Docker, only the restarts within the last
``Window`` before the decision do. Their moments travel from task to task in
``Shoal.Restarts`` (epoch seconds, the most recent ``MaxAttempts`` only),
since the history that would show them is trimmed to a few tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.common.jobs import completed
from actors.common.viewindex import attempt_of
from transport import limits, schema

ANY = "any"
ON_FAILURE = "on-failure"
NONE = "none"
DEFAULT_DELAY_NS = 5_000_000_000


@dataclass(frozen=True)
class RestartPolicy:
    """The restart rules of one service."""

    condition: str = ANY
    delay: float = DEFAULT_DELAY_NS / 1e9
    max_attempts: int = 0
    window: float = 0.0

    @classmethod
    def of(cls, service: dict) -> "RestartPolicy":
        """The policy in ``service``'s ``Spec.TaskTemplate.RestartPolicy``, with Docker's defaults."""
        spec = schema.get_path(service, "Spec.TaskTemplate.RestartPolicy") or {}
        return cls(condition=spec.get("Condition") or ANY,
                   delay=_whole(spec.get("Delay"), DEFAULT_DELAY_NS) / 1e9,
                   max_attempts=_whole(spec.get("MaxAttempts"), 0),
                   window=_whole(spec.get("Window"), 0) / 1e9)

    def refusal(self, task: dict, now: float) -> str | None:
        """Why the ended ``task`` must not be replaced at ``now``, or None when the policy allows it."""
        if self.condition == NONE:
            return "restart policy is none"
        if self.condition == ON_FAILURE and completed(task):
            return "task completed and restart policy is on-failure"
        if self.max_attempts > 0 and self.restarts_counted(task, now) >= self.max_attempts:
            within = f" within {self.window:g}s" if self.window else ""
            return f"restart policy allows at most {self.max_attempts} attempts{within}"
        return None

    def restarts_counted(self, task: dict, now: float) -> int:
        """How many restarts of ``task``'s slot count against ``MaxAttempts`` at ``now``: all of them
        without a window, else those of the last ``Window`` seconds."""
        if not self.window:
            return attempt_of(task)
        return len(self._recent_restarts(task, now))

    def restarts_after(self, task: dict, now: float) -> list[float]:
        """The ``Shoal.Restarts`` of the task that replaces ``task`` by a restart at ``now``: the moments
        that may still count against ``MaxAttempts`` (none without a window or a maximum)."""
        if not self.window or not self.max_attempts:
            return []
        return (self._recent_restarts(task, now) + [now])[-min(self.max_attempts, limits.LIST_ITEMS):]

    def _recent_restarts(self, task: dict, now: float) -> list[float]:
        return [moment for moment in restarts_of(task) if moment > now - self.window]

    def restart_at(self, task: dict) -> float:
        """The earliest moment (store time, epoch seconds) the ended ``task`` may be replaced: ``Delay``
        after the store recorded its end. That is the task's ``UpdatedAt``, stamped from the cluster
        clock (actors/common/clock.py), since nothing writes an ended task before it is replaced; the
        ``Status.Timestamp`` the worker reported follows that worker's wall clock, which may be off."""
        ended_at = task.get("UpdatedAt") or schema.get_path(task, "Status.Timestamp") or ""
        return schema.stored_time(ended_at) + self.delay


def _whole(value, default: int) -> int:
    """``value`` when it is a whole number >= 0, else ``default``: the store validates policies
    (transport/model.py), but one written before it did must cost a delay, never the orchestrator's loop."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def restarts_of(task: dict) -> list[float]:
    """The restart moments recorded on ``task`` (``Shoal.Restarts``, oldest first; empty when none)."""
    moments = schema.get_path(task, "Shoal.Restarts") or []
    return [moment for moment in moments if isinstance(moment, (int, float)) and not isinstance(moment, bool)]

"""A service's restart policy: whether, and from when, a task that ended may be replaced.

Docker's ``RestartPolicy``: ``Condition`` ``any`` (default) | ``on-failure`` |
``none``, ``Delay`` in nanoseconds (default 5 s; 0 is honoured) and
``MaxAttempts`` (0 = unlimited) counted by the task's ``Shoal.Attempt``.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.common.viewindex import attempt_of, observed_state
from transport import schema

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

    @classmethod
    def of(cls, service: dict) -> "RestartPolicy":
        """The policy in ``service``'s ``Spec.TaskTemplate.RestartPolicy``, with Docker's defaults."""
        spec = schema.get_path(service, "Spec.TaskTemplate.RestartPolicy") or {}
        return cls(condition=spec.get("Condition") or ANY,
                   delay=_whole(spec.get("Delay"), DEFAULT_DELAY_NS) / 1e9,
                   max_attempts=_whole(spec.get("MaxAttempts"), 0))

    def refusal(self, task: dict) -> str | None:
        """Why the ended ``task`` must not be replaced, or None when the policy allows it."""
        if self.condition == NONE:
            return "restart policy is none"
        if self.condition == ON_FAILURE and succeeded(task):
            return "task completed and restart policy is on-failure"
        if self.max_attempts > 0 and attempt_of(task) >= self.max_attempts:
            return f"restart policy allows at most {self.max_attempts} attempts"
        return None

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


def succeeded(task: dict) -> bool:
    """True if the task completed with exit code 0 (or none reported)."""
    exit_code = schema.get_path(task, "Status.ContainerStatus.ExitCode")
    return observed_state(task) == schema.COMPLETE and not exit_code

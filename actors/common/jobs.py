"""Jobs (``replicated-job``, ``global-job``): the facts the orchestrator and the control API share.

A job's tasks run to completion. Each run of a job is an *iteration*:
``JobStatus.JobIteration.Index`` (the control API sets it at create and bumps
it on every update); each task records the iteration it belongs to in its own
``JobIteration``. A task is *completed* when it exited 0; completed tasks are
never run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.common.viewindex import observed_state, wants_running
from transport import schema

JOB_MODES = ("replicated-job", "global-job")


def is_job(service: dict) -> bool:
    """True if ``service`` runs to completion (``replicated-job`` or ``global-job``)."""
    return schema.service_mode(service) in JOB_MODES


def iteration(service: dict) -> int:
    """The job's current iteration (0 before the control API wrote one)."""
    return int(schema.get_path(service, "JobStatus.JobIteration.Index", 0) or 0)


def task_iteration(task: dict) -> int:
    """The iteration ``task`` was created for (0 when it records none)."""
    return int(schema.get_path(task, "JobIteration.Index", 0) or 0)


def completed(task: dict) -> bool:
    """True if the task ran to completion: observed ``complete`` with exit code 0 (or none reported)."""
    return observed_state(task) == schema.COMPLETE and not schema.get_path(task, "Status.ContainerStatus.ExitCode")


def replicated_limits(service: dict) -> tuple[int, int]:
    """``(MaxConcurrent, TotalCompletions)`` of a replicated job, with Docker's defaults (1, and
    MaxConcurrent for TotalCompletions)."""
    mode = schema.get_path(service, "Spec.Mode.ReplicatedJob") or {}
    concurrent = mode.get("MaxConcurrent") or 1
    return concurrent, mode.get("TotalCompletions") or concurrent


@dataclass(frozen=True)
class Progress:
    """Where a job's current iteration stands, as ``service ls`` shows it."""

    desired: int     # tasks of the iteration still meant to run to completion
    completed: int   # tasks of the iteration that completed
    total: int       # completions the iteration needs (desired + completed for a global job)


def progress(service: dict, tasks: list[dict]) -> Progress:
    """The progress of ``service``'s current iteration, from its ``tasks``."""
    current = [task for task in tasks if task_iteration(task) == iteration(service)]
    done = sum(1 for task in current if completed(task))
    desired = sum(1 for task in current if wants_running(task) and not schema.is_terminal(observed_state(task)))
    if schema.service_mode(service) == "replicated-job":
        return Progress(desired, done, replicated_limits(service)[1])
    return Progress(desired, done, desired + done)

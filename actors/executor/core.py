"""The executor's decisions, apart from Docker and the clock.

:func:`decide` compares the node's assigned tasks with the containers the
engine shows and with the statuses already reported, and returns the
actions that move each task forward (Swarm's semantics: a task never moves
backwards, terminal states are final, a desired state past ``running``
stops the container). :func:`perform` carries out one action against an
engine and says which status reports follow from it. Calling :func:`decide`
again after the actions' effects are visible yields nothing new, so the
actor may call it on every event and timer.
"""

from __future__ import annotations

import dataclasses

from transport import schema

STOP_TIMEOUT = 10


@dataclasses.dataclass(frozen=True)
class ObservedContainer:
    """What the engine says about one container of this node."""

    task_id: str
    container_id: str
    state: str  # created | running | exited | dead | removing | paused | restarting
    exit_code: int | None = None
    pid: int = 0
    error: str = ""


@dataclasses.dataclass(frozen=True)
class Prepare:
    """Create and start the task's container."""

    task: dict

    @property
    def task_id(self) -> str:
        return self.task["ID"]


@dataclasses.dataclass(frozen=True)
class ContainerAction:
    """An action on an existing container of a task."""

    task_id: str
    container_id: str


class Start(ContainerAction):
    """Start an existing, never-started container of the task."""


class Stop(ContainerAction):
    """Stop the task's running container (its desired state is past running)."""


class Remove(ContainerAction):
    """Remove a container whose task is gone from the node's assignments or desired ``remove``."""


@dataclasses.dataclass(frozen=True)
class Report:
    """Tell the managers the task's new status."""

    task_id: str
    status: dict


def container_status(container: ObservedContainer) -> dict:
    """Docker's ``ContainerStatus`` block for a task status."""
    status = {"ContainerID": container.container_id, "PID": container.pid}
    if container.exit_code is not None:
        status["ExitCode"] = container.exit_code
    return status


def running_status(container: ObservedContainer, now: float) -> dict:
    """Status of a task whose container runs."""
    return schema.task_status(schema.RUNNING, "started", now, ContainerStatus=container_status(container))


def exited_status(container: ObservedContainer, now: float) -> dict:
    """Status of a task whose container has exited: complete on 0, failed otherwise."""
    code = container.exit_code if container.exit_code is not None else -1
    if code == 0:
        return schema.task_status(schema.COMPLETE, "finished", now, ContainerStatus=container_status(container))
    err = container.error or f"task: non-zero exit ({code})"
    return schema.task_status(schema.FAILED, f"task: non-zero exit ({code})", now, err=err,
                              ContainerStatus=container_status(container))


def rejected_status(message: str, now: float) -> dict:
    """Status of a task the engine refused to create or start."""
    return schema.task_status(schema.REJECTED, "preparing failed", now, err=message)


def _known_state(task: dict, reported: dict[str, dict]) -> str:
    """The furthest state known for the task: the store's or the last one we reported."""
    states = [task["Status"]["State"]]
    if task["ID"] in reported:
        states.append(reported[task["ID"]]["State"])
    return max(states, key=schema.state_rank)


def decide(assigned: list[dict], observed: list[ObservedContainer], reported: dict[str, dict],
           now: float) -> list:
    """Actions that move each assigned task toward its desired state.

    ``reported`` maps task id -> the last status this executor reported.
    Containers of tasks no longer assigned are stopped and removed.
    """
    by_task: dict[str, ObservedContainer] = {}
    for container in observed:
        by_task.setdefault(container.task_id, container)
    actions: list = []
    assigned_ids = set()
    for task in assigned:
        assigned_ids.add(task["ID"])
        actions.extend(_decide_task(task, by_task.get(task["ID"]), _known_state(task, reported), now))
    for container in observed:
        if container.task_id not in assigned_ids:
            actions.append(Remove(container.task_id, container.container_id))
    return actions


def _decide_task(task: dict, container: ObservedContainer | None, known: str, now: float) -> list:
    desired = task.get("DesiredState", schema.RUNNING)
    if schema.state_rank(desired) > schema.state_rank(schema.RUNNING):
        return _decide_stopping(task, container, known, desired, now)
    if schema.is_terminal(known):
        return []
    if container is None:
        if schema.state_rank(known) >= schema.state_rank(schema.STARTING):
            return [Report(task["ID"], schema.task_status(schema.FAILED, "container removed", now,
                                                          err="task: container was removed"))]
        return [Prepare(task)]
    if container.state == "running":
        return [] if known == schema.RUNNING else [Report(task["ID"], running_status(container, now))]
    if container.state == "created":
        return [Start(task["ID"], container.container_id)]
    if container.state in ("exited", "dead"):
        return [Report(task["ID"], exited_status(container, now))]
    return []  # paused/restarting/removing: transient, look again on the next event


def _decide_stopping(task: dict, container: ObservedContainer | None, known: str, desired: str, now: float) -> list:
    actions: list = []
    if container is not None and container.state in ("running", "paused", "restarting"):
        return [Stop(task["ID"], container.container_id)]
    if not schema.is_terminal(known):
        actions.append(Report(task["ID"], schema.task_status(schema.SHUTDOWN, "shutdown", now,
                                                             **({"ContainerStatus": container_status(container)}
                                                                if container else {}))))
    if desired == schema.REMOVE and container is not None and container.state != "removing":
        actions.append(Remove(task["ID"], container.container_id))
    return actions


def perform(action, engine, now: float) -> list[Report]:
    """Carry out ``action`` with ``engine``; returns the reports that follow from it.

    Raises the engine's EngineError; :func:`failure_reports` says what a
    failure of that action means for the task.
    """
    if isinstance(action, Prepare):
        container_id = engine.create(action.task)
        engine.start(container_id)
        return [Report(action.task_id, running_status(engine.observe(container_id), now))]
    if isinstance(action, Start):
        engine.start(action.container_id)
        return [Report(action.task_id, running_status(engine.observe(action.container_id), now))]
    if isinstance(action, Stop):
        engine.stop(action.container_id, STOP_TIMEOUT)
        observed = engine.observe(action.container_id)
        return [Report(action.task_id, schema.task_status(schema.SHUTDOWN, "shutdown", now,
                                                          ContainerStatus=container_status(observed)))]
    if isinstance(action, Remove):
        engine.remove(action.container_id)
        return []
    raise TypeError(f"not an engine action: {action!r}")


def failure_reports(action, message: str, now: float) -> list[Report]:
    """Reports for an action the engine refused: creating or starting rejects the task;
    a failed stop or remove is retried on the next pass, so it reports nothing."""
    if isinstance(action, (Prepare, Start)):
        return [Report(action.task_id, rejected_status(message, now))]
    return []

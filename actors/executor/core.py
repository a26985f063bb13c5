"""The executor's decisions, apart from Docker and the clock.

:func:`decide` compares the node's assigned tasks with the containers the
engine shows (labelled with this node) and with the statuses this executor
already reported, and returns the actions that move each task toward its
desired state, with Swarm's semantics:

- a task never moves backwards and a terminal state is final;
- a container labelled with a task's id is that task's container: after an
  executor restart it is adopted (never duplicated; the engine also refuses a
  second container of the same name, and the name holds the task id);
- a desired state past ``running`` stops the container and reports
  ``shutdown``; desired ``remove``, or a task no longer assigned, also
  removes the container, once it has stopped;
- a task on a network is in its services' rotation (VIPs, the routing mesh,
  DNS) until its desired state leaves ``running``; every host then drops
  it, so its stop waits DRAIN_SECONDS from when this executor first saw it
  leave (:func:`stopping_since`), and no host still sends it new
  connections when it stops taking them;
- a status is reported only when it moves the task forward of what the store
  or this executor already says, so calling :func:`decide` again with the
  same view yields no new reports.

Engine actions (Create, Start, Stop, Remove) are repeated by :func:`decide`
until their effect is observed, so the caller keeps at most one action per
task in flight and leaves the other decisions about a busy task for a later
pass (:func:`startable`); actions on different tasks run concurrently, each in
its :func:`lane`, so a slow stop never delays a start.

A task whose spec references secrets or configs first gets their data
(:class:`Fetch`, the dispatcher's ``task_data``); its Create then carries the
files (actors/executor/taskfiles.py), which the engine adapter keeps on the
host only while a container may use them: :class:`DropFiles` removes them
once the task's container has exited or is gone, or its task will never get
one (:func:`files_needed`), after an executor restart too.

A container with a health check (the spec's or its image's) reports its task
``starting`` while its health is starting, ``running`` once healthy and
``failed`` once unhealthy, as Swarm does; the health goes along in the
report's ``Health`` (the task's ``Shoal.Health``).

:func:`perform` carries out one engine action through an engine adapter (an
object with ``create``, ``start``, ``stop``, ``remove`` and ``inspect``) and
returns the reports its outcome implies; :func:`failure_reports` says what an
action the engine refused means for its task. Nothing here reads a clock:
``now`` is passed in.
"""

from __future__ import annotations

import dataclasses

from actors.executor import taskfiles
from transport import schema

STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL, Docker's default stop grace period
# Seconds a task on a network keeps running once desired to stop, while every host takes it out of
# rotation (the new network state reaches each host and is programmed within a second).
DRAIN_SECONDS = 1.0
UNHEALTHY_ERR = "dockerexec: unhealthy container"  # Docker's words for a task failed by its health check

LIVE_STATES = frozenset(("running", "paused", "restarting"))  # engine states that need a stop
EXITED_STATES = frozenset(("exited", "dead"))


@dataclasses.dataclass(frozen=True)
class ObservedContainer:
    """What the engine says about one container of this node.

    ``state`` is the engine's: created | running | exited | dead | removing |
    paused | restarting. ``error`` is the engine's error for a container it
    could not start. Times are epoch seconds, 0.0 when unknown. ``health``
    is the engine's health status (starting | healthy | unhealthy), "" for a
    container without a health check. ``stop_timeout`` is the stop grace
    period the container was created with (seconds), None when unset.
    """

    task_id: str
    container_id: str
    state: str
    exit_code: int = 0
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    pid: int = 0
    health: str = ""
    stop_timeout: int | None = None


@dataclasses.dataclass(frozen=True)
class Create:
    """Create the task's container and start it at once (one action: one pass per new task), with its
    secret and config ``files`` (taskfiles.TaskFile) put in place first."""

    task: dict
    files: tuple = ()

    @property
    def task_id(self) -> str:
        """The id of the task the container is for."""
        return self.task["ID"]


@dataclasses.dataclass(frozen=True)
class Fetch:
    """Get the data of the secrets and configs the task references from the dispatcher (not an engine
    action: the actor asks, and keeps the answer in memory for the task's Create)."""

    task: dict

    @property
    def task_id(self) -> str:
        """The id of the task whose data is fetched."""
        return self.task["ID"]


@dataclasses.dataclass(frozen=True)
class DropFiles:
    """Remove the task's secret and config files from the host (its tmpfs): no container needs them."""

    task_id: str


@dataclasses.dataclass(frozen=True)
class ContainerAction:
    """An action on an existing container; ``task_id`` is the task its labels name."""

    task_id: str
    container_id: str


class Start(ContainerAction):
    """Start a created, never-started container (one adopted after an executor restart)."""


@dataclasses.dataclass(frozen=True)
class Stop(ContainerAction):
    """Stop a live container: its stop signal, then SIGKILL after ``timeout`` seconds. With
    ``reports``, the action itself reports the task shut down once the container has stopped, rather
    than leaving it to the next observation (which may wait for the engine's bookkeeping of many exits)."""

    timeout: int = STOP_TIMEOUT
    reports: bool = False


class Remove(ContainerAction):
    """Remove a stopped container of a task desired ``remove`` or no longer assigned."""


@dataclasses.dataclass(frozen=True)
class Report:
    """Tell the managers the task's new ``Status`` (a :func:`transport.schema.task_status` dict)."""

    task_id: str
    status: dict


# -- statuses ------------------------------------------------------------------

def container_status(container: ObservedContainer) -> dict:
    """Docker's ``ContainerStatus`` block of a task status."""
    return {"ContainerID": container.container_id, "PID": container.pid, "ExitCode": container.exit_code}


def _observed_time(container: ObservedContainer, now: float) -> float:
    """When the container reached its state, as the engine recorded it; ``now`` if unrecorded."""
    moment = container.finished_at if container.state in EXITED_STATES else container.started_at
    return moment if moment > 0 else now


def exited_status(container: ObservedContainer, now: float) -> dict:
    """Status of a task whose container has exited: ``complete`` on code 0, ``failed`` otherwise."""
    code = container.exit_code
    moment = _observed_time(container, now)
    if code == 0:
        return schema.task_status(schema.COMPLETE, "finished", moment, ContainerStatus=container_status(container))
    return schema.task_status(schema.FAILED, f"task exited with non-zero code {code}", moment,
                              err=f"task: non-zero exit ({code})", ContainerStatus=container_status(container))


def rejected_status(message: str, err: str, now: float) -> dict:
    """Status of a task the engine refused to create or start; ``err`` is the engine's explanation."""
    return schema.task_status(schema.REJECTED, message, now, err=err)


def running_status(container: ObservedContainer, now: float) -> dict:
    """Status of a task whose container runs, by its health: without a health check or healthy ->
    running; health starting -> starting; unhealthy -> failed with Docker's error. A healthy task's
    running time is ``now``, when it was seen healthy, not the container's start: an update's Delay
    and Monitor windows count from when the task could serve."""
    moment = now if container.health == "healthy" else _observed_time(container, now)
    extra = {"ContainerStatus": container_status(container)}
    if container.health:
        extra["Health"] = container.health
    if container.health == "starting":
        return schema.task_status(schema.STARTING, "starting", moment, **extra)
    if container.health == "unhealthy":
        return schema.task_status(schema.FAILED, "unhealthy container", now, err=UNHEALTHY_ERR, **extra)
    return schema.task_status(schema.RUNNING, "started", moment, **extra)


def observed_status(container: ObservedContainer, now: float) -> dict | None:
    """The task status a container's engine state shows, or None while it says nothing new.

    running -> :func:`running_status`; exited or dead -> complete or failed by
    exit code; created with an engine error (a start that failed) -> rejected;
    created, paused, restarting or removing -> None.
    """
    if container.state == "running":
        return running_status(container, now)
    if container.state in EXITED_STATES:
        return exited_status(container, now)
    if container.state == "created" and container.error:
        return rejected_status("starting failed", container.error, now)
    return None


def shutdown_status(container: ObservedContainer | None, now: float) -> dict:
    """Status of a task stopped because its desired state is past running."""
    if container is None:
        return schema.task_status(schema.SHUTDOWN, "shutdown", now)
    return schema.task_status(schema.SHUTDOWN, "shutdown", _observed_time(container, now),
                              ContainerStatus=container_status(container))


def vanished_status(now: float) -> dict:
    """Status of a started task whose container is gone (removed behind the executor's back)."""
    return schema.task_status(schema.FAILED, "container removed", now, err="task: container was removed")


# -- decisions -----------------------------------------------------------------

def known_state(task: dict, reported: dict[str, dict]) -> str:
    """The furthest state known for the task: the store's or the last one this executor reported."""
    states = [schema.get_path(task, "Status.State", schema.ASSIGNED)]
    if task["ID"] in reported:
        states.append(reported[task["ID"]]["State"])
    return max(states, key=schema.state_rank)


def _is_beyond(state: str, known: str) -> bool:
    return schema.state_rank(state) > schema.state_rank(known)


def _report_if_new(task_id: str, status: dict | None, known: str) -> list[Report]:
    """A report of ``status`` if it moves the task forward of ``known``, else nothing."""
    if status is None or not _is_beyond(status["State"], known):
        return []
    return [Report(task_id, status)]


def decide(assigned: list[dict], observed: list[ObservedContainer], reported: dict[str, dict],
           now: float, held: frozenset[str] = frozenset(), fetched: dict[str, tuple] | None = None,
           with_files: frozenset[str] = frozenset()) -> list:
    """Actions that move the node's tasks and containers toward their desired states.

    ``assigned`` is the node's assignment set (store task dicts), ``observed``
    the engine's containers labelled with this node, ``reported`` maps task id
    to the last status this executor reported, ``held`` the tasks whose
    container keeps running for now while they drain (:func:`draining`),
    ``fetched`` maps task id to the files of its secrets and configs already
    fetched, ``with_files`` names the tasks whose files are on the host.
    Returns Report, Fetch, Create, Start, Stop, Remove and DropFiles actions,
    at most one action per task besides its reports.
    """
    fetched = fetched or {}
    containers = {container.task_id: container for container in observed}
    tasks = {task["ID"]: task for task in assigned}
    actions: list = []
    for task in assigned:
        container = containers.get(task["ID"])
        if task["ID"] in held and container is not None and container.state in LIVE_STATES:
            continue
        actions.extend(decide_task(task, container, known_state(task, reported), now, fetched.get(task["ID"])))
    for container in observed:
        if container.task_id not in tasks:
            actions.extend(decide_unassigned(container))
    acting = {action.task_id for action in actions if not isinstance(action, Report)}
    for task_id in sorted(with_files - acting):
        task = tasks.get(task_id)
        if not files_needed(task, containers.get(task_id), known_state(task, reported) if task else schema.REMOVE):
            actions.append(DropFiles(task_id))
    return actions


def fetched_kept(fetched: dict[str, tuple], assigned: dict[str, dict]) -> dict[str, tuple]:
    """The fetched files (task id -> files) still to be handed to a Create: those of tasks still assigned
    (``assigned``: by id) and not told to stop; the rest is forgotten."""
    return {task_id: files for task_id, files in fetched.items()
            if task_id in assigned and not is_stopping(assigned[task_id])}


def files_needed(task: dict | None, container: ObservedContainer | None, known: str) -> bool:
    """True while a task's secret and config files may still be used: its container is live or created
    (and may start), or it has none yet and ``task`` (None: no longer assigned) is to run and has not
    ended (``known``: its furthest known state)."""
    if container is not None:
        return container.state in LIVE_STATES or (container.state == "created" and not container.error)
    return task is not None and not is_stopping(task) and not schema.is_terminal(known)


def is_stopping(task: dict) -> bool:
    """True when the task's desired state is past ``running``."""
    return _is_beyond(task.get("DesiredState", schema.RUNNING), schema.RUNNING)


def stopping_since(assigned: list[dict], known: dict[str, float], now: float) -> dict[str, float]:
    """Task id -> when this executor first saw it desired to stop, for the assigned tasks on a network
    that are: ``known`` (the last result) carried over, ``now`` for the newly seen."""
    return {task["ID"]: known.get(task["ID"], now) for task in assigned
            if is_stopping(task) and task.get("NetworksAttachments")}


def draining(since: dict[str, float], now: float) -> frozenset[str]:
    """The tasks of ``since`` (:func:`stopping_since`) still draining at ``now``: their container keeps
    running until DRAIN_SECONDS after they were first seen desired to stop."""
    return frozenset(task_id for task_id, moment in since.items() if now < moment + DRAIN_SECONDS)


def decide_task(task: dict, container: ObservedContainer | None, known: str, now: float,
                files: tuple | None = None) -> list:
    """Actions for one assigned task, given its container (or None), its furthest known state and the
    files of its secrets and configs (None until fetched)."""
    desired = task.get("DesiredState", schema.RUNNING)
    if is_stopping(task):
        return decide_stopping(task["ID"], container, known, desired, now)
    if schema.is_terminal(known):
        return []
    if container is None:
        return decide_missing(task, known, now, files)
    if container.state == "created" and not container.error:
        return decide_created(task["ID"], container, known, now)
    return _report_if_new(task["ID"], observed_status(container, now), known)


def decide_created(task_id: str, container: ObservedContainer, known: str, now: float) -> list:
    """A created, never-started container of a live task (adopted after a restart): start it."""
    starting = schema.task_status(schema.STARTING, "starting", now)
    return _report_if_new(task_id, starting, known) + [Start(task_id, container.container_id)]


def decide_missing(task: dict, known: str, now: float, files: tuple | None = None) -> list:
    """A live task without a container: create one, unless it was started before (then it failed); a task
    with secrets or configs first fetches their data (``files``: None until fetched)."""
    if schema.state_rank(known) >= schema.state_rank(schema.STARTING):
        return [Report(task["ID"], vanished_status(now))]
    accepted = _report_if_new(task["ID"], schema.task_status(schema.ACCEPTED, "accepted", now), known)
    if files is None and taskfiles.wanted(task):
        return accepted + [Fetch(task)]
    return accepted + [Create(task, files or ())]


def decide_stopping(task_id: str, container: ObservedContainer | None, known: str, desired: str,
                    now: float) -> list:
    """A task desired ``shutdown`` or ``remove``: stop its container, then report shutdown and
    (for ``remove``) remove the container."""
    if container is not None and container.state in LIVE_STATES:
        return [stop(container, reports=not schema.is_terminal(known))]
    actions: list = []
    if not schema.is_terminal(known):
        actions.append(Report(task_id, shutdown_status(container, now)))
    if desired == schema.REMOVE and container is not None and container.state != "removing":
        actions.append(Remove(task_id, container.container_id))
    return actions


def stop(container: ObservedContainer, reports: bool = False) -> Stop:
    """The Stop of a live container, with the grace period it was created with (Docker's default if
    none); ``reports``: the Stop reports its task shut down."""
    timeout = STOP_TIMEOUT if container.stop_timeout is None else container.stop_timeout
    return Stop(container.task_id, container.container_id, timeout, reports)


def decide_unassigned(container: ObservedContainer) -> list:
    """A container whose task is no longer assigned to this node: stop it, then remove it."""
    if container.state in LIVE_STATES:
        return [stop(container)]
    if container.state == "removing":
        return []
    return [Remove(container.task_id, container.container_id)]


def stop_grace_seconds(task: dict) -> int:
    """The task's stop grace period in whole seconds (the engine's unit, truncated as Swarm does):
    ``ContainerSpec.StopGracePeriod`` (nanoseconds), Docker's 10 s when unset."""
    grace = schema.get_path(task, "Spec.ContainerSpec.StopGracePeriod")
    return STOP_TIMEOUT if grace is None else max(0, grace) // 1_000_000_000


# -- scheduling engine actions ----------------------------------------------------

STOPS, STARTS = "stops", "starts"


def lane(action) -> str:
    """The lane an engine action waits in: Stop, Remove and DropFiles in ``stops``, Create and Start in
    ``starts``; each lane has its own bound on actions in flight, so however many slow stops
    fill theirs, creates and starts still go ahead."""
    return STOPS if isinstance(action, (Stop, Remove, DropFiles)) else STARTS


def startable(actions: list, busy: set[str]) -> tuple[list[Report], list]:
    """``actions`` split into (reports, engine actions), leaving out every action of a task in
    ``busy`` (one with an engine action in flight, or whose action ended while the containers were
    observed): what was decided about such a task may be stale, and a later pass decides again."""
    fresh = [action for action in actions if action.task_id not in busy]
    return [a for a in fresh if isinstance(a, Report)], [a for a in fresh if not isinstance(a, Report)]


# -- carrying out engine actions -------------------------------------------------

def perform(action, engine, now: float) -> list[Report]:
    """Carry out engine ``action`` with ``engine``; returns the reports its outcome implies.

    Create puts the task's files in place (the engine's ``put_task_files``)
    and makes the container with their mounts; Create and Start report what
    the started container shows (normally running); a Stop with ``reports`` reports its task shut down, another
    Stop's outcome is reported from the next observation (the engine's
    ``die`` event prompts it), and a Remove or DropFiles reports nothing. Raises
    whatever the engine raises (EngineError); see :func:`failure_reports`.
    """
    if isinstance(action, Create):
        mounts = engine.put_task_files(action.task_id, action.files) if action.files else []
        container_id = engine.create(action.task, mounts)
        engine.start(container_id)
        return _reports_of(action.task_id, engine.inspect(container_id), now)
    if isinstance(action, Start):
        engine.start(action.container_id)
        return _reports_of(action.task_id, engine.inspect(action.container_id), now)
    if isinstance(action, Stop):
        engine.stop(action.container_id, action.timeout)
        if not action.reports:
            return []
        return [Report(action.task_id, shutdown_status(engine.inspect(action.container_id), now))]
    if isinstance(action, Remove):
        engine.remove(action.container_id)
        return []
    if isinstance(action, DropFiles):
        engine.drop_task_files(action.task_id)
        return []
    raise TypeError(f"not an engine action: {action!r}")


def _reports_of(task_id: str, container: ObservedContainer, now: float) -> list[Report]:
    status = observed_status(container, now)
    return [Report(task_id, status)] if status else []


def failure_reports(action, message: str, now: float) -> list[Report]:
    """Reports for an engine action that failed with the engine's ``message``.

    A failed Create or Start rejects the task (``Err`` is the engine's
    message); a failed Stop, Remove or DropFiles reports nothing and is
    decided again on the next pass.
    """
    if isinstance(action, Create):
        return [Report(action.task_id, rejected_status("preparing failed", message, now))]
    if isinstance(action, Start):
        return [Report(action.task_id, rejected_status("starting failed", message, now))]
    return []


# Why a task's data could not be fetched, when asking again may do: the dispatcher's view lags (the task
# is not there yet), the session is being renewed, the dispatcher has no data key yet or did not answer.
FETCH_RETRIED = frozenset({"not_found", "unknown_session", "unavailable", "timeout"})


def fetch_failure_reports(task_id: str, code: str, message: str, now: float) -> list[Report]:
    """Reports for a Fetch the dispatcher refused with ``code``: none when it is asked again later
    (FETCH_RETRIED), else the task is rejected with the dispatcher's ``message`` (the task is not this
    node's, a secret it references is gone ...)."""
    if code in FETCH_RETRIED:
        return []
    return [Report(task_id, rejected_status("preparing failed", message, now))]

"""Convergence progress like docker's ``service create|update|rollback``: one bar per slot (or node),
redrawn until every task runs the service's current spec.

:func:`picture` is pure: the service and its tasks -> the lines to show and
whether the service converged. A task counts once it runs the current
spec (actors/common/taskspec.py, the orchestrator's rule), so an update's progress
counts replaced tasks. :func:`follow` polls the control API and draws the
pictures; an update that pauses or rolls back ends it with an error, as
docker's does.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import click

from actors.cli.client import CliError, ControlClient
from actors.common import constraints, jobs
from actors.common.nodes import takes_new_tasks
from actors.common.taskspec import is_dirty
from transport import limits, schema
from transport.text import escaped

BAR_WIDTH = 50
STEPS = (schema.NEW, schema.PENDING, schema.ASSIGNED, schema.ACCEPTED, schema.PREPARING, schema.STARTING, schema.RUNNING)
STUCK_SECONDS = 10.0
ACTIVE_UPDATES = ("updating", "rollback_started")


@dataclass(frozen=True)
class Picture:
    """What one poll shows: ``lines``, whether the tasks ``converged``, and ``hopeless`` when every slot
    has a rejected task and none runs (no node can take them)."""
    lines: list[str]
    converged: bool
    hopeless: bool = False


def is_current(task: dict, service: dict) -> bool:
    """Whether ``task`` was made from the service's current spec (the orchestrator's rule)."""
    return not is_dirty(task, service)


def _bar(state: str) -> str:
    step = STEPS.index(state) + 1 if state in STEPS else len(STEPS) if state == schema.COMPLETE else 1
    filled = BAR_WIDTH * step // len(STEPS)
    return f"{state:<10}[{'=' * (filled - 1)}>{' ' * (BAR_WIDTH - filled)}]"


def slot_line(label: str, history: list[dict]) -> str:
    """``label: running   [=====...>]`` for the newest task of ``history``, or its error."""
    task = max(history, key=lambda t: t.get("CreatedAt", "")) if history else None
    if task is None:
        return f"{label}: {_bar(schema.NEW)}"
    state = task["Status"]["State"]
    errored = [t for t in history if t["Status"].get("Err")]
    if state not in (schema.RUNNING, schema.COMPLETE) and errored:
        return f"{label}: " + escaped(errored[-1]["Status"]["Err"])
    return f"{label}: {_bar(state)}"


def _done(task: dict, service: dict, state: str = schema.RUNNING) -> bool:
    return task["Status"]["State"] == state and is_current(task, service)


def _stale_running(tasks: list[dict], service: dict, down_nodes) -> bool:
    """Whether a task not of the current spec still runs (or is meant to), on a node that is up."""
    return any(not is_current(t, service) and not schema.is_terminal(t["Status"]["State"])
               and t.get("NodeID") not in down_nodes for t in tasks)


def eligible_nodes(service: dict, nodes: list[dict]) -> set[str]:
    """The nodes a global service (or global job) runs a task on: ready, active, meeting its constraints."""
    wanted = constraints.of_service(service)
    return {node["ID"] for node in nodes if takes_new_tasks(node) and constraints.matches(wanted, node)}


def picture(service: dict, tasks: list[dict], down_nodes=(), prefix: str = "",
            eligible: set[str] = frozenset()) -> Picture:
    """The progress of ``service``: per slot (replicated), per node (global: one for each ``eligible``
    node and each node with a task) or per completion (jobs).

    Converged: every slot runs a task of the current spec, and nothing else still runs, except on a
    node that is down (it cannot be told to stop until it comes back; Swarm does not wait for it either)."""
    mode = schema.service_mode(service)
    if mode == "global":
        return _global_picture(service, tasks, down_nodes, prefix, eligible)
    if mode.endswith("-job"):
        return _job_picture(service, tasks, mode, eligible)
    replicas = schema.desired_replicas(service)
    slots: dict[int, list[dict]] = {}
    for task in tasks:
        if task.get("Slot"):
            slots.setdefault(task["Slot"], []).append(task)
    # The service's slots are those with a task meant to run, whatever their numbers: a scale-down removes
    # slots (their tasks desired ``remove``) by state and node, not only the highest numbers.
    kept = sorted(slot for slot, history in slots.items() if any(t["DesiredState"] == schema.RUNNING for t in history))
    positions = [slots[slot] for slot in kept[:replicas]] + [[] for _ in range(replicas - len(kept))]
    current = [[t for t in history if is_current(t, service)] for history in positions]
    running = sum(1 for history in positions if any(_done(t, service) and t["DesiredState"] == schema.RUNNING
                                                     for t in history))
    removed = [t for t in tasks if t["DesiredState"] == schema.REMOVE]
    lines = [f"overall progress: {prefix}{running} out of {replicas} tasks"]
    lines += [slot_line(f"{position}/{replicas}", history) for position, history in enumerate(current, 1)]
    rejected_everywhere = replicas > 0 and running == 0 and all(
        any(t["Status"]["State"] == schema.REJECTED for t in history) for history in current)
    converged = (running == replicas and len(kept) <= replicas and not _stale_running(tasks, service, down_nodes)
                 and not any(not schema.is_terminal(t["Status"]["State"]) and t.get("NodeID") not in down_nodes
                             for t in removed))
    return Picture(lines, converged, rejected_everywhere)


def _global_picture(service: dict, tasks: list[dict], down_nodes, prefix: str, eligible: set[str]) -> Picture:
    """One line per eligible node and per node the orchestrator gave a task to run (not one that is down)."""
    nodes: dict[str, list[dict]] = {node_id: [] for node_id in eligible if node_id not in down_nodes}
    for task in tasks:
        if task["DesiredState"] == schema.RUNNING and is_current(task, service) and task.get("NodeID") not in down_nodes:
            nodes.setdefault(task.get("NodeID") or "", []).append(task)
    running = sum(1 for history in nodes.values() if any(_done(t, service) for t in history))
    lines = [f"overall progress: {prefix}{running} out of {len(nodes)} tasks"]
    lines += [slot_line(node_id[:12] or "unassigned", nodes[node_id]) for node_id in sorted(nodes)]
    return Picture(lines, running == len(nodes) and not _stale_running(tasks, service, down_nodes))


def _job_picture(service: dict, tasks: list[dict], mode: str, eligible: set[str]) -> Picture:
    """``job progress: 2 out of 3 complete`` and ``active tasks: 1 out of 1 tasks``, then a line per task.
    The tasks counted are those of the job's current iteration (every update starts one), as
    actors/common/jobs.py defines iterations, completions and a replicated job's limits."""
    current = [t for t in tasks if jobs.task_iteration(t) == jobs.iteration(service)]
    complete = sum(1 for t in current if jobs.completed(t))
    active = [t for t in current if not schema.is_terminal(t["Status"]["State"])]
    if mode == "replicated-job":
        concurrent, total = jobs.replicated_limits(service)
        keyed = {}
        for task in current:
            keyed.setdefault(f"{task.get('Slot', 0)}/{total}", []).append(task)
    else:
        total = concurrent = len(eligible | {t.get("NodeID") for t in current})
        keyed = {node_id[:12]: [] for node_id in eligible}
        for task in current:
            keyed.setdefault((task.get("NodeID") or "unassigned")[:12], []).append(task)
    converged = complete >= total and not active
    lines = [f"job progress: {complete} out of {total} complete", f"active tasks: {len(active)} out of {concurrent} tasks"]
    lines += [slot_line(label, keyed[label]) for label in sorted(keyed)]
    return Picture(lines, converged)


def update_outcome(status: dict | None, fresh: bool, rollback_requested: bool) -> tuple[str, str]:
    """What the service's UpdateStatus means for a command that wrote it: ("wait" | "done" | "stepped" |
    "failed", message).

    A status that is not ``fresh`` (still the one read before the command's write) means nothing yet.
    ``paused`` and ``rollback_paused`` fail at once, except the pause a stepped update makes after each
    batch (``stepped``: the command succeeded); ``rollback_completed`` fails unless the user asked for
    the rollback; ``updating`` and ``rollback_started`` wait."""
    if not status or not fresh:
        return "done", ""
    state, message = status.get("State", ""), status.get("Message", "")
    # The updater's words for a step's pause (actors/orchestrator/update.py); a failure's pause says "due to failure".
    if state in ("paused", "rollback_paused") and schema.get_path(status, "Shoal.Step") and "after one step" in message:
        return "stepped", message
    if state == "paused":
        return "failed", f"service update paused: {message}"
    if state == "rollback_paused":
        return "failed", f"service rollback paused: {message}"
    if state == "rollback_completed" and not rollback_requested:
        return "failed", f"service rolled back: {message}"
    if state in ACTIVE_UPDATES:
        return "wait", message
    return "done", message


class _Screen:
    """Draws successive pictures: redrawn in place on a terminal, appended when changed otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.interactive = sys.stdout.isatty()
        self.shown: list[str] = []

    def draw(self, lines: list[str]) -> None:
        if self.quiet or lines == self.shown:
            return
        if self.interactive and self.shown:
            click.echo(f"\x1b[{len(self.shown)}A\x1b[J", nl=False)
        click.echo("\n".join(lines))
        self.shown = lines

    def say(self, line: str) -> None:
        if not self.quiet:
            click.echo(line)
            self.shown = []


def follow(client: ControlClient, ref: str, timeout: float, quiet: bool = False, baseline: dict | None = None,
           rollback_requested: bool = False) -> None:
    """Show progress until the service converges; CliError when it cannot get there, or when the update
    it follows pauses or rolls back. ``baseline`` is the UpdateStatus before the command's write (None
    after a create): it says nothing about this command until it changes. ``quiet`` waits without printing."""
    screen = _Screen(quiet)
    deadline = time.monotonic() + timeout
    hopeless_since = None
    announced_rollback = announced_wait = False
    fresh = False  # once the status changed, even a return to the baseline's is news
    while True:
        reply = client.service_ps(ref)
        service = reply["service"]
        fresh = fresh or service.get("UpdateStatus") != baseline
        outcome, message = update_outcome(service.get("UpdateStatus"), fresh, rollback_requested)
        rolling_back = outcome == "wait" and service["UpdateStatus"].get("State") == "rollback_started"
        if rolling_back and not announced_rollback:
            screen.say(f"rollback: {escaped(message) or 'rollback started'}")
            announced_rollback = True
        is_global = schema.service_mode(service).startswith("global")
        eligible = eligible_nodes(service, client.call("node_ls")) if is_global else set()
        shown = picture(service, reply["tasks"], set(reply["down_nodes"]),
                        "rolling back update: " if announced_rollback or rollback_requested else "", eligible)
        screen.draw(shown.lines)
        if outcome == "failed":
            raise CliError(message)
        if outcome == "stepped":
            screen.say(escaped(message))
            return
        if shown.converged and outcome == "done":
            screen.say("verify: Service converged")
            return
        if shown.converged and not announced_wait:  # the updater watches the last batch for its monitor period
            policy = "RollbackConfig" if announced_rollback or rollback_requested else "UpdateConfig"
            monitor = schema.get_path(service, f"Spec.{policy}.Monitor", 0) or 0
            screen.say(f"verify: Waiting {monitor / 1e9:g} seconds to verify that tasks are stable...")
            announced_wait = True
        now = time.monotonic()
        hopeless_since = (hopeless_since or now) if shown.hopeless else None
        name = service["Spec"]["Name"]
        if hopeless_since is not None and now - hopeless_since > STUCK_SECONDS:
            raise CliError(f"service {name} cannot start its tasks: {shown.lines[1].split(': ', 1)[1]}")
        if now > deadline:
            raise CliError(f"service {name} did not converge within {timeout:g}s")
        time.sleep(0.1)


class Seconds(click.FloatRange):
    """A finite number of seconds in 0..``limit`` (click's FloatRange alone lets ``nan`` through)."""

    def __init__(self, limit: float):
        super().__init__(0, limit)

    def convert(self, value, param, ctx):
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


WAIT_SECONDS = Seconds(limits.CLI_WAIT_SECONDS)


def waiting_options(function):
    """The ``-d``, ``-q`` and ``--timeout`` options of a command that waits for convergence."""
    for decorator in reversed((
            click.option("-d", "--detach", is_flag=True, help="Exit immediately instead of waiting for the service to converge."),
            click.option("-q", "--quiet", is_flag=True, help="Suppress progress output (still waits, unless --detach)."),
            click.option("--timeout", type=WAIT_SECONDS, default=300.0, show_default=True,
                         help="Seconds to wait for convergence."))):
        function = decorator(function)
    return function

"""Counts of tasks and nodes kept one change at a time, and the transitions each task change makes.

Pure: :class:`TaskTally` and :class:`NodeTally` are told each change as its old
and new object (either None: created, deleted) and each snapshot as the whole
table, and keep the counts the orchestrator's metrics export (actors/orchestrator/metrics.py)
without walking every task on a pass. They also note which counts moved since
the caller last took them, so a pass exports only those.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, NamedTuple

from actors.common.viewindex import observed_state
from transport import model, schema

FAILURE_STATES = (schema.FAILED, schema.REJECTED, schema.ORPHANED)
FAILURE_REASONS = ("nonzero_exit", "unhealthy", "container_removed", "rejected", "orphaned", "other")
# The executor's fixed status messages (actors/executor/core.py) of a failed task, by reason.
_FAILED_MESSAGES = {"unhealthy container": "unhealthy", "container removed": "container_removed"}
_NONZERO_EXIT_MESSAGE = "task exited with non-zero code"
NODE_CELLS = tuple((role, state, availability) for role in model.NODE_ROLES for state in model.NODE_STATES
                   for availability in model.AVAILABILITIES)


class Transition(NamedTuple):
    """A task's observed state changed: the state it entered, and why it failed if it did (else None)."""

    service_id: str
    state: str
    failure: str | None


def failure_reason(task: dict) -> str | None:
    """Why ``task`` ended in failure, one of FAILURE_REASONS (a bounded set: a metric label), or None when its
    state is not a failure."""
    state = observed_state(task)
    if state not in FAILURE_STATES:
        return None
    if state != schema.FAILED:
        return state  # "rejected" (the engine refused it) or "orphaned" (its node was lost)
    message = (task.get("Status") or {}).get("Message") or ""
    if message.startswith(_NONZERO_EXIT_MESSAGE):
        return "nonzero_exit"
    return _FAILED_MESSAGES.get(message, "other")


class TaskTally:
    """Tasks by service id and observed state."""

    def __init__(self):
        self.counts: dict[str, Counter] = {}  # service id -> observed state -> tasks
        self.touched: set[str] = set()  # services whose counts moved since the last take_touched

    def reloaded(self, tasks: Iterable[dict]) -> None:
        """Count a whole tasks table again (after a snapshot); every service counted before or now is touched."""
        self.touched |= set(self.counts)
        self.counts = {}
        for task in tasks:
            self._add(task, 1)

    def changed(self, old: dict | None, new: dict | None) -> Transition | None:
        """Move one task from ``old`` to ``new``; the transition it makes when its observed state changed
        (a task created in a state enters it), else None. A deleted task makes none."""
        if old is not None:
            self._add(old, -1)
        if new is None:
            return None
        self._add(new, 1)
        state = _state(new)
        if old is not None and _state(old) == state:
            return None
        return Transition(new.get("ServiceID") or "", state, failure_reason(new) if state in FAILURE_STATES else None)

    def of_service(self, service_id: str) -> Counter:
        """The counts of ``service_id``'s tasks by observed state (empty if none)."""
        return self.counts.get(service_id, Counter())

    def take_touched(self) -> set[str]:
        """The services whose counts moved since the last take; starts afresh."""
        touched, self.touched = self.touched, set()
        return touched

    def _add(self, task: dict, delta: int) -> None:
        service_id, state = task.get("ServiceID") or "", _state(task)
        counts = self.counts.get(service_id)
        if counts is None:
            counts = self.counts[service_id] = Counter()
        counts[state] += delta
        if not counts[state]:  # kept without zeros, so a service with no task left goes
            del counts[state]
            if not counts:
                del self.counts[service_id]
        self.touched.add(service_id)


def _state(task: dict) -> str:
    """:func:`observed_state`, without its dotted path: called twice or three times for each task change."""
    return (task.get("Status") or {}).get("State") or schema.NEW


class NodeTally:
    """Nodes by (role, state, availability), each of NODE_CELLS."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.moved = True  # whether the counts moved since the last take_moved (at first: never taken)

    def reloaded(self, nodes: Iterable[dict]) -> None:
        """Count a whole nodes table again."""
        self.counts = Counter(node_cell(node) for node in nodes)
        self.moved = True

    def changed(self, old: dict | None, new: dict | None) -> None:
        """Move one node from ``old`` to ``new``."""
        for node, delta in ((old, -1), (new, 1)):
            if node is not None:
                self.counts[node_cell(node)] += delta
                self.moved = True

    def take_moved(self) -> bool:
        """True if the counts moved since the last take; starts afresh."""
        moved, self.moved = self.moved, False
        return moved


def node_cell(node: dict) -> tuple[str, str, str]:
    """A node's (role, state, availability), as Docker names them (missing: worker, unknown, active)."""
    return (schema.get_path(node, "Spec.Role") or "worker", schema.get_path(node, "Status.State") or schema.NODE_UNKNOWN,
            schema.get_path(node, "Spec.Availability") or schema.ACTIVE)

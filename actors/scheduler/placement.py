"""The scheduler's decision: a node for every pending task.

A task is schedulable when it is ``pending``, desired ``running`` and has no
node. :func:`schedule` places them one by one, oldest first, through a
:class:`Pipeline`: *filters* drop nodes that cannot take the task (each says
why, for the ``no suitable node (...)`` error), then the :class:`Spread`
scorer picks the node with the fewest tasks of the same service, then the
fewest tasks overall, then the lowest id. Counts include the placements made
earlier in the same pass, so N replicas on N equal nodes land one per node.
Constraints, resources and placement preferences are further filters or
scorer terms.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol, Sequence

from actors.common.viewindex import (PENDING_MESSAGE, Decision, ViewIndex, age_key, is_active,
                                     is_unassigned, observed_state, patch_op, status_note_op,
                                     wants_running)
from transport import schema

ASSIGNED_MESSAGE = "scheduler assigned task to node"


class Filter(Protocol):
    """A rule a node must pass to take a task."""

    def accepts(self, node: dict, task: dict) -> bool:
        """True if ``node`` may take ``task``."""

    def explain(self, rejected: int) -> str:
        """Why ``rejected`` (> 0) nodes failed this filter, in Swarm's words."""


class ReadyFilter:
    """Only nodes that are ``ready`` and ``active`` take new tasks."""

    def accepts(self, node: dict, task: dict) -> bool:
        """True if the node is up and its availability is ``active``."""
        return (schema.get_path(node, "Status.State") == schema.NODE_READY
                and (schema.get_path(node, "Spec.Availability") or schema.ACTIVE) == schema.ACTIVE)

    def explain(self, rejected: int) -> str:
        """``1 node not available for new tasks``, as Swarm says."""
        return f"{rejected} node{'' if rejected == 1 else 's'} not available for new tasks"


class Spread:
    """Scores nodes by load; remembers placements so later tasks in the pass see them."""

    def __init__(self, tasks: dict[str, dict]):
        self.total: Counter = Counter()
        self.per_service: Counter = Counter()
        for task in tasks.values():
            if is_active(task) and not is_unassigned(task):
                self.record(task["NodeID"], task)

    def record(self, node_id: str, task: dict) -> None:
        """Count ``task`` as running on ``node_id``."""
        self.total[node_id] += 1
        self.per_service[(node_id, task.get("ServiceID"))] += 1

    def key(self, node: dict, task: dict) -> tuple:
        """Sort key of ``node`` for ``task``: lower is better."""
        return self.per_service[(node["ID"], task.get("ServiceID"))], self.total[node["ID"]], node["ID"]


class Pipeline:
    """Filters, in order; a node is counted against the first filter it fails."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = list(filters)

    def candidates(self, nodes: list[dict], task: dict) -> tuple[list[dict], str]:
        """Nodes that pass every filter for ``task``, and (when there are none) why, for users."""
        passed, rejected = [], Counter()
        for node in nodes:
            failed = next((number for number, rule in enumerate(self.filters) if not rule.accepts(node, task)), None)
            if failed is None:
                passed.append(node)
            else:
                rejected[failed] += 1
        reasons = [self.filters[number].explain(count) for number, count in sorted(rejected.items())]
        return passed, "no suitable node" + (f" ({'; '.join(reasons)})" if reasons else "")


def default_pipeline() -> Pipeline:
    """The filters every placement goes through."""
    return Pipeline([ReadyFilter()])


def schedulable(task: dict) -> bool:
    """True if ``task`` waits for a node: ``pending``, desired ``running``, unassigned."""
    return observed_state(task) == schema.PENDING and wants_running(task) and is_unassigned(task)


def schedule(view, now: float, pipeline: Pipeline | None = None) -> Decision:
    """Ops assigning each schedulable task to a node (or noting why none fits); never wakes on a timer."""
    index = ViewIndex(view)
    pipeline = pipeline or default_pipeline()
    nodes = [index.nodes[node_id] for node_id in sorted(index.nodes)]
    spread = Spread(index.tasks)
    decision = Decision()
    for task in sorted(filter(schedulable, index.tasks.values()), key=age_key):
        candidates, reason = pipeline.candidates(nodes, task)
        if not candidates:
            note = status_note_op(task, PENDING_MESSAGE, reason)
            decision.ops.extend([note] if note else [])
            continue
        node = min(candidates, key=lambda candidate: spread.key(candidate, task))
        spread.record(node["ID"], task)
        decision.ops.append(patch_op("tasks", task, {
            "NodeID": node["ID"], "Status": schema.task_status(schema.ASSIGNED, ASSIGNED_MESSAGE, now)}))
    return decision

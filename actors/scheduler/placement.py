"""The scheduler's decision: a node for every pending task.

A task is schedulable when it is ``pending``, desired ``running`` and has no
node. :func:`schedule` places them one by one, oldest first, through a
:class:`Pipeline` of filters (actors/scheduler/filters.py) that drop the
nodes that cannot take the task, each saying why; the task then goes to the
candidate :func:`~actors.scheduler.spread.best_node` picks. A task no node
can take stays pending with Swarm's ``no suitable node (...)`` in
``Status.Err``, rewritten whenever the reason changes; the scheduler runs on
every store change, so it is placed as soon as a node qualifies. The
:class:`~actors.scheduler.load.NodeLoad` counts the placements made earlier
in the same pass, so N replicas on N equal nodes land one per node and two
tasks never share the last free resources of a node.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from actors.common.viewindex import (PENDING_MESSAGE, Decision, ViewIndex, age_key, is_unassigned,
                                     observed_state, patch_op, status_note_op, wants_running)
from actors.scheduler.filters import (ConstraintFilter, Filter, MaxReplicasFilter, PlatformFilter, ReadyFilter,
                                      ResourceFilter)
from actors.scheduler.load import NodeLoad
from actors.scheduler.spread import best_node
from transport import schema

ASSIGNED_MESSAGE = "scheduler assigned task to node"


class Pipeline:
    """Filters, in order; a node is counted against the first filter it fails."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = list(filters)

    def candidates(self, nodes: list[dict], task: dict) -> tuple[list[dict], str]:
        """Nodes that pass every filter for ``task``, and (when there are none) why, for users:
        each failing filter's explanation, the one that refused most nodes first, as Swarm orders them."""
        passed, rejected = [], Counter()
        for node in nodes:
            failed = next((number for number, rule in enumerate(self.filters) if not rule.accepts(node, task)), None)
            if failed is None:
                passed.append(node)
            else:
                rejected[failed] += 1
        ranked = sorted(rejected.items(), key=lambda item: (-item[1], item[0]))
        reasons = [self.filters[number].explain(count) for number, count in ranked]
        return passed, "no suitable node" + (f" ({'; '.join(reasons)})" if reasons else "")


def default_pipeline(load: NodeLoad) -> Pipeline:
    """The filters every placement goes through, in Swarm's order, reading ``load`` for the pass."""
    return Pipeline([ReadyFilter(), ResourceFilter(load), ConstraintFilter(), PlatformFilter(), MaxReplicasFilter(load)])


def schedulable(task: dict) -> bool:
    """True if ``task`` waits for a node: ``pending``, desired ``running``, unassigned."""
    return observed_state(task) == schema.PENDING and wants_running(task) and is_unassigned(task)


def schedule(view, now: float, pipeline: Pipeline | None = None) -> Decision:
    """Ops assigning each schedulable task to a node (or noting why none fits); never wakes on a timer.
    ``pipeline`` replaces the default filters (tests)."""
    index = ViewIndex(view)
    nodes = [index.nodes[node_id] for node_id in sorted(index.nodes)]
    load = NodeLoad(index.tasks.values())
    pipeline = pipeline or default_pipeline(load)
    decision = Decision()
    for task in sorted(filter(schedulable, index.tasks.values()), key=age_key):
        candidates, reason = pipeline.candidates(nodes, task)
        if not candidates:
            note = status_note_op(task, PENDING_MESSAGE, reason)
            decision.ops.extend([note] if note else [])
            continue
        node = best_node(candidates, task, load)
        load.record(node["ID"], task)
        decision.ops.append(patch_op("tasks", task, {
            "NodeID": node["ID"], "Status": schema.task_status(schema.ASSIGNED, ASSIGNED_MESSAGE, now)}))
    return decision

"""The scheduler's decision: a node for every pending task.

A task is schedulable when it is ``pending``, desired ``running`` and has no
node. :func:`schedule` places them one by one, oldest first, through a
:class:`~actors.common.placement.filters.Pipeline` of filters that drop the
nodes that cannot take the task, each saying why; the task then goes to the
candidate :func:`~actors.common.placement.spread.best_node` picks. A task no node
can take stays pending with Swarm's ``no suitable node (...)`` in
``Status.Err``, rewritten whenever the reason changes; the scheduler runs on
every store change, so it is placed as soon as a node qualifies. The
:class:`~actors.common.placement.load.NodeLoad` counts the placements made earlier
in the same pass, so N replicas on N equal nodes land one per node and two
tasks never share the last free resources of a node.
"""

from __future__ import annotations

from actors.common.placement.filters import Pipeline, default_pipeline
from actors.common.placement.spread import best_node
from actors.common.viewindex import (PENDING_MESSAGE, Decision, ViewIndex, age_key, is_unassigned,
                                     observed_state, patch_op, status_note_op, wants_running)
from transport import schema

ASSIGNED_MESSAGE = "scheduler assigned task to node"


def schedulable(task: dict) -> bool:
    """True if ``task`` waits for a node: ``pending``, desired ``running``, unassigned."""
    return observed_state(task) == schema.PENDING and wants_running(task) and is_unassigned(task)


def schedule(view, now: float, pipeline: Pipeline | None = None) -> Decision:
    """Ops assigning each schedulable task to a node (or noting why none fits); never wakes on a timer.
    ``pipeline`` replaces the default filters (tests)."""
    index = ViewIndex(view)
    nodes, load = index.sorted_nodes, index.placement_load
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

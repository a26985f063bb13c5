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
A task created already assigned (a global task, made for one node) is only
checked: it becomes ``assigned`` once its node passes the filters, and waits
in ``pending`` with the reason until then, as in Swarm.
"""

from __future__ import annotations

from actors.common.placement.filters import Pipeline, default_pipeline
from actors.common.placement.load import NodeLoad
from actors.common.placement.spread import best_node
from actors.common.viewindex import (PENDING_MESSAGE, Decision, ViewIndex, age_key, is_unassigned,
                                     observed_state, patch_op, status_note_op, wants_running)
from transport import schema

ASSIGNED_MESSAGE = "scheduler assigned task to node"


def schedulable(task: dict) -> bool:
    """True if ``task`` waits for a node: ``pending``, desired ``running``, unassigned."""
    return observed_state(task) == schema.PENDING and wants_running(task) and is_unassigned(task)


def preassigned(task: dict) -> bool:
    """True if ``task`` was created for a node and waits for the scheduler to confirm it: ``pending``,
    desired ``running``, with a node."""
    return observed_state(task) == schema.PENDING and wants_running(task) and not is_unassigned(task)


def schedule(view, now: float, pipeline: Pipeline | None = None) -> Decision:
    """Ops assigning each schedulable task to a node, and confirming each preassigned one on its node
    (or noting why none fits); never wakes on a timer. ``pipeline`` replaces the default filters (tests)."""
    index = ViewIndex(view)
    nodes, load = index.sorted_nodes, index.placement_load
    pipeline = pipeline or default_pipeline(load)
    decision = Decision()
    for task in sorted(filter(preassigned, index.tasks.values()), key=age_key):
        # Counted on its node only once confirmed: its own reservation must not count against it.
        load.forget(task["NodeID"], task)
        its_node = index.nodes.get(task["NodeID"])
        candidates, reason = pipeline.candidates([its_node] if its_node else [], task)
        decision.ops.extend(place(task, candidates[0] if candidates else None, reason, load, now))
    for task in sorted(filter(schedulable, index.tasks.values()), key=age_key):
        candidates, reason = pipeline.candidates(nodes, task)
        decision.ops.extend(place(task, best_node(candidates, task, load) if candidates else None, reason, load, now))
    return decision


def place(task: dict, node: dict | None, reason: str, load: NodeLoad, now: float) -> list[dict]:
    """The op assigning ``task`` to ``node`` (counted in ``load`` from now on), or, with no node, the
    note saying ``reason`` (if not said yet)."""
    if node is None:
        note = status_note_op(task, PENDING_MESSAGE, reason)
        return [note] if note else []
    load.record(node["ID"], task)
    return [patch_op("tasks", task, {"NodeID": node["ID"],
                                     "Status": schema.task_status(schema.ASSIGNED, ASSIGNED_MESSAGE, now)})]

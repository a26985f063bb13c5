"""The scheduler's decision: a node for every pending task.

A task is schedulable when it is ``pending``, desired ``running`` and has no
node. :func:`schedule` places them group by group (tasks of one service and
spec version that ask the same of a node, see
:mod:`~actors.common.placement.taskgroup`), the group holding the oldest task
first and each group oldest task first (as in swarmkit, a group's
placements all count before the next group is placed, where tasks of
several services used to take turns by age). The nodes go through a
:class:`~actors.common.placement.filters.Pipeline` of filters once per group,
each filter saying why it refuses; each task then goes to the candidate
:func:`~actors.common.placement.spread.best_node` would pick. A task no node
can take stays pending with Swarm's ``no suitable node (...)`` in
``Status.Err``, rewritten whenever the reason changes; the scheduler runs on
every store change, so it is placed as soon as a node qualifies. The
:class:`~actors.common.placement.load.NodeLoad` counts the placements made earlier
in the same pass, so N replicas on N equal nodes land one per node and two
tasks never share the last free resources of a node.
A task created already assigned (a global task, made for one node) is only
checked: it becomes ``assigned`` once its node passes the filters, and waits
in ``pending`` with the reason until then, as in Swarm.
A :class:`~actors.scheduler.shard.Shard` limits a pass to the tasks it owns.
"""

from __future__ import annotations

from actors.common.placement.filters import Pipeline, default_pipeline
from actors.common.placement.load import NodeLoad
from actors.common.placement.taskgroup import GroupPlacement, task_groups
from actors.common.viewindex import (PENDING_MESSAGE, Decision, ViewIndex, age_key, is_unassigned, patch_op,
                                     status_note_op)
from actors.scheduler.shard import EVERY_TASK, Shard
from transport import schema

ASSIGNED_MESSAGE = "scheduler assigned task to node"


def schedule(view, now: float, pipeline: Pipeline | None = None, shard: Shard = EVERY_TASK,
             load: NodeLoad | None = None) -> Decision:
    """Ops assigning each schedulable task ``shard`` owns to a node, and confirming each preassigned one on
    its node (or noting why none fits); never wakes on a timer. ``pipeline`` replaces the default filters
    (tests); ``load`` is what the view's tasks weigh on the nodes, when the caller keeps it (the pass
    records its placements on it: see :meth:`NodeLoad.tentative`), else it is built from the view."""
    index = ViewIndex(view)
    load = load if load is not None else index.placement_load
    pipeline = pipeline or default_pipeline(load)
    decision = Decision()
    assigned = schema.task_status(schema.ASSIGNED, ASSIGNED_MESSAGE, now)
    waiting = index.tasks_in_state(schema.RUNNING, schema.PENDING).values()  # from the view's live index
    for task in sorted((task for task in waiting if not is_unassigned(task) and shard.owns(task)), key=age_key):
        # Counted on its node only once confirmed: its own reservation must not count against it.
        load.forget(task["NodeID"], task)
        its_node = index.nodes.get(task["NodeID"])
        candidates, reason = pipeline.candidates([its_node] if its_node else [], task)
        if candidates:
            load.record(its_node["ID"], task)
        decision.ops.extend(place(task, its_node if candidates else None, reason, assigned))
    for group in task_groups(filter(is_unassigned, waiting), shard.owns, shard.may_own_service):
        placement = GroupPlacement(index.sorted_nodes, group[0], pipeline, load)
        for task in group:
            node = placement.take(task)
            decision.ops.extend(place(task, node, "" if node else placement.reason(), assigned))
    return decision


def place(task: dict, node: dict | None, reason: str, status: dict) -> list[dict]:
    """The op assigning ``task`` to ``node`` with (a copy of) ``status``, its ``assigned`` Status, or, with
    no node, the note saying ``reason`` (if not said yet)."""
    if node is None:
        note = status_note_op(task, PENDING_MESSAGE, reason)
        return [note] if note else []
    return [patch_op("tasks", task, {"NodeID": node["ID"], "Status": dict(status)})]

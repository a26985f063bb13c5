"""Task history: delete the tasks nobody needs any more.

- Each slot (or node, for slot-less tasks) of a live service keeps at most
  ``TaskHistoryRetentionLimit`` tasks, current ones included; the oldest
  finished ones go first. A negative limit keeps everything, as in Swarm. The
  newest task of a slot is always kept: it records how the slot ended.
- A slot a scale-down removed (its newest task desired ``remove``) is deleted
  whole once none of its tasks can be running any more, whatever the limit,
  as Swarm deletes the tasks it removes.
- Tasks of removed services are told to go (desired ``remove``, once) and are
  deleted once they can no longer be running anywhere.
"""

from __future__ import annotations

from actors.common.viewindex import (ViewIndex, delete_op, is_ended, is_unassigned, patch_op,
                                     wants_running)
from transport import schema


def finished(index: ViewIndex, task: dict) -> bool:
    """True if ``task`` is not meant to run and cannot be running: ended, never assigned, or its node is lost."""
    return is_ended(task) or is_unassigned(task) or index.node_lost(task.get("NodeID", ""))


def history_ops(index: ViewIndex, service_ids=None) -> list[dict]:
    """Deletes that bring every slot of a live service (of those in ``service_ids``, when given) back
    within the retention limit, and remove the slots a scale-down removed once they have stopped."""
    limit = index.retention_limit()
    ops = []
    for service_id, tasks in _histories(index, service_ids):
        if service_id not in index.services:
            continue
        if tasks[-1].get("DesiredState") == schema.REMOVE:
            # Deleted together: the slot must never be left with an older task as its newest.
            if all(finished(index, task) for task in tasks):
                ops.extend(delete_op("tasks", task) for task in tasks)
            continue
        if limit < 0:
            continue
        excess = len(tasks) - limit
        for task in tasks[:-1]:
            if excess <= 0:
                break
            if not wants_running(task) and finished(index, task):
                ops.append(delete_op("tasks", task))
                excess -= 1
    return ops


def _histories(index: ViewIndex, service_ids):
    """(service id, tasks of one slot or node, oldest first) of every service, or of ``service_ids``."""
    if service_ids is None:
        return ((key[0], tasks) for key, tasks in index.tasks_by_history.items())
    return ((service_id, tasks) for service_id in service_ids
            for histories in index.task_index.histories_of(service_id) for tasks in histories.values())


def orphan_ops(index: ViewIndex, service_ids=None) -> list[dict]:
    """Ops for tasks whose service is gone (of the services in ``service_ids``, when given): delete
    the finished ones, mark the others ``remove``."""
    ops = []
    chosen = index.tasks_by_service.items() if service_ids is None else (
        (service_id, index.service_tasks(service_id)) for service_id in service_ids)
    for service_id, tasks in chosen:
        if service_id in index.services:
            continue
        for task in tasks:
            if finished(index, task):
                ops.append(delete_op("tasks", task))
            elif task.get("DesiredState") != schema.REMOVE:
                ops.append(patch_op("tasks", task, {"DesiredState": schema.REMOVE}))
    return ops

"""Jobs: services whose tasks run to completion (``replicated-job`` and ``global-job``).

What an iteration and a completed task are is in actors/common/jobs.py. Here:

- Tasks of an older iteration that still want to run are shut down: an
  update of a job starts it over.
- A completed task is done: never restarted, whatever the restart policy's
  condition, and never moved (a drain leaves it be). One that failed is
  retried under the restart policy (Delay, MaxAttempts, Window; condition
  ``none`` never retries), on the same slot or node.
- ``replicated-job``: slots 1..TotalCompletions, started lowest first, at
  most MaxConcurrent of them unfinished at any time; a slot is finished when
  its task completed or the restart policy gave up on it.
- ``global-job``: one task on every node that takes new tasks (as global
  mode), each run to completion; a node that joins later runs it too.
"""

from __future__ import annotations

import itertools

from actors.common import jobs
from actors.common.viewindex import wants_running
from actors.orchestrator.globalmode import node_ids, reconcile_node
from actors.orchestrator.slots import ServicePass, SlotReconciler, shutdown
from transport import schema


def reconcile_replicated_job(service_pass: ServicePass) -> None:
    """Add the ops that run the job's current iteration towards TotalCompletions, MaxConcurrent at a time."""
    slots = current_iteration(service_pass, service_pass.index.service_slots(service_pass.service["ID"]))
    concurrent, total = jobs.replicated_limits(service_pass.service)
    unfinished = 0
    for slot in sorted(slots):
        if not finished(slots[slot]):
            unfinished += 1
            SlotReconciler(service_pass, slot).run(slots[slot])
    fresh = (slot for slot in itertools.count(1) if slot not in slots)
    for slot in itertools.islice(fresh, max(0, min(concurrent - unfinished, total - len(slots)))):
        if not service_pass.create(slot, attempt=0):
            break


def reconcile_global_job(service_pass: ServicePass) -> None:
    """Add the ops that run the job's current iteration once on every node that takes new tasks."""
    histories = current_iteration(service_pass, service_pass.index.service_nodes(service_pass.service["ID"]))
    for node_id in node_ids(service_pass, histories):
        history = histories.get(node_id, [])
        if not (history and finished(history)):
            reconcile_node(service_pass, node_id, history)


def current_iteration(service_pass: ServicePass, groups: dict) -> dict:
    """``groups`` (slot or node -> tasks) cut to the tasks of the job's current iteration, empty groups
    left out; tasks of older iterations that still want to run are shut down on the way."""
    iteration = jobs.iteration(service_pass.service)
    kept = {}
    for key, history in groups.items():
        older = [task for task in history if jobs.task_iteration(task) != iteration]
        service_pass.decision.ops.extend(shutdown(task) for task in older if wants_running(task))
        current = [task for task in history if jobs.task_iteration(task) == iteration]
        if current:
            kept[key] = current
    return kept


def finished(history: list[dict]) -> bool:
    """True if the slot (or node) whose tasks of the iteration are ``history`` is done: its last task
    completed, or the restart policy gave up on it."""
    return jobs.completed(history[-1]) or bool(schema.get_path(history[-1], "Shoal.RestartRefused"))

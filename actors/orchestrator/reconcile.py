"""The orchestrator's decision: which tasks to create, stop and delete so services match their specs.

:func:`reconcile` is pure: it reads a view and returns a :class:`Decision`.
Every op is version-checked, and its effect is visible in the view, so
running it again on the updated view proposes nothing more.

Each mode has its reconciler (``MODE_RECONCILERS``: replicated here, global
in globalmode.py, jobs in jobs.py), all built on :class:`~actors.orchestrator.slots.SlotReconciler`.
A task is *current* while its desired state is ``running``; a slot (a slot
number, or a node for global tasks) wants exactly one. Per slot:

- no current task → a new one, unless the slot's newest task was ended for
  good by the restart policy (``Shoal.RestartRefused``);
- more than one → the extras are shut down (the live one, else the newest, stays);
- the current task ended → restart policy (see restart.py): after ``Delay``,
  shut it down and replace it with ``Shoal.Attempt`` + 1; when the policy
  refuses, shut it down and record why;
- its node is down, gone, drained or no longer satisfies the constraints
  (eligibility.py) → shut it down and replace it at once (not the task's
  fault: no delay, same attempt count). Unassigned tasks stay.

Slots whose task was made from an older spec are replaced within the update
policy by update.py, which claims the slots it is working on for the pass;
rebalance.py claims the slots it moves to even out a service's spread.

A replicated service keeps ``Replicas`` slots: those whose newest task is
not desired ``remove``. Scaling down removes slots, as Swarm does, by setting
their tasks' desired state to ``remove``: first the slots whose task is not
running, then one at a time from the node holding most of the service's
running tasks, highest slot first. Scaling up fills the lowest free slot
numbers. History and tasks of removed services are handled by reaper.py.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from typing import Callable

from actors.common.viewindex import Decision, ViewIndex, is_running, patch_op, wants_running
from actors.orchestrator import reaper
from actors.orchestrator.eligibility import NodeRules
from actors.orchestrator.globalmode import reconcile_global
from actors.orchestrator.jobs import reconcile_global_job, reconcile_replicated_job
from actors.orchestrator.rebalance import plan_rebalance
from actors.orchestrator.slots import (CreationBudget, IdFactory, ServicePass, SlotReconciler, ended_for_good,
                                       kept_slots)
from actors.orchestrator.update import plan_update
from transport import schema


def reconcile(view, now: float, new_id: IdFactory = schema.new_id,
              budget: CreationBudget | None = None) -> Decision:
    """Ops that make every service's tasks match its spec, plus the next restart deadline as ``wake_at``;
    at most ``budget`` (TASKS_CREATED_PER_PASS) creations, the rest left to the next passes."""
    return reconcile_services(view, now, None, new_id, budget)[0]


def reconcile_services(view, now: float, service_ids, new_id: IdFactory = schema.new_id,
                       budget: CreationBudget | None = None) -> tuple[Decision, set[str]]:
    """:func:`reconcile` for the services ``service_ids`` only (every service when None; ids of removed
    services stand for their leftover tasks), and the ids among them that are *unsettled*: that
    proposed ops, want a wake-up, or were refused a creation by the budget. A service that is settled
    proposes nothing when decided again until its spec, its tasks, a node or the cluster changes."""
    index = ViewIndex(view)
    decision = Decision()
    budget = budget or CreationBudget()
    unsettled = set()
    if service_ids is None:
        service_ids = set(index.services) | set(index.task_index.service_ids())
    for service_id in sorted(service_ids, key=str):
        own, refusals = Decision(), budget.refusals
        service = index.services.get(service_id)
        mode_reconciler = MODE_RECONCILERS.get(schema.service_mode(service)) if service is not None else None
        if mode_reconciler is not None:
            mode_reconciler(ServicePass(index, service, now, new_id, own, budget))
        own.ops.extend(reaper.orphan_ops(index, [service_id]))
        own.ops.extend(reaper.history_ops(index, [service_id]))
        if own.ops or own.wake_at is not None or budget.refusals > refusals:
            unsettled.add(service_id)
        decision.ops.extend(own.ops)
        if own.wake_at is not None:
            decision.wake_no_later_than(own.wake_at)
    return decision, unsettled


def reconcile_replicated(service_pass: ServicePass) -> None:
    """Add the ops that give the service ``Replicas`` slots, each with one current task of its spec
    (creating no more tasks than the pass's budget allows)."""
    replicas = schema.desired_replicas(service_pass.service)
    kept = kept_slots(service_pass.index, service_pass.service["ID"])
    for slot in scale_down_choice(kept, len(kept) - replicas, service_pass.rules):
        service_pass.decision.ops.extend(remove_slot(kept.pop(slot)))
    live = {slot: history for slot, history in kept.items() if not ended_for_good(history)}
    # The updater takes slots whose task is out of date, the rebalancer slots whose tasks are all
    # current and may stay where they are (a task that must leave its node is replaced below, at once).
    update = plan_update(service_pass.service, live, service_pass.now, service_pass.must_leave)
    staying = {slot: history for slot, history in live.items() if not any(
        wants_running(task) and service_pass.must_leave(task.get("NodeID", "")) for task in history)}
    rebalance = plan_rebalance(service_pass.service, staying, service_pass.index, service_pass.now)
    for plan in (update, rebalance):
        service_pass.apply_update(plan, lambda slot: service_pass.create(slot, attempt=0))
    claimed = update.claimed | rebalance.claimed
    for slot in sorted(kept):
        if slot not in claimed:
            SlotReconciler(service_pass, slot).run(kept[slot])
    free = (slot for slot in itertools.count(1) if slot not in kept)
    for slot in itertools.islice(free, max(0, replicas - len(kept))):
        if not service_pass.create(slot, attempt=0):
            break


def remove_slot(history: list[dict]) -> list[dict]:
    """Ops removing a slot by scale-down: its current tasks, and its newest, desired ``remove``."""
    doomed = [task for task in history if wants_running(task)]
    if history[-1] not in doomed:
        doomed.append(history[-1])
    return [patch_op("tasks", task, {"DesiredState": schema.REMOVE}) for task in doomed]


def scale_down_choice(kept: dict[int, list[dict]], count: int, rules: NodeRules) -> list[int]:
    """The ``count`` slots of ``kept`` a scale-down removes: those whose current task is not running
    (or must leave its node, see ``rules``) first, highest slot first, then one at a time from the
    node holding most of the remaining running slots (ties: lowest node id; within a node, the
    highest slot)."""
    if count <= 0:
        return []
    running_on: dict[str, list[int]] = defaultdict(list)
    idle = []
    for slot in sorted(kept):
        node_id = running_node(kept[slot])
        if node_id is None or rules.eviction(node_id):
            idle.append(slot)
        else:
            running_on[node_id].append(slot)
    chosen = sorted(idle, reverse=True)[:count]
    heap = [(-len(slots), node_id) for node_id, slots in running_on.items()]
    heapq.heapify(heap)
    while len(chosen) < count and heap:
        negative_count, node_id = heapq.heappop(heap)
        chosen.append(running_on[node_id].pop())
        if running_on[node_id]:
            heapq.heappush(heap, (negative_count + 1, node_id))
    return chosen


def running_node(history: list[dict]) -> str | None:
    """The node of the slot's current task when it is observed running, else None."""
    for task in reversed(history):
        if is_running(task):
            return task.get("NodeID") or ""
    return None


MODE_RECONCILERS: dict[str, Callable[[ServicePass], None]] = {
    "replicated": reconcile_replicated, "global": reconcile_global,
    "replicated-job": reconcile_replicated_job, "global-job": reconcile_global_job}

"""The orchestrator's decision: which tasks to create, stop and delete so services match their specs.

:func:`reconcile` is pure: it reads a view and returns a :class:`Decision`.
Every op is version-checked, and its effect is visible in the view, so
running it again on the updated view proposes nothing more.

Replicated services (other modes are left for their own reconcilers, see
``MODE_RECONCILERS``) have slots ``1..Replicas``. A task is *current* while
its desired state is ``running``; each slot wants exactly one. Per slot:

- no current task → a new one, unless the slot's newest task was ended for
  good by the restart policy (``Shoal.RestartRefused``);
- more than one → the extras are shut down (the live one, else the newest, stays);
- the current task ended → restart policy (see restart.py): after ``Delay``,
  shut it down and replace it with ``Shoal.Attempt`` + 1; when the policy
  refuses, shut it down and record why;
- its node is down or gone → shut it down and replace it at once (not the
  task's fault: no delay, same attempt count). Unassigned tasks stay.

Slots above ``Replicas`` are shut down, highest first. Slots whose task was
made from an older spec are replaced within the update policy by update.py,
which claims the slots it is working on for the pass; rebalance.py claims
the slots it moves to even out the spread after a node joins or comes back.
History and tasks of removed services are handled by reaper.py.
"""

from __future__ import annotations

import copy
from typing import Callable

from actors.common.viewindex import (Decision, ViewIndex, attempt_of, is_ended, patch_op,
                                     wants_running)
from actors.orchestrator import reaper
from actors.orchestrator.rebalance import plan_rebalance
from actors.orchestrator.restart import RestartPolicy
from actors.orchestrator.update import UpdatePlan, plan_update
from transport import limits, schema

IdFactory = Callable[[], str]


class CreationBudget:
    """How many more tasks one decision may create: a pass's work and proposal stay bounded whatever
    the replica counts, and the controller decides again at once while the last pass created some."""

    def __init__(self, tasks: int = limits.TASKS_CREATED_PER_PASS):
        self.left = tasks

    def take(self) -> bool:
        """Spend one creation; False when none is left."""
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def reconcile(view, now: float, new_id: IdFactory = schema.new_id,
              budget: CreationBudget | None = None) -> Decision:
    """Ops that make every service's tasks match its spec, plus the next restart deadline as ``wake_at``;
    at most ``budget`` (TASKS_CREATED_PER_PASS) creations, the rest left to the next passes."""
    index = ViewIndex(view)
    decision = Decision()
    budget = budget or CreationBudget()
    for service_id in sorted(index.services):
        service = index.services[service_id]
        mode_reconciler = MODE_RECONCILERS.get(schema.service_mode(service))
        if mode_reconciler is not None:
            mode_reconciler(index, service, now, new_id, decision, budget)
    decision.ops.extend(reaper.orphan_ops(index))
    decision.ops.extend(reaper.history_ops(index))
    return decision


def reconcile_replicated(index: ViewIndex, service: dict, now: float, new_id: IdFactory,
                         decision: Decision, budget: CreationBudget) -> None:
    """Add to ``decision`` the ops that give ``service`` one current task in each slot 1..Replicas
    (creating no more tasks than ``budget`` allows)."""
    replicas = schema.desired_replicas(service)
    slots = index.service_slots(service["ID"])
    for slot in sorted(slots, reverse=True):
        if slot > replicas:
            decision.ops.extend(shutdown(task) for task in slots[slot] if wants_running(task))
    policy = RestartPolicy.of(service)

    def reconciler(slot: int) -> SlotReconciler:
        return SlotReconciler(index, service, slot, policy, now, new_id, decision, budget)

    live_slots = {slot: tasks for slot, tasks in slots.items() if slot <= replicas and not ended_for_good(tasks)}
    # The updater takes slots whose task is out of date, the rebalancer slots whose tasks are all current.
    update = plan_update(service, live_slots, now, index.node_lost)
    rebalance = plan_rebalance(service, live_slots, index, now)
    for plan in (update, rebalance):
        apply_update(plan, service, decision, lambda slot: reconciler(slot).create(attempt=0))
    claimed = update.claimed | rebalance.claimed
    for slot in range(1, replicas + 1):
        if slot not in claimed and (slot in slots or budget.left > 0):
            reconciler(slot).run(slots.get(slot, []))


def apply_update(update: UpdatePlan, service: dict, decision: Decision, create: Callable[[object], None]) -> None:
    """Add the updater's ``update`` for ``service`` to ``decision``; ``create(key)`` makes a new task for a
    key (a slot, or a node for a global service), within the pass's creation budget."""
    decision.ops.extend(shutdown(task) for task in update.shutdown)
    for key in update.create:
        create(key)
    if update.service_changes:
        decision.ops.append(patch_op("services", service, update.service_changes))
    if update.wake_at is not None:
        decision.wake_no_later_than(update.wake_at)


MODE_RECONCILERS = {"replicated": reconcile_replicated}


class SlotReconciler:
    """Decides for one slot of one replicated service."""

    def __init__(self, index: ViewIndex, service: dict, slot: int, policy: RestartPolicy, now: float,
                 new_id: IdFactory, decision: Decision, budget: CreationBudget):
        self.index, self.service, self.slot, self.policy = index, service, slot, policy
        self.now, self.new_id, self.decision, self.budget = now, new_id, decision, budget

    def run(self, history: list[dict]) -> None:
        """Decide for the slot whose tasks, oldest first, are ``history``."""
        current = [task for task in history if wants_running(task)]
        if not current:
            if not ended_for_good(history):
                self.create(attempt=0)
            return
        live = [task for task in current if not is_ended(task)]
        keeper = (live or current)[-1]
        self.decision.ops.extend(shutdown(task) for task in current if task is not keeper)
        if is_ended(keeper):
            self.restart(keeper)
        elif self.index.node_lost(keeper.get("NodeID", "")):
            self.replace(keeper, attempt=attempt_of(keeper))

    def restart(self, ended: dict) -> None:
        """Apply the restart policy to the slot's current task, which has ended."""
        refusal = self.policy.refusal(ended)
        if refusal is not None:
            self.decision.ops.append(shutdown(ended, {"Shoal.RestartRefused": refusal}))
            return
        restart_at = self.policy.restart_at(ended)
        if restart_at > self.now:
            self.decision.wake_no_later_than(restart_at)
            return
        self.replace(ended, attempt=attempt_of(ended) + 1)

    def replace(self, task: dict, attempt: int) -> None:
        """Shut ``task`` down and create its successor in the slot (both in a later pass when this
        pass may create no more tasks, so the slot is never left without a current task by us)."""
        if self.budget.left <= 0:
            return
        self.decision.ops.append(shutdown(task))
        self.create(attempt)

    def create(self, attempt: int) -> None:
        """Create a new task for the slot, if the pass's budget allows."""
        if not self.budget.take():
            return
        task = new_task(self.service, self.slot, attempt, self.now, self.new_id())
        self.decision.ops.append({"op": "create", "table": "tasks", "object": task})


def ended_for_good(history: list[dict]) -> bool:
    """True if a slot whose tasks, oldest first, are ``history`` was ended by its restart policy:
    no task is meant to run and the newest says why it was not restarted."""
    return (bool(history) and not any(map(wants_running, history))
            and bool(schema.get_path(history[-1], "Shoal.RestartRefused")))


def new_task(service: dict, slot: int, attempt: int, now: float, task_id: str) -> dict:
    """A task of ``service`` for ``slot``, as the orchestrator creates it (state ``new``, desired ``running``)."""
    return {
        "ID": task_id,
        "ServiceID": service["ID"],
        "Slot": slot,
        "NodeID": "",
        "Spec": copy.deepcopy(schema.get_path(service, "Spec.TaskTemplate") or {}),
        # The service's name and labels, as swarmkit copies them: the executor's templates read them.
        "ServiceAnnotations": {"Name": schema.get_path(service, "Spec.Name", ""),
                               "Labels": dict(schema.get_path(service, "Spec.Labels") or {})},
        "SpecVersion": {"Index": schema.get_path(service, "SpecVersion.Index", 0)},
        "DesiredState": schema.RUNNING,
        "Status": schema.task_status(schema.NEW, "created", now),
        "Shoal": {"Attempt": attempt},
    }


def shutdown(task: dict, extra: dict | None = None) -> dict:
    """A version-checked patch setting ``task``'s desired state to ``shutdown`` (plus ``extra`` fields)."""
    return patch_op("tasks", task, {"DesiredState": schema.SHUTDOWN, **(extra or {})})

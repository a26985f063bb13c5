"""The slot machinery every mode reconciler shares (see reconcile.py for the rules it carries out).

:class:`ServicePass` is one service's share of a reconcile pass;
:class:`SlotReconciler` keeps one slot (a slot number, or a node for global
tasks) at exactly one current task under the restart policy and the node rules.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

from actors.common import jobs
from actors.common.viewindex import Decision, ViewIndex, attempt_of, is_ended, patch_op, wants_running
from actors.orchestrator.eligibility import NodeRules
from actors.orchestrator.restart import RestartPolicy, restarts_of
from actors.orchestrator.update import UpdatePlan
from transport import limits, schema
from transport.pages import encoded_size

IdFactory = Callable[[], str]


class CreationBudget:
    """How many more tasks, and how many bytes of task spec copied into them, one decision may create:
    a pass's work and memory stay bounded whatever the replica counts and spec sizes, and the controller
    decides again at once while the last pass created some. Each pass walks every slot of the service,
    so a scale-up of N tasks costs N / ``tasks`` passes of up to N slots: the bound is large."""

    def __init__(self, tasks: int = limits.TASKS_CREATED_PER_PASS,
                 spec_bytes: int = limits.SPEC_BYTES_CREATED_PER_PASS):
        self.left = tasks
        self.bytes_left = spec_bytes
        self.refusals = 0  # creations asked for and refused: work left to a later pass

    def take(self, spec_bytes: int = 0) -> bool:
        """Spend one creation of a task whose spec encodes to ``spec_bytes``; False (counted in
        ``refusals``) when none is left."""
        if self.exhausted():
            return False
        self.left -= 1
        self.bytes_left -= spec_bytes
        return True

    def exhausted(self) -> bool:
        """True (counted in ``refusals``) when no creation is left: the caller's work waits for a later pass."""
        if self.left <= 0 or self.bytes_left <= 0:
            self.refusals += 1
            return True
        return False


@dataclass
class ServicePass:
    """One service's share of a reconcile pass: what every decision about its tasks reads and adds to."""

    index: ViewIndex
    service: dict
    now: float
    new_id: IdFactory
    decision: Decision
    budget: CreationBudget

    @cached_property
    def policy(self) -> RestartPolicy:
        """The service's restart policy."""
        return RestartPolicy.of(self.service)

    @cached_property
    def spec_bytes(self) -> int:
        """The encoded size of the spec each new task of the service copies."""
        return encoded_size(schema.get_path(self.service, "Spec.TaskTemplate") or {})

    @cached_property
    def rules(self) -> NodeRules:
        """Which nodes may hold the service's tasks."""
        return NodeRules(self.index, self.service)

    def must_leave(self, node_id: str) -> bool:
        """True if a task on ``node_id`` must leave it now (see :meth:`NodeRules.eviction`)."""
        return self.rules.eviction(node_id) is not None

    def apply_update(self, update: UpdatePlan, create: Callable[[object], object]) -> None:
        """Add the updater's ``update`` to the decision; ``create(key)`` makes a new task for a key (a
        slot, or a node for a global service), within the pass's creation budget."""
        self.decision.ops.extend(shutdown(task) for task in update.shutdown)
        for key in update.create:
            create(key)
        if update.service_changes:
            self.decision.ops.append(patch_op("services", self.service, update.service_changes))
        if update.wake_at is not None:
            self.decision.wake_no_later_than(update.wake_at)

    def create(self, slot: int, attempt: int, node_id: str = "", restarts: list[float] | None = None) -> bool:
        """Propose a new task for ``slot`` (0 and ``node_id`` for a node's task); False when the pass's
        budget allows no more creations."""
        if not self.budget.take(self.spec_bytes):
            return False
        task = new_task(self.service, slot, attempt, self.now, self.new_id(), node_id=node_id, restarts=restarts)
        self.decision.ops.append({"op": "create", "table": "tasks", "object": task})
        return True


class SlotReconciler:
    """Decides for one slot of one service: a slot number, or a node (``slot`` 0) for a global task."""

    def __init__(self, service_pass: ServicePass, slot: int, node_id: str = ""):
        self.service_pass, self.slot, self.node_id = service_pass, slot, node_id
        self.decision = service_pass.decision

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
        elif self.service_pass.rules.eviction(keeper.get("NodeID", "")):
            self.replace(keeper, attempt_of(keeper), restarts_of(keeper))

    def restart(self, ended: dict) -> None:
        """Apply the restart policy to the slot's current task, which has ended."""
        policy, now = self.service_pass.policy, self.service_pass.now
        refusal = policy.refusal(ended, now)
        if refusal is not None:
            self.decision.ops.append(shutdown(ended, {"Shoal.RestartRefused": refusal}))
            return
        restart_at = policy.restart_at(ended)
        if restart_at > now:
            self.decision.wake_no_later_than(restart_at)
            return
        self.replace(ended, attempt_of(ended) + 1, policy.restarts_after(ended, now))

    def replace(self, task: dict, attempt: int, restarts: list[float]) -> None:
        """Shut ``task`` down and create its successor in the slot (both in a later pass when this
        pass may create no more tasks, so the slot is never left without a current task by us)."""
        if self.service_pass.budget.exhausted():
            return
        self.decision.ops.append(shutdown(task))
        self.create(attempt, restarts)

    def create(self, attempt: int, restarts: list[float] | None = None) -> None:
        """Create a new task for the slot, if the pass's budget allows."""
        self.service_pass.create(self.slot, attempt, self.node_id, restarts)


def ended_for_good(history: list[dict]) -> bool:
    """True if a slot whose tasks, oldest first, are ``history`` was ended by its restart policy:
    no task is meant to run and the newest says why it was not restarted."""
    return (bool(history) and not any(map(wants_running, history))
            and bool(schema.get_path(history[-1], "Shoal.RestartRefused")))


def kept_slots(index: ViewIndex, service_id: str) -> dict[int, list[dict]]:
    """Slot number -> tasks (oldest first) of the slots of ``service_id`` that count towards its
    replicas: every slot but those a scale-down removed (their newest task desired ``remove``)."""
    return {slot: history for slot, history in index.service_slots(service_id).items()
            if history[-1].get("DesiredState") != schema.REMOVE}


def new_task(service: dict, slot: int, attempt: int, now: float, task_id: str, node_id: str = "",
             restarts: list[float] | None = None) -> dict:
    """A task of ``service`` for ``slot`` (or, already assigned, for ``node_id``), as the orchestrator
    creates it: state ``new``, desired ``running``, a job's task in the job's current iteration."""
    task = {
        "ID": task_id,
        "ServiceID": service["ID"],
        "Slot": slot,
        "NodeID": node_id,
        "Spec": copy.deepcopy(schema.get_path(service, "Spec.TaskTemplate") or {}),
        # The service's name and labels, as swarmkit copies them: the executor's templates read them.
        "ServiceAnnotations": {"Name": schema.get_path(service, "Spec.Name", ""),
                               "Labels": dict(schema.get_path(service, "Spec.Labels") or {})},
        "SpecVersion": {"Index": schema.get_path(service, "SpecVersion.Index", 0)},
        "DesiredState": schema.RUNNING,
        "Status": schema.task_status(schema.NEW, "created", now),
        "Shoal": {"Attempt": attempt, **({"Restarts": list(restarts)} if restarts else {})},
    }
    if jobs.is_job(service):
        task["JobIteration"] = {"Index": jobs.iteration(service)}
    return task


def shutdown(task: dict, extra: dict | None = None) -> dict:
    """A version-checked patch setting ``task``'s desired state to ``shutdown`` (plus ``extra`` fields)."""
    return patch_op("tasks", task, {"DesiredState": schema.SHUTDOWN, **(extra or {})})

"""The updater: replaces a service's out-of-date tasks a few slots at a time, as Docker's rolling update does.

:func:`plan_update` is pure: from a service, its *slots* (a key -> that slot's
tasks, oldest first; the key is the slot number of a replicated service, the
node id of a global one) and ``now``, it returns an :class:`UpdatePlan`. The
caller turns it into ops, creates the tasks it asks for, and leaves the
slots it *claims* alone for this pass; every other slot stays with the
caller's own reconciler (restarts, node loss, a missing task).

A task is *dirty* when its ``Spec`` differs from the service's
``Spec.TaskTemplate`` or its host-mode ports differ from the spec's
(:func:`actors.common.taskspec.is_dirty`). A slot whose live task is dirty is replaced within the
update policy (``Spec.UpdateConfig``, or ``Spec.RollbackConfig`` while
rolling back; Docker's defaults): at most ``Parallelism`` slots are *busy* at
once (0 = all), a slot being busy while

- stop-first: its old (dirty) task is stopping (claimed: the caller creates
  the new task once the old one has stopped), then its new task is coming up;
- start-first: its new task runs beside the old one (claimed) until it is
  running, when the old one is shut down;
- ``Delay`` has not passed since its new task came up.

A task of the service's current ``SpecVersion`` that ends while still meant
to run, before it has been running for ``Monitor`` (``Shoal.RunningAt``, set
by the dispatcher), is a failure, recorded in ``UpdateStatus.Shoal.Failed``.
Once failures exceed ``MaxFailureRatio`` of the slots the update concerns,
``FailureAction`` pauses the update, lets it continue, or rolls the service
back to ``PreviousSpec`` (a rollback itself only pauses or continues).

The orchestrator writes ``UpdateStatus``: ``updating`` when dirty slots
appear, ``paused``/``rollback_paused`` with a Message saying why,
``completed``/``rollback_completed`` once no slot is dirty or busy and every
new task has run for ``Monitor``. With ``Shoal.Step`` it pauses after each
batch (``Shoal.StepTaken`` marks the batch under way). Delays and monitor
windows come back as ``wake_at``; nothing here waits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Hashable

from actors.common.specwrites import rollback_changes
from actors.common.taskspec import is_dirty
from actors.common.viewindex import is_ended, observed_state, wants_running
from transport import limits, model, schema

PAUSE, CONTINUE, ROLLBACK = "pause", "continue", "rollback"
STOP_FIRST, START_FIRST = "stop-first", "start-first"
UPDATING, PAUSED, COMPLETED = "updating", "paused", "completed"
ROLLBACK_STARTED, ROLLBACK_PAUSED, ROLLBACK_COMPLETED = "rollback_started", "rollback_paused", "rollback_completed"
ROLLING_BACK = (ROLLBACK_STARTED, ROLLBACK_PAUSED)
RUNNING_STATES = (UPDATING, ROLLBACK_STARTED)
SETTLED_STATES = (None, COMPLETED, ROLLBACK_COMPLETED)
DEFAULT_MONITOR_NS = 5_000_000_000


@dataclass(frozen=True)
class UpdatePolicy:
    """One service's UpdateConfig (or RollbackConfig), with Docker's defaults; times in seconds."""

    parallelism: int = 1
    delay: float = 0.0
    failure_action: str = PAUSE
    monitor: float = DEFAULT_MONITOR_NS / 1e9
    max_failure_ratio: float = 0.0
    order: str = STOP_FIRST

    @classmethod
    def of(cls, config: dict | None) -> "UpdatePolicy":
        """The policy ``config`` describes; a missing field takes Docker's default, and a config the
        model refuses (one stored before it was checked) is ignored whole rather than half-trusted."""
        try:
            model.update_config(*model.FAILURE_ACTIONS)(config or {}, "UpdateConfig")
        except model.Invalid:
            config = {}
        config = config or {}
        return cls(parallelism=config.get("Parallelism", 1), delay=config.get("Delay", 0) / 1e9,
                   failure_action=config.get("FailureAction", PAUSE),
                   monitor=config.get("Monitor", DEFAULT_MONITOR_NS) / 1e9,
                   max_failure_ratio=float(config.get("MaxFailureRatio", 0)), order=config.get("Order", STOP_FIRST))


def running_since(task: dict) -> float:
    """When ``task`` came up (store time, epoch seconds): ``Shoal.RunningAt``, else its running status's time."""
    return schema.stored_time(schema.get_path(task, "Shoal.RunningAt") or schema.get_path(task, "Status.Timestamp"))


@dataclass
class UpdatePlan:
    """What the updater wants this pass.

    ``create``: keys that need a new task from the current spec now; ``shutdown``: tasks to shut down;
    ``claimed``: keys the caller's reconciler must leave alone this pass; ``service_changes``: dotted path
    -> value to patch on the service, version-checked ({} = none); ``wake_at``: when to decide again."""

    create: list = field(default_factory=list)
    shutdown: list[dict] = field(default_factory=list)
    claimed: set = field(default_factory=set)
    service_changes: dict = field(default_factory=dict)
    wake_at: float | None = None

    def wake_no_later_than(self, moment: float) -> None:
        """Lower ``wake_at`` to ``moment`` if that is earlier (or nothing is set)."""
        if self.wake_at is None or moment < self.wake_at:
            self.wake_at = moment


NodeLost = Callable[[str], bool]


def plan_update(service: dict, slots: dict[Hashable, list[dict]], now: float, node_lost: NodeLost) -> UpdatePlan:
    """The updater's next move for ``service`` over ``slots`` at ``now`` (see the module docstring).

    ``slots`` holds only the keys that should each run a task (not a slot ended for good, nor a node
    the service no longer runs on): a key without a task meant to run counts as busy, since the
    caller gives it one. ``node_lost(node_id)`` says whether a task's node is down or gone."""
    return _Planner(service, slots, now, node_lost).plan()


class _Planner:
    """One pass of the updater over one service."""

    def __init__(self, service: dict, slots: dict, now: float, node_lost: NodeLost):
        self.service, self.slots, self.now, self.node_lost = service, slots, now, node_lost
        self.status = copy.deepcopy(service.get("UpdateStatus") or {})
        self.state = self.status.get("State")
        self.rolling_back = self.state in ROLLING_BACK
        spec = service.get("Spec") or {}
        self.policy = UpdatePolicy.of(spec.get("RollbackConfig" if self.rolling_back else "UpdateConfig"))
        self.version = schema.get_path(service, "SpecVersion.Index", 0)
        self.result = UpdatePlan()
        self.busy = 0          # slots in flight or within Delay of coming up
        self.dirty: list = []  # keys whose live task is dirty and may be replaced now
        self.remaining = False  # a dirty slot the caller is replacing (ended task, lost node)
        self.unproven = False  # a new task not yet running for Monitor
        self.wakes: list[float] = []  # when a Delay or a Monitor window ends

    def plan(self) -> UpdatePlan:
        for key in sorted(self.slots):
            self.survey(key, self.slots[key])
        if self.state in SETTLED_STATES and self.dirty:
            self.start()
        if self.state in RUNNING_STATES and not self.monitor():
            self.advance()
        self.write_status()
        return self.result

    # -- what each slot is doing ---------------------------------------------------------------

    def survey(self, key, tasks: list[dict]) -> None:
        """Finish what is in flight in slot ``key`` and note whether it is busy or dirty."""
        current = [task for task in tasks if wants_running(task)]
        live = [task for task in current if not is_ended(task)]
        if not current:
            self.busy += 1  # down: the old task is stopping, or the caller makes the new one this pass
            if any(self.stopping(task) and self.dirty_task(task) for task in tasks):
                self.claim(key)  # stop-first: the successor waits until the old task has stopped
            return
        if not live:
            self.remaining |= self.dirty_task(current[-1])  # the restart policy replaces it
            return
        old = [task for task in live if self.dirty_task(task)]
        new = [task for task in live if task not in old]
        if old and new:
            self.finish_start_first(key, old, new[-1])
        elif old:
            if self.node_lost(old[-1].get("NodeID", "")):
                self.remaining = True  # the caller replaces it, from the current spec
            else:
                self.dirty.append(key)
        else:
            self.watch_new(live[-1])

    def dirty_task(self, task: dict) -> bool:
        return is_dirty(task, self.service)

    def stopping(self, task: dict) -> bool:
        """True if ``task`` was told to stop and still holds its node (which is up)."""
        node_id = task.get("NodeID", "")
        return not wants_running(task) and not is_ended(task) and bool(node_id) and not self.node_lost(node_id)

    def finish_start_first(self, key, old: list[dict], new: dict) -> None:
        """A slot with old and new tasks live: shut the old ones down once the new one runs; a new task
        on a lost node is given up (the slot stays dirty, to be tried again)."""
        self.claim(key)
        if self.node_lost(new.get("NodeID", "")):
            self.result.shutdown.append(new)
            self.dirty.append(key)
        elif observed_state(new) == schema.RUNNING:
            self.result.shutdown.extend(old)
            self.watch_new(new)
        else:
            self.busy += 1

    def watch_new(self, task: dict) -> None:
        """Count a slot whose live task is current: busy while coming up or within Delay of it."""
        if observed_state(task) != schema.RUNNING:
            self.busy += 1
            return
        since = running_since(task)
        if since + self.policy.delay > self.now:
            self.busy += 1
            self.wakes.append(since + self.policy.delay)
        if self.of_this_update(task) and since + self.policy.monitor > self.now:
            self.unproven = True
            self.wakes.append(since + self.policy.monitor)

    def claim(self, key) -> None:
        self.result.claimed.add(key)

    def of_this_update(self, task: dict) -> bool:
        """True if ``task`` was made from the service's current spec version."""
        return schema.get_path(task, "SpecVersion.Index") == self.version

    # -- the update's course -------------------------------------------------------------------

    def start(self) -> None:
        """Dirty slots appeared while no update ran: one starts (a stepped one keeps its Step)."""
        step = schema.get_path(self.status, "Shoal.Step")
        self.status = {"State": UPDATING, "StartedAt": schema.format_time(self.now), "Message": "update in progress"}
        if step:
            self.status["Shoal"] = {"Step": True}
        self.state = UPDATING

    def monitor(self) -> bool:
        """Record new tasks that failed early; past MaxFailureRatio, apply the FailureAction. True when
        that stopped the update's progress for this pass (paused or rolled back)."""
        failed = list(schema.get_path(self.status, "Shoal.Failed") or [])
        counted = set(failed)
        fresh = [task["ID"] for tasks in self.slots.values() for task in tasks
                 if task["ID"] not in counted and self.failed_early(task)]
        if not fresh:
            return False
        failed = (failed + fresh)[:limits.REPLICAS]
        self.status.setdefault("Shoal", {})["Failed"] = failed
        concerned = {key for key, tasks in self.slots.items() if any(map(self.of_this_update, tasks))}
        concerned.update(self.dirty)
        if len(failed) / max(1, len(concerned)) <= self.policy.max_failure_ratio:
            return False
        return self.on_failure(fresh[0])

    def failed_early(self, task: dict) -> bool:
        """True if ``task``, of this update, ended while meant to run, within Monitor of coming up (or
        before it ever ran)."""
        if not (self.of_this_update(task) and wants_running(task) and is_ended(task)):
            return False
        if not schema.get_path(task, "Shoal.RunningAt"):
            return True
        ended_at = schema.stored_time(schema.get_path(task, "Status.Timestamp"))
        return ended_at - running_since(task) <= self.policy.monitor

    def on_failure(self, task_id: str) -> bool:
        """Apply the FailureAction after too many failures, ``task_id`` being the first new one; True
        unless it is ``continue``. A rollback never rolls back, and one without a PreviousSpec pauses."""
        action = self.policy.failure_action
        if action == CONTINUE:
            return False
        if action == ROLLBACK and not self.rolling_back and self.service.get("PreviousSpec"):
            self.roll_back(f"update rolled back due to failure or early termination of task {task_id}")
        else:
            what = "rollback" if self.rolling_back else "update"
            self.pause(f"{what} paused due to failure or early termination of task {task_id}")
        return True

    def pause(self, message: str) -> None:
        self.state = ROLLBACK_PAUSED if self.rolling_back else PAUSED
        self.status.update({"State": self.state, "Message": message})
        self.status.get("Shoal", {}).pop("StepTaken", None)

    def roll_back(self, message: str) -> None:
        """Spec <- PreviousSpec, as the control API's rollback does, started by the orchestrator."""
        self.result.service_changes.update(rollback_changes(self.service))
        self.status = {"State": ROLLBACK_STARTED, "StartedAt": schema.format_time(self.now), "Message": message}
        self.state = ROLLBACK_STARTED  # no slot moves this pass: the next one sees the rolled-back spec

    def advance(self) -> None:
        """Start the next slots, pause after a step, or complete."""
        step_taken = bool(schema.get_path(self.status, "Shoal.StepTaken"))
        for moment in self.wakes:
            self.result.wake_no_later_than(moment)
        if not self.dirty and not self.busy and not self.remaining and not self.unproven:
            self.complete()
        elif step_taken and not self.busy and self.dirty:
            self.pause(f"{'rollback' if self.rolling_back else 'update'} paused after one step: "
                       "'shoal service update --continue' runs the next")
        elif not step_taken:
            self.launch()

    def launch(self) -> None:
        """Replace as many dirty slots as Parallelism leaves room for."""
        room = len(self.dirty) if self.policy.parallelism == 0 else self.policy.parallelism - self.busy
        batch = self.dirty[:max(0, room)]
        for key in batch:
            self.claim(key)
            live = [task for task in self.slots[key] if wants_running(task) and not is_ended(task)]
            if self.policy.order == START_FIRST:
                self.result.create.append(key)
            else:
                self.result.shutdown.extend(live)
        if batch and schema.get_path(self.status, "Shoal.Step"):
            self.status["Shoal"]["StepTaken"] = True

    def complete(self) -> None:
        self.state = ROLLBACK_COMPLETED if self.rolling_back else COMPLETED
        self.status.update({"State": self.state, "CompletedAt": schema.format_time(self.now),
                            "Message": "rollback completed" if self.rolling_back else "update completed"})
        self.status.pop("Shoal", None)

    def write_status(self) -> None:
        if self.status != (self.service.get("UpdateStatus") or {}):
            self.result.service_changes["UpdateStatus"] = self.status

"""The scheduler's queue metrics: how many tasks wait to be placed, and how long each waited.

:class:`PendingQueue` (pure) keeps, from the view's changes, the tasks a shard places that wait for it
(observed ``pending``, desired ``running``) with the time each became pending (its status timestamp), and
gives the wait of each that leaves the queue assigned. :class:`PendingMetrics` exports them, only while
this instance holds the shard's lease: the gauge is removed when the lease is lost, and waits are counted
only while it is held.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import Gauge, Histogram

from actors.common.series import remove_series
from actors.common.view import StoreView
from actors.common.viewindex import observed_state, wants_running
from actors.scheduler.shard import Shard
from transport import schema

PENDING_TASKS = Gauge("shoal_scheduler_pending_tasks", "Tasks waiting to be placed (pending, desired running) "
                      "that this scheduler places", ["controller"])
PENDING_SECONDS = Histogram("shoal_scheduler_pending_seconds", "Each task's time from pending to assigned",
                            ["controller"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


class PendingQueue:
    """The tasks ``shard`` places that wait to be placed, with the time each became pending."""

    def __init__(self, shard: Shard):
        self._shard = shard
        self.since: dict[str, float] = {}  # task id -> when it became pending

    def reloaded(self, tasks: Iterable[dict]) -> None:
        """Start again from a whole tasks table (after a snapshot)."""
        self.since = {task["ID"]: _status_time(task) for task in tasks if self._waits(task)}

    def changed(self, old: dict | None, new: dict | None) -> float | None:
        """Follow one task from ``old`` to ``new``; the seconds it waited when this change assigned it, else None."""
        task_id = (new or old)["ID"]
        if new is not None and self._waits(new):
            self.since.setdefault(task_id, _status_time(new))
            return None
        since = self.since.pop(task_id, None)
        if since is None or new is None or observed_state(new) != schema.ASSIGNED:
            return None
        return max(0.0, _status_time(new) - since)

    def _waits(self, task: dict) -> bool:
        return observed_state(task) == schema.PENDING and wants_running(task) and self._shard.owns(task)


def _status_time(task: dict) -> float:
    return schema.parse_time(schema.get_path(task, "Status.Timestamp") or "")


class PendingMetrics:
    """Exports a :class:`PendingQueue` kept from a view (:meth:`attach`) while the lease is held (:meth:`after_pass`
    and :meth:`lease`: the Controller's ``on_pass`` and ``on_lease``)."""

    def __init__(self, shard: Shard):
        self.queue = PendingQueue(shard)
        self.held = False
        self._view: StoreView | None = None
        self._controller = shard.lease
        PENDING_SECONDS.labels(self._controller)

    def attach(self, view: StoreView) -> None:
        """Follow ``view``'s changes from now on (before it loads its first snapshot)."""
        self._view = view
        view.observe(self)

    def record(self, table: str, object_id: str, old: dict | None, new: dict | None) -> None:
        """Follow one change of the view (tasks only)."""
        if table == "tasks":
            waited = self.queue.changed(old, new)
            if waited is not None and self.held:
                PENDING_SECONDS.labels(self._controller).observe(waited)

    def record_everything(self) -> None:
        """Start again from the tasks of the snapshot that replaced the view."""
        self.queue.reloaded(self._view.table("tasks").values())

    def lease(self, held: bool) -> None:
        """The lease was taken or lost (the queue's gauge goes)."""
        self.held = held
        if not held:
            remove_series(PENDING_TASKS, self._controller)

    def after_pass(self, view: StoreView) -> None:
        """Export the queue's length."""
        PENDING_TASKS.labels(self._controller).set(len(self.queue.since))

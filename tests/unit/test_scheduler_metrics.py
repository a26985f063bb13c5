"""The scheduler's pending queue and pending-to-assigned waits, kept change by change (actors/scheduler/metrics.py)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from actors.common.view import StoreView
from actors.scheduler.metrics import PendingMetrics, PendingQueue
from actors.scheduler.shard import EVERY_TASK, Shard
from transport import schema


def task(task_id: str, state: str, at: float, service_id: str = "s1", desired: str = "running",
         message: str = "") -> dict:
    return {"ID": task_id, "ServiceID": service_id, "DesiredState": desired, "Spec": {},
            "Status": {"State": state, "Timestamp": schema.format_time(at), "Message": message}}


def test_a_wait_counts_from_becoming_pending_to_being_assigned_whatever_notes_came_between():
    queue = PendingQueue(EVERY_TASK)
    assert queue.changed(task("a", "new", 10.0), task("a", "pending", 11.0)) is None
    assert queue.changed(task("a", "pending", 11.0), task("a", "pending", 12.0, message="no suitable node")) is None
    assert set(queue.since) == {"a"}
    assert queue.changed(task("a", "pending", 12.0), task("a", "assigned", 13.5)) == 2.5
    assert queue.since == {}


def service_of(shard: Shard, owned: bool = True) -> str:
    """A service id whose tasks ``shard`` places (or, with ``owned`` False, does not)."""
    return next(f"s{number}" for number in range(100) if shard.owns({"ServiceID": f"s{number}", "Spec": {}}) == owned)


def test_the_queue_holds_only_its_shards_tasks_meant_to_run_and_starts_again_from_a_snapshot():
    shard = Shard(1, 2)
    owned, other = service_of(shard), service_of(shard, owned=False)
    queue = PendingQueue(shard)
    queue.reloaded([task("a", "pending", 1.0, owned), task("b", "pending", 1.0, other),
                    task("c", "pending", 1.0, owned, desired="shutdown"), task("d", "running", 1.0, owned)])
    assert set(queue.since) == {"a"}
    assert queue.changed(task("a", "pending", 1.0, owned), task("a", "pending", 1.0, owned, desired="shutdown")) is None
    assert queue.changed(task("a", "pending", 1.0, owned), None) is None and queue.since == {}


def test_the_gauge_goes_with_the_lease_and_waits_count_only_while_it_is_held():
    shard = Shard(2, 3)
    metrics = PendingMetrics(shard)
    labels = {"controller": "scheduler-2"}
    owned = service_of(shard)
    view = StoreView(None, None)
    metrics.attach(view)
    view.load({"index": 1, "tables": {"tasks": {}}})
    assert REGISTRY.get_sample_value("shoal_scheduler_pending_seconds_count", labels) == 0
    metrics.record("tasks", "x", None, task("a", "pending", 5.0, owned))
    metrics.record("tasks", "x", task("a", "pending", 5.0, owned), task("a", "assigned", 6.0, owned))  # not held: not counted
    assert REGISTRY.get_sample_value("shoal_scheduler_pending_seconds_count", labels) == 0
    metrics.lease(True)
    metrics.record("tasks", "x", None, task("b", "pending", 5.0, owned))
    metrics.after_pass(None)
    assert REGISTRY.get_sample_value("shoal_scheduler_pending_tasks", labels) == 1
    metrics.record("tasks", "x", task("b", "pending", 5.0, owned), task("b", "assigned", 5.25, owned))
    assert REGISTRY.get_sample_value("shoal_scheduler_pending_seconds_sum", labels) == 0.25
    metrics.lease(False)
    assert REGISTRY.get_sample_value("shoal_scheduler_pending_tasks", labels) is None

"""The orchestrator's metrics follow the view's changes (actors/orchestrator/metrics.py): a changed task's
service is counted again, a removed service's series go, a new service may take a removed one's name, and
only the lease holder exports gauges and counts events."""

from __future__ import annotations

from prometheus_client import REGISTRY

from actors.common.view import StoreView
from actors.orchestrator.metrics import ReconcileMetrics
from transport import schema


def service(service_id: str, name: str, replicas: int, version: int = 1, updated: float = 100.0,
            image: str = "img") -> dict:
    return {"ID": service_id, "SpecVersion": {"Index": version}, "UpdatedAt": schema.format_time(updated),
            "Spec": {"Name": name, "Mode": {"Replicated": {"Replicas": replicas}},
                     "TaskTemplate": {"ContainerSpec": {"Image": image}}}}


def task(task_id: str, service_id: str, state: str, desired: str = "running", message: str = "",
         image: str = "img") -> dict:
    return {"ID": task_id, "ServiceID": service_id, "Slot": 1, "NodeID": "n1", "DesiredState": desired,
            "Status": {"State": state, "Message": message}, "CreatedAt": task_id,
            "Spec": {"ContainerSpec": {"Image": image}}}


def node(node_id: str, role: str, state: str, availability: str = "active") -> dict:
    return {"ID": node_id, "Spec": {"Role": role, "Availability": availability}, "Status": {"State": state}}


def sample(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def gauges_of(name: str) -> tuple:
    return tuple(sample(f"shoal_service_{kind}_tasks", service=name) for kind in ("desired", "running"))


def put(view: StoreView, table: str, obj: dict) -> None:
    view.apply({"index": view.index + 1, "time": 0, "changes": [
        {"table": table, "id": obj["ID"], "action": "put", "object": obj}]})


def delete(view: StoreView, table: str, object_id: str) -> None:
    view.apply({"index": view.index + 1, "time": 0, "changes": [
        {"table": table, "id": object_id, "action": "delete"}]})


def holding(tables: dict) -> tuple[StoreView, ReconcileMetrics]:
    """A view loaded with ``tables``, followed by metrics whose instance holds the lease, after a first pass."""
    view = StoreView(None, None)
    metrics = ReconcileMetrics()
    metrics.attach(view)
    view.load({"index": 1, "tables": {"services": {}, "tasks": {}, "nodes": {}, **tables}})
    metrics.lease(True)
    metrics.after_pass(view)
    return view, metrics


def test_gauges_follow_changed_tasks_and_services():
    view, metrics = holding({
        "services": {"s1": service("s1", "gauged-web", 2), "s2": service("s2", "gauged-db", 1)},
        "tasks": {"a": task("a", "s1", "running"), "b": task("b", "s1", "running"), "c": task("c", "s2", "pending")}})
    assert gauges_of("gauged-web") == (2, 2) and gauges_of("gauged-db") == (1, 0)

    put(view, "tasks", task("b", "s1", "failed"))
    put(view, "tasks", task("c", "s2", "running"))
    metrics.after_pass(view)
    assert gauges_of("gauged-web") == (2, 1) and gauges_of("gauged-db") == (1, 1)

    delete(view, "services", "s1")
    put(view, "services", service("s3", "gauged-db2", 3))
    metrics.after_pass(view)
    assert gauges_of("gauged-web") == (None, None) and gauges_of("gauged-db2") == (3, 0)

    delete(view, "services", "s2")
    put(view, "services", service("s3", "gauged-db", 3))  # renamed to the removed service's name
    metrics.after_pass(view)
    assert gauges_of("gauged-db") == (3, 0) and gauges_of("gauged-db2") == (None, None)


def test_gauges_count_every_service_again_after_a_snapshot():
    view, metrics = holding({"services": {"s1": service("s1", "gauged-snap", 1)}})
    assert gauges_of("gauged-snap") == (1, 0)
    view.load({"index": 5, "tables": {"services": {"s2": service("s2", "gauged-snap2", 2)},
                                      "tasks": {"a": task("a", "s2", "running")}, "nodes": {}}})
    metrics.after_pass(view)
    assert gauges_of("gauged-snap") == (None, None) and gauges_of("gauged-snap2") == (2, 1)
    assert sample("shoal_service_tasks", service="gauged-snap2", state="running") == 1


def test_tasks_by_state_start_at_zero_for_every_state_and_follow_each_change():
    view, metrics = holding({"services": {"s1": service("s1", "bystate", 2)},
                             "tasks": {"a": task("a", "s1", "pending")}})
    assert {state: sample("shoal_service_tasks", service="bystate", state=state) for state in schema.TASK_STATES} \
        == {**{state: 0 for state in schema.TASK_STATES}, "pending": 1}
    put(view, "tasks", task("a", "s1", "assigned"))
    put(view, "tasks", task("b", "s1", "new"))
    metrics.after_pass(view)
    assert sample("shoal_service_tasks", service="bystate", state="pending") == 0
    assert sample("shoal_service_tasks", service="bystate", state="assigned") == 1
    assert sample("shoal_service_tasks", service="bystate", state="new") == 1
    delete(view, "tasks", "b")
    metrics.after_pass(view)
    assert sample("shoal_service_tasks", service="bystate", state="new") == 0


def test_transitions_and_failures_are_counted_by_the_lease_holder_only_and_start_at_zero():
    view, metrics = holding({"services": {"s1": service("s1", "failing", 1)},
                             "tasks": {"a": task("a", "s1", "starting")}})
    assert sample("shoal_task_failures_total", service="failing", reason="nonzero_exit") == 0
    entered_failed = sample("shoal_task_transitions_total", state="failed")
    put(view, "tasks", task("a", "s1", "failed", message="task exited with non-zero code 3"))
    put(view, "tasks", task("b", "s1", "rejected"))
    put(view, "tasks", task("b", "s1", "rejected", message="again"))  # same state: no transition
    assert sample("shoal_task_transitions_total", state="failed") == entered_failed + 1
    assert sample("shoal_task_failures_total", service="failing", reason="nonzero_exit") == 1
    assert sample("shoal_task_failures_total", service="failing", reason="rejected") == 1

    metrics.lease(False)
    put(view, "tasks", task("c", "s1", "failed", message="unhealthy container"))
    assert sample("shoal_task_transitions_total", state="failed") == entered_failed + 1  # a standby counts nothing
    assert sample("shoal_task_failures_total", service="failing", reason="unhealthy") is None


def test_losing_the_lease_removes_every_gauge_and_taking_it_exports_them_again():
    view, metrics = holding({"services": {"s1": service("s1", "leased", 1)}, "tasks": {"a": task("a", "s1", "running")},
                             "nodes": {"n1": node("n1", "manager", "ready")}})
    assert gauges_of("leased") == (1, 1)
    assert sample("shoal_nodes", role="manager", state="ready", availability="active") == 1
    metrics.lease(False)
    assert gauges_of("leased") == (None, None)
    assert sample("shoal_service_tasks", service="leased", state="running") is None
    assert sample("shoal_nodes", role="manager", state="ready", availability="active") is None
    put(view, "tasks", task("b", "s1", "running"))  # counted meanwhile, exported once the lease is back
    metrics.lease(True)
    metrics.after_pass(view)
    assert gauges_of("leased") == (1, 2)
    assert sample("shoal_nodes", role="manager", state="ready", availability="active") == 1


def test_nodes_are_counted_by_role_state_and_availability_every_combination_from_zero():
    view, metrics = holding({"nodes": {"m1": node("m1", "manager", "ready"), "w1": node("w1", "worker", "ready"),
                                       "w2": node("w2", "worker", "ready", "drain")}})
    assert sample("shoal_nodes", role="worker", state="ready", availability="drain") == 1
    assert sample("shoal_nodes", role="worker", state="down", availability="pause") == 0
    put(view, "nodes", node("w1", "worker", "down"))
    metrics.after_pass(view)
    assert sample("shoal_nodes", role="worker", state="ready", availability="active") == 0
    assert sample("shoal_nodes", role="worker", state="down", availability="active") == 1


def test_a_scale_is_timed_from_its_spec_write_until_the_tasks_run():
    view, metrics = holding({"services": {"s1": service("s1", "scaled", 1)}, "tasks": {"a": task("a", "s1", "running")}})
    before = sample("shoal_service_converge_seconds_count", kind="scale")
    seconds_before = sample("shoal_service_converge_seconds_sum", kind="scale")
    written = view.now() - 4.0
    put(view, "services", service("s1", "scaled", 2, version=2, updated=written))
    put(view, "tasks", task("b", "s1", "starting"))
    metrics.after_pass(view)
    assert sample("shoal_service_converge_seconds_count", kind="scale") == before  # not yet
    put(view, "tasks", task("b", "s1", "running"))
    metrics.after_pass(view)
    assert sample("shoal_service_converge_seconds_count", kind="scale") == before + 1
    assert 4.0 <= sample("shoal_service_converge_seconds_sum", kind="scale") - seconds_before < 5.0
    put(view, "tasks", task("b", "s1", "failed"))
    put(view, "tasks", task("c", "s1", "running"))
    metrics.after_pass(view)
    assert sample("shoal_service_converge_seconds_count", kind="scale") == before + 1  # timed once


def test_after_a_snapshot_many_services_are_exported_over_several_passes(monkeypatch):
    from actors.orchestrator import metrics as orchestrator_metrics
    monkeypatch.setattr(orchestrator_metrics, "NEW_SERVICES_PER_PASS", 2)
    view, metrics = holding({"services": {f"s{n}": service(f"s{n}", f"batched{n}", 1) for n in range(5)}})
    exported = lambda: sum(gauges_of(f"batched{n}") == (1, 0) for n in range(5))  # noqa: E731
    assert exported() == 2
    metrics.after_pass(view)  # nothing changed: the pass goes on with those left
    assert exported() == 4
    metrics.after_pass(view)
    assert exported() == 5

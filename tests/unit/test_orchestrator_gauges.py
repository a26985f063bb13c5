"""The orchestrator's desired/running gauges follow the view's changes: a changed task's service is
counted again, a removed service's gauges go, and a new service may take a removed one's name."""

from __future__ import annotations

from prometheus_client import REGISTRY

from actors.common.view import StoreView
from actors.orchestrator.actor import ServiceGauges


def service(service_id: str, name: str, replicas: int) -> dict:
    return {"ID": service_id, "Spec": {"Name": name, "Mode": {"Replicated": {"Replicas": replicas}}}}


def task(task_id: str, service_id: str, state: str) -> dict:
    return {"ID": task_id, "ServiceID": service_id, "Slot": 1, "NodeID": "n1", "DesiredState": "running",
            "Status": {"State": state}, "CreatedAt": task_id}


def gauges_of(name: str) -> tuple:
    return tuple(REGISTRY.get_sample_value(f"shoal_service_{kind}_tasks", {"service": name})
                 for kind in ("desired", "running"))


def put(view: StoreView, table: str, obj: dict) -> None:
    view.apply({"index": view.index + 1, "time": 0, "changes": [
        {"table": table, "id": obj["ID"], "action": "put", "object": obj}]})


def delete(view: StoreView, table: str, object_id: str) -> None:
    view.apply({"index": view.index + 1, "time": 0, "changes": [
        {"table": table, "id": object_id, "action": "delete"}]})


def test_gauges_follow_changed_tasks_and_services():
    view = StoreView(None, None)
    view.load({"index": 1, "tables": {
        "services": {"s1": service("s1", "gauged-web", 2), "s2": service("s2", "gauged-db", 1)},
        "tasks": {"a": task("a", "s1", "running"), "b": task("b", "s1", "running"), "c": task("c", "s2", "pending")}}})
    gauges = ServiceGauges()
    gauges(view)
    assert gauges_of("gauged-web") == (2, 2) and gauges_of("gauged-db") == (1, 0)

    put(view, "tasks", task("b", "s1", "failed"))
    put(view, "tasks", task("c", "s2", "running"))
    gauges(view)
    assert gauges_of("gauged-web") == (2, 1) and gauges_of("gauged-db") == (1, 1)

    delete(view, "services", "s1")
    put(view, "services", service("s3", "gauged-db2", 3))
    gauges(view)
    assert gauges_of("gauged-web") == (None, None) and gauges_of("gauged-db2") == (3, 0)

    delete(view, "services", "s2")
    put(view, "services", service("s3", "gauged-db", 3))  # renamed to the removed service's name
    gauges(view)
    assert gauges_of("gauged-db") == (3, 0) and gauges_of("gauged-db2") == (None, None)


def test_gauges_count_every_service_again_after_a_snapshot():
    view = StoreView(None, None)
    view.load({"index": 1, "tables": {"services": {"s1": service("s1", "gauged-snap", 1)}, "tasks": {}}})
    gauges = ServiceGauges()
    gauges(view)
    assert gauges_of("gauged-snap") == (1, 0)
    view.load({"index": 5, "tables": {"services": {"s2": service("s2", "gauged-snap2", 2)},
                                      "tasks": {"a": task("a", "s2", "running")}}})
    gauges(view)
    assert gauges_of("gauged-snap") == (None, None) and gauges_of("gauged-snap2") == (2, 1)

"""The orchestrator actor: keeps every service's tasks true to its spec (see reconcile.py)."""

from __future__ import annotations

from prometheus_client import Gauge

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.common.view import StoreView
from actors.common.viewindex import is_running
from actors.orchestrator.reconcile import reconcile
from transport import schema

DESIRED = Gauge("shoal_service_desired_tasks", "Tasks a service should be running", ["service"])
RUNNING = Gauge("shoal_service_running_tasks", "Tasks of a service observed running", ["service"])


_exported: set[str] = set()


def export_service_gauges(view: StoreView) -> None:
    """Set desired vs running tasks per service (by name), dropping removed services."""
    services = view.table("services")
    running: dict[str, int] = {service_id: 0 for service_id in services}
    for task in view.table("tasks").values():
        if task.get("ServiceID") in running and is_running(task):
            running[task["ServiceID"]] += 1
    names = set()
    for service_id, service in services.items():
        name = service["Spec"]["Name"]
        names.add(name)
        DESIRED.labels(name).set(schema.desired_replicas(service))
        RUNNING.labels(name).set(running[service_id])
    for gone in _exported - names:
        DESIRED.remove(gone)
        RUNNING.remove(gone)
    _exported.clear()
    _exported.update(names)


async def main(actor: ActorContext) -> None:
    """Entry point of the ``orchestrator`` actor."""
    await Controller(actor, "orchestrator", reconcile, on_pass=export_service_gauges).run()

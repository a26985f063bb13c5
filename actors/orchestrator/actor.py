"""The orchestrator actor: keeps every service's tasks true to its spec (see reconcile.py)."""

from __future__ import annotations

from prometheus_client import Gauge

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.common.servicestatus import service_rows
from actors.common.view import StoreView
from actors.orchestrator.reconcile import reconcile

DESIRED = Gauge("shoal_service_desired_tasks", "Tasks a service should be running", ["service"])
RUNNING = Gauge("shoal_service_running_tasks", "Tasks of a service observed running", ["service"])


_exported: set[str] = set()


def export_service_gauges(view: StoreView) -> None:
    """Set desired vs running tasks per service (by name, as ``service ls`` counts them), dropping
    removed services."""
    names = set()
    for row in service_rows(view.table("services").values(), view.table("tasks").values()):
        name = row["service"]["Spec"]["Name"]
        names.add(name)
        DESIRED.labels(name).set(row["desired"])
        RUNNING.labels(name).set(row["running"])
    for gone in _exported - names:
        DESIRED.remove(gone)
        RUNNING.remove(gone)
    _exported.clear()
    _exported.update(names)


async def main(actor: ActorContext) -> None:
    """Entry point of the ``orchestrator`` actor."""
    await Controller(actor, "orchestrator", reconcile, on_pass=export_service_gauges).run()

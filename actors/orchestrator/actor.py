"""The orchestrator actor: keeps every service's tasks true to its spec (see reconcile.py), deciding
for the services that changed (dirty.py)."""

from __future__ import annotations

from prometheus_client import Gauge

from actors.common.actor import ActorContext
from actors.common.changeset import ChangeSet
from actors.common.controller import Controller
from actors.common.servicestatus import service_rows
from actors.common.view import StoreView
from actors.orchestrator.dirty import ChangedServicesReconcile
from transport import schema

DESIRED = Gauge("shoal_service_desired_tasks", "Tasks a service should be running", ["service"])
RUNNING = Gauge("shoal_service_running_tasks", "Tasks of a service observed running", ["service"])


class ServiceGauges:
    """Sets desired vs running tasks per service (by name, as ``service ls`` counts them) after each pass,
    for the services whose spec or tasks changed since the last (every service the first time), and
    drops the gauges of removed services."""

    def __init__(self):
        self._changes: ChangeSet | None = None
        self._names: dict[str, str] = {}  # service id -> the name its gauges are exported under

    def __call__(self, view: StoreView) -> None:
        services = view.table("services")
        if self._changes is None:
            self._changes = view.watch(frozenset({"services", "tasks"}))
            changed = set(services)
        else:
            changes = self._changes.take()
            changed = set(services) | set(self._names) if changes.everything else changes.services
        current = {service_id: services[service_id] for service_id in changed if service_id in services}
        for service_id in changed:  # all drops first: a removed service's name may be a new one's
            self._drop(service_id, keep=schema.get_path(current.get(service_id, {}), "Spec.Name"))
        for service_id, service in current.items():
            [row] = service_rows([service], view.task_index.of_service(service_id))
            name = service["Spec"]["Name"]
            DESIRED.labels(name).set(row["desired"])
            RUNNING.labels(name).set(row["running"])
            self._names[service_id] = name

    def _drop(self, service_id: str, keep: str | None) -> None:
        """Remove the gauges exported for ``service_id`` unless they are under the name ``keep``."""
        name = self._names.get(service_id)
        if name is not None and name != keep:
            DESIRED.remove(name)
            RUNNING.remove(name)
            del self._names[service_id]


async def main(actor: ActorContext) -> None:
    """Entry point of the ``orchestrator`` actor."""
    await Controller(actor, "orchestrator", ChangedServicesReconcile(), on_pass=ServiceGauges()).run()

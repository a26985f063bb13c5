"""The orchestrator actor: keeps every service's tasks true to its spec (see reconcile.py), deciding
for the services that changed (dirty.py), and exports the reconciliation metrics (metrics.py)."""

from __future__ import annotations

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.orchestrator.dirty import ChangedServicesReconcile
from actors.orchestrator.metrics import ReconcileMetrics


async def main(actor: ActorContext) -> None:
    """Entry point of the ``orchestrator`` actor."""
    metrics = ReconcileMetrics()
    controller = Controller(actor, "orchestrator", ChangedServicesReconcile(), on_pass=metrics.after_pass,
                            on_lease=metrics.lease)
    metrics.attach(controller.view)
    await controller.run()

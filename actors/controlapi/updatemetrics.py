"""``shoal_service_update_paused{service}``: 1 while a service's update or rollback is paused (UpdateStatus
``paused`` or ``rollback_paused``: it waits for an operator), 0 for every other service. Read from the
control API's view at each scrape, so every manager exports the same value (alerts take the max)."""

from __future__ import annotations

from typing import Callable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from transport import model, schema

NAME = "shoal_service_update_paused"
HELP = "1 while the service's update or rollback is paused, waiting for an operator"
PAUSED_STATES = tuple(state for state in model.UPDATE_STATES if state.endswith("paused"))


def paused_by_service(services) -> dict[str, int]:
    """Service name -> 1 when store object ``services`` (an iterable) has its update paused, else 0."""
    return {schema.get_path(service, "Spec.Name"): int(schema.get_path(service, "UpdateStatus.State") in PAUSED_STATES)
            for service in services}


class UpdatePausedCollector(Collector):
    """Exports NAME from ``read`` (paused_by_service of the current services), called at each scrape from the
    metrics server's thread; a read that fails (the actor's loop too busy to answer) exports no sample."""

    def __init__(self, read: Callable[[], dict[str, int]]):
        self._read = read

    def describe(self):
        return [GaugeMetricFamily(NAME, HELP, labels=["service"])]

    def collect(self):
        family = GaugeMetricFamily(NAME, HELP, labels=["service"])
        try:
            paused = self._read()
        except Exception:
            paused = {}
        for name, value in sorted(paused.items()):
            family.add_metric([name], value)
        yield family

"""The allocator actor: allocates networks, addresses and published ports, and moves new tasks to pending
(see core.py). Exports, per allocated network, the addresses held and those left."""

from __future__ import annotations

from prometheus_client import Gauge

from actors.allocator.core import WATCHED, Allocator, network_name
from actors.common.actor import ActorContext
from actors.common.controller import Controller

HELD = Gauge("shoal_network_addresses_held", "Addresses held on each allocated network: tasks, virtual IPs, nodes",
             ["network"])
FREE = Gauge("shoal_network_addresses_free", "Addresses left to hand out on each allocated network", ["network"])


class AddressGauges:
    """After each pass, sets the held and free addresses of each network the allocator has a pool for (by
    network name) and drops the gauges of networks gone; drops them all when the lease is lost (only the
    holder's allocator exports them)."""

    def __init__(self, allocator: Allocator):
        self._allocator = allocator
        self._shown: set[str] = set()

    def __call__(self, view) -> None:
        networks = view.table("networks")
        shown = set()
        for network_id, pool in self._allocator.pools().items():
            name = network_name(networks, network_id)
            HELD.labels(name).set(len(pool))
            FREE.labels(name).set(pool.capacity() - len(pool))
            shown.add(name)
        self._drop(self._shown - shown)
        self._shown = shown

    def lease(self, held: bool) -> None:
        """The allocator's lease was taken or lost: when lost, remove every gauge (a standby exports none)."""
        if not held:
            self._drop(self._shown)
            self._shown = set()

    @staticmethod
    def _drop(names: set[str]) -> None:
        for name in names:
            HELD.remove(name)
            FREE.remove(name)


async def main(actor: ActorContext) -> None:
    """Entry point of the ``allocator`` actor."""
    allocator = Allocator()
    gauges = AddressGauges(allocator)
    await Controller(actor, "allocator", allocator, on_pass=gauges, tables=WATCHED | {"leases"},
                     on_lease=gauges.lease).run()

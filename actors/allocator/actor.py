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
    network name) and drops the gauges of networks gone."""

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
        for name in self._shown - shown:
            HELD.remove(name)
            FREE.remove(name)
        self._shown = shown


async def main(actor: ActorContext) -> None:
    """Entry point of the ``allocator`` actor."""
    allocator = Allocator()
    await Controller(actor, "allocator", allocator, on_pass=AddressGauges(allocator), tables=WATCHED | {"leases"}).run()

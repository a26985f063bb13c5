"""The allocator's book of addresses: a pool per allocated network, and what each holder holds.

Holders are the store's objects that hold addresses: a service its
``Endpoint.VirtualIPs``, a task its ``NetworksAttachments`` while it holds
them (objects.task_holds_addresses), a node its ``Attachments``. The book is
kept equal to the store as the allocator's view has it: :meth:`AddressBook.rebuild`
from whole tables, :meth:`AddressBook.sync` one changed object at a time. A
pass allocates *tentatively* (:meth:`AddressBook.allocate`), so two tasks of one
pass never get one address; :meth:`AddressBook.forget_tentative` undoes those
at the pass's end, and the pass's writes, once committed, come back through
:meth:`AddressBook.sync` (a refused write thus leaks nothing). Pools keep their
place across rebuilds, so reuse stays delayed.
"""

from __future__ import annotations

from actors.network import ipam, objects

TASKS, SERVICES, NODES = "tasks", "services", "nodes"


def holdings_of(table: str, obj: dict | None, nodes: dict[str, dict]) -> list[tuple[str, str]]:
    """``(network id, address)`` pairs that ``obj`` of ``table`` holds (none when it is None)."""
    if obj is None:
        return []
    if table == TASKS:
        return objects.held_addresses(obj) if objects.task_holds_addresses(obj, nodes) else []
    if table == SERVICES:
        return [(vip.get("NetworkID"), vip.get("Addr") or "") for vip in objects.virtual_ips(obj)]
    return objects.held_addresses(obj, "Attachments")


class NetworkFull(ipam.Exhausted):
    """No address is left on the network ``network_id``."""

    def __init__(self, network_id: str, message: str):
        super().__init__(message)
        self.network_id = network_id


class AddressBook:
    """Address pools by network id, and the holdings of each ``(table, id)``."""

    def __init__(self):
        self.pools: dict[str, ipam.AddressPool] = {}
        self._holdings: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._tentative: list[tuple[str, str]] = []

    def rebuild(self, networks: dict[str, dict], tables: dict[str, dict[str, dict]]) -> None:
        """Start again from the allocated ``networks`` and the ``tables`` (``tasks``, ``services``, ``nodes``)."""
        pools = {}
        for network_id, network in networks.items():
            config = objects.allocated_config(network)
            if config is None:
                continue
            pool = self.pools.get(network_id)
            if pool is None or str(pool.subnet) != config["Subnet"] \
                    or str(pool.gateway) != (config.get("Gateway") or str(ipam.default_gateway(pool.subnet))):
                try:
                    pool = ipam.AddressPool(config["Subnet"], config.get("Gateway"))
                except ValueError:
                    continue  # not an address range the allocator wrote; nothing is allocated on it
            pool.clear()
            pools[network_id] = pool
        self.pools, self._holdings, self._tentative = pools, {}, []
        nodes = tables.get(NODES) or {}
        for table in (TASKS, SERVICES, NODES):
            for object_id, obj in (tables.get(table) or {}).items():
                self.sync(table, object_id, obj, nodes)

    def sync(self, table: str, object_id: str, obj: dict | None, nodes: dict[str, dict]) -> None:
        """Make the holdings of ``object_id`` of ``table`` those of ``obj`` (None: it is gone)."""
        key = (table, object_id)
        for network_id, address in self._holdings.pop(key, ()):
            self.pools[network_id].release(address)
        held = [(network_id, address) for network_id, address in holdings_of(table, obj, nodes)
                if network_id in self.pools and self.pools[network_id].claim(address)]
        if held:
            self._holdings[key] = held

    def allocate(self, network_ids: list[str]) -> list[str]:
        """One new address (``A.B.C.D/N``) on each of ``network_ids``, held tentatively; all or none:
        NetworkFull when one pool is full, ValueError when a network has no pool (it is not allocated)."""
        done = []
        try:
            for network_id in network_ids:
                pool = self.pools.get(network_id)
                if pool is None:
                    raise ValueError(f"network {network_id} has no address pool")
                try:
                    done.append((network_id, pool.allocate()))
                except ipam.Exhausted as exc:
                    raise NetworkFull(network_id, str(exc)) from None
        except (ValueError, ipam.Exhausted):
            for network_id, address in done:
                self.pools[network_id].release(address)
            raise
        self._tentative.extend(done)
        return [address for _, address in done]

    def forget_tentative(self) -> None:
        """Release what :meth:`allocate` handed out since the last call."""
        for network_id, address in self._tentative:
            pool = self.pools.get(network_id)
            if pool is not None:
                pool.release(address)
        self._tentative = []

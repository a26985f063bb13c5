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

from collections import Counter

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
    """Address pools by network id, the holdings of each ``(table, id)``, and for each node the networks its
    tasks hold addresses on (so a node's attachments are judged from what changed, not from its tasks)."""

    def __init__(self):
        self.pools: dict[str, ipam.AddressPool] = {}
        self._holdings: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._tentative: list[tuple[str, str]] = []
        self._task_node: dict[str, str] = {}  # task id -> its node, for the tasks holding addresses
        self._node_tasks: dict[str, set[str]] = {}  # node id -> those tasks on it
        self._node_networks: dict[str, Counter] = {}  # node id -> network id -> how many of its tasks hold one
        self._nodes: set[str] = set()  # the nodes synced
        self.dirty_nodes: set[str] = set()  # nodes whose networks or attachments changed since taken

    def rebuild(self, networks: dict[str, dict], tables: dict[str, dict[str, dict]]) -> None:
        """Start again from the allocated ``networks`` and the ``tables`` (``tasks``, ``services``, ``nodes``)."""
        self.pools = self._pools_for(networks)
        for pool in self.pools.values():
            pool.clear()
        self._holdings, self._tentative = {}, []
        self._task_node, self._node_tasks, self._node_networks, self._nodes = {}, {}, {}, set()
        nodes = tables.get(NODES) or {}
        for table in (TASKS, SERVICES, NODES):
            for object_id, obj in (tables.get(table) or {}).items():
                self.sync(table, object_id, obj, nodes)
        self.dirty_nodes = set(nodes)

    def _pools_for(self, networks: dict[str, dict]) -> dict[str, ipam.AddressPool]:
        """A pool for each allocated network: the book's own where its range is unchanged, else a new one."""
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
            pools[network_id] = pool
        return pools

    def follow_networks(self, networks: dict[str, dict]) -> bool:
        """Take the pools of networks newly allocated (nothing holds an address on them yet); False, with
        nothing changed, when a pool was dropped or its range changed (the caller rebuilds)."""
        pools = self._pools_for(networks)
        if any(pools.get(network_id) is not pool for network_id, pool in self.pools.items()):
            return False
        fresh = pools.keys() - self.pools.keys()
        self.pools = pools
        if fresh:
            self.dirty_nodes |= self._nodes  # ingress may have come: every node judged
        return True

    def sync(self, table: str, object_id: str, obj: dict | None, nodes: dict[str, dict]) -> None:
        """Make the holdings of ``object_id`` of ``table`` those of ``obj`` (None: it is gone)."""
        key = (table, object_id)
        if table == TASKS and key not in self._holdings and not (obj or {}).get("NetworksAttachments"):
            return  # held nothing, holds nothing: most tasks of a cluster with few networks
        old = self._holdings.pop(key, [])
        for network_id, address in old:
            self.pools[network_id].release(address)
        held = [(network_id, address) for network_id, address in holdings_of(table, obj, nodes)
                if network_id in self.pools and self.pools[network_id].claim(address)]
        if held:
            self._holdings[key] = held
        if table == TASKS:
            self._move_task(object_id, old, held, (obj or {}).get("NodeID") or "")
        elif table == NODES:
            self._sync_node(object_id, obj, old, held)

    def _move_task(self, task_id: str, old: list, held: list, node_id: str) -> None:
        """Count the networks of ``task_id``'s holdings on its node: ``old`` off its previous one."""
        previous = self._task_node.pop(task_id, None)
        if previous is not None:
            self._node_tasks[previous].discard(task_id)
            self._count(previous, old, -1)
        if held and node_id:
            self._task_node[task_id] = node_id
            self._node_tasks.setdefault(node_id, set()).add(task_id)
            self._count(node_id, held, 1)

    def _count(self, node_id: str, holdings: list, step: int) -> None:
        counter = self._node_networks.setdefault(node_id, Counter())
        before = set(counter)
        for network_id, _ in holdings:
            counter[network_id] += step
            if counter[network_id] <= 0:
                del counter[network_id]
        if set(counter) != before:
            self.dirty_nodes.add(node_id)
        if not counter and not self._node_tasks.get(node_id):
            self._node_networks.pop(node_id, None)
            self._node_tasks.pop(node_id, None)

    def _sync_node(self, node_id: str, obj: dict | None, old: list, held: list) -> None:
        if obj is None:
            self._nodes.discard(node_id)
            return
        if node_id not in self._nodes or sorted(old) != sorted(held):
            self.dirty_nodes.add(node_id)
        self._nodes.add(node_id)

    def knows_node(self, node_id: str) -> bool:
        """True if ``node_id`` was last synced as present (a node that comes or goes changes what its tasks
        hold: the caller syncs them again)."""
        return node_id in self._nodes

    def node_networks(self, node_id: str) -> list[str]:
        """The networks ``node_id``'s tasks hold addresses on, by id."""
        return sorted(self._node_networks.get(node_id) or ())

    def take_dirty_nodes(self) -> set[str]:
        """The nodes whose networks or attachments changed since the last call."""
        dirty, self.dirty_nodes = self.dirty_nodes, set()
        return dirty

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

"""The host's load-balancing plane: virtual IPs in its containers, and the routing mesh.

The network agent hands :meth:`LoadBalancer.apply` each new network state of
the host (after the overlay and DNS planes). It then

- programs the VIP table (nft.container_script) in the network namespace of
  each of this node's running task containers, running the script only when
  it differs from the last one that container got;
- if this host owns its cluster's mesh in its namespace (meshlock: one host
  per namespace and cluster), replaces the routing-mesh table (nft.mesh_script), lets 127.0.0.1 out of
  the ingress bridge and makes Docker's FORWARD chain accept mesh
  connections.

A container whose process exited meanwhile is skipped; any other failure is
raised after every container was tried, so the agent retries. Blocking: call
it off the event loop, one call at a time.
"""

from __future__ import annotations

import logging
from typing import Callable

from actors.network import meshlock, nft, nftables

log = logging.getLogger(__name__)


def local_task_networks(state: dict, node_id: str) -> dict[str, set[str]]:
    """Task id -> the ids of the networks it has an address on, for the tasks on ``node_id``."""
    return {task["ID"]: set(task.get("Addresses") or {})
            for service in state.get("Services") or () for task in service.get("Tasks") or ()
            if task.get("NodeID") == node_id}


def running_pids(engine) -> dict[str, int]:
    """Task id -> process id of each running container ``engine`` (a DockerEngine) shows for its node."""
    return {container.task_id: container.pid for container in engine.list_containers()
            if container.state == "running" and container.pid}


class LoadBalancer:
    """The plane of one host (node ``node_id`` of cluster ``cluster_id``); ``running_pids()`` maps the
    task id of each of the node's running containers to its process id (its network namespace)."""

    def __init__(self, cluster_id: str, node_id: str, running_pids: Callable[[], dict[str, int]],
                 lock: meshlock.NamespaceLock | None = None):
        self.node_id = node_id
        self._running_pids = running_pids
        self._table = nft.mesh_table(cluster_id)
        self._lock = lock or meshlock.NamespaceLock(cluster_id)
        self._programmed: dict[tuple[str, int], str] = {}  # (task id, pid) -> the script it got
        self._mesh: str | None = None  # the mesh script last applied, while this host owns the mesh
        self._mesh_backends: set[str] = set()  # the Ready tasks' addresses in it
        self._prepared: str | None = None  # the ingress address route_localnet and DOCKER-USER were set for

    def apply(self, state: dict) -> None:
        """Bring the containers' VIP tables and (when owned) the mesh table in line with ``state``."""
        errors = []
        try:
            self._apply_mesh(state)
        except nftables.NftError as exc:
            errors.append(f"routing mesh: {exc}")
        errors.extend(self._apply_containers(state))
        if errors:
            raise nftables.NftError("; ".join(errors))

    def _apply_mesh(self, state: dict) -> None:
        if not self._lock.owned:
            if not self._lock.own():
                return
            self._remove_abandoned_meshes()
        script = nft.mesh_script(state, self._table)
        if script == self._mesh:
            return
        network = nft.ingress_network(state)
        node_address = network.get("NodeAddress") if network is not None else None
        if node_address and node_address != self._prepared:
            nftables.allow_localhost_on(nft.address_of(node_address))
            nftables.accept_mesh_forwarding()
        self._prepared = node_address  # None once ingress leaves: its bridge may be made afresh
        nftables.run_script(script)
        backends = set() if network is None else {
            address for *_, ready in nft.mesh_ports(state, network["ID"]) for address in ready}
        if self._mesh is None or self._mesh_backends - backends:  # new here, or tasks left
            nftables.forget_udp_flows(nft.MESH_MARK, backends)
        self._mesh, self._mesh_backends = script, backends
        log.info("routing mesh programmed: %d published ports", script.count(" dnat to "))

    def _remove_abandoned_meshes(self) -> None:
        """Remove the mesh tables of clusters with no host left in this namespace: hosts killed before
        they could (their rules would go on catching the ports another cluster publishes)."""
        prefix = nft.MESH_TABLE + "_"
        for table in nftables.tables():
            cluster_id = table[len(prefix):]
            if table.startswith(prefix) and table != self._table and cluster_id.isalnum():
                if meshlock.if_abandoned(cluster_id, lambda table=table: nftables.run_script(nft.delete_script(table)),
                                         self._lock.directory):
                    log.info("abandoned routing mesh removed: %s", table)

    def _apply_containers(self, state: dict) -> list[str]:
        wanted = local_task_networks(state, self.node_id)
        pids = self._running_pids()
        errors, programmed = [], {}
        scripts: dict[frozenset, str] = {}  # containers on the same networks get the same table
        for task_id, networks in sorted(wanted.items()):
            pid = pids.get(task_id)
            if not pid:
                continue
            together = frozenset(networks)
            if together not in scripts:
                scripts[together] = nft.container_script(state, networks)
            script = scripts[together]
            key = (task_id, pid)
            if self._programmed.get(key) != script:
                try:
                    nftables.run_script(script, pid)
                except nftables.NamespaceGone:
                    continue
                except nftables.NftError as exc:
                    errors.append(f"task {task_id}: {exc}")
                    continue
            programmed[key] = script
        self._programmed = programmed
        return errors

    def stop(self) -> None:
        """Leave the namespace. The last host of the cluster there removes its mesh table, the last
        host at all the FORWARD rule; otherwise they stay, working, for the next host to take over."""
        leaving = self._lock.leave()
        if leaving.last_of_cluster:
            nftables.run_script(nft.delete_script(self._table))
        if leaving.last_in_namespace:
            nftables.stop_accepting_mesh_forwarding()
        self._mesh = None

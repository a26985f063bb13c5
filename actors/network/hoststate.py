"""What each host is told about networks: a pure function of the store, and its form on the wire.

:func:`host_network_state` is the *network state* of one node, made from a
:class:`~actors.network.netindex.NetworkIndex`::

    {"Networks": [{"ID", "Name", "VNI", "Subnet", "Gateway", "Internal", "Ingress", "Attachable",
                   "NodeAddress": "10.0.1.3/24" or None,
                   "Peers": [{"NodeID", "DataAddr", "Addresses": ["10.0.1.5", ...]}]}],
     "Services": [{"ID", "Name", "EndpointMode": "vip" | "dnsrr",
                   "Networks": {NETWORK_ID: {"Aliases": [...], "VIP": "10.0.1.2" or None}},
                   "Ports": [{"Protocol", "TargetPort", "PublishedPort"}],
                   "Tasks": [{"ID", "Slot", "NodeID", "Ready", "Addresses": {NETWORK_ID: "10.0.1.5"}}]}]}

- Networks: the allocated networks of the node's live tasks, and ``ingress``
  while some service publishes a port through the routing mesh. Peers: the
  addresses (live tasks' and nodes' own) that *other* nodes hold on it.
- Services: those attached to one of these networks, and those publishing
  an ingress port; each names only these networks. Tasks: the live ones with
  an address on one of them; ``Ready`` when desired and observed running on
  a ready node.

Everything is sorted, so equal stores give equal states. The dispatcher
sends a state as a list of small items (:func:`to_items`: a network, a peer,
a service, a task each), which goes in pages however many tasks there are;
the executor puts it together again with :func:`from_items`.
"""

from __future__ import annotations

import hashlib
import ipaddress

from actors.network.netindex import NetworkIndex, ingress_ports, is_ready, service_networks, \
    task_addresses
from actors.network import ipam, objects
from transport import codec, schema

DIGEST_BYTES = 16


def host_network_state(index: NetworkIndex, node_id: str) -> dict:
    """The network state of ``node_id`` (see the module's docstring)."""
    return from_items(HostStates(index).for_node(node_id)[0])


def network_ids(state: dict) -> set[str]:
    """Ids of the networks a host network state names."""
    return {network["ID"] for network in state["Networks"]}


class HostStates:
    """The network states of any nodes at one moment of ``index``, as items (:func:`to_items`) with a
    fingerprint: equal fingerprints, equal states. What nodes share is made, encoded and hashed once: each
    network's peers (a node leaves only its own out) and the services of each set of networks, so a node's
    own cost is a few list slices. Make a new one after the index changes."""

    def __init__(self, index: NetworkIndex):
        self._index = index
        self._networks: dict[str, _Part] = {}
        self._services: dict[frozenset, _Part] = {}

    def for_node(self, node_id: str) -> tuple[list[dict], bytes]:
        """``node_id``'s state as items, and its fingerprint."""
        index = self._index
        ids = sorted(network_id for network_id in index.host_networks(node_id)
                     if network_id in index.networks and objects.is_allocated(index.networks[network_id]))
        items, fingerprint = [], hashlib.blake2b(digest_size=DIGEST_BYTES)
        for network_id in ids:
            if network_id not in self._networks:
                self._networks[network_id] = _network_part(index, network_id)
            part = self._networks[network_id]
            header = {"Network": {**part.head, "NodeAddress": index.node_addresses_on.get(network_id, {}).get(node_id)}}
            items.append(header)
            fingerprint.update(codec.encode(header))
            part.add_to(items, fingerprint, leaving_out=node_id)
        services = frozenset(ids)
        if services not in self._services:
            self._services[services] = _Part({}, [(None, item) for item in _services_items(index, services)])
        self._services[services].add_to(items, fingerprint)
        return items, fingerprint.digest()


class _Part:
    """Items many nodes' states share, each with the node whose state leaves it out (``None``: none), and
    their digest; ``head``: what the items belong to."""

    def __init__(self, head: dict, keyed: list[tuple[str | None, dict]]):
        self.head = head
        self.position = {owner: at for at, (owner, _) in enumerate(keyed) if owner is not None}
        self.items = [item for _, item in keyed]
        self.digest = hashlib.blake2b(b"".join(codec.encode(item) for item in self.items),
                                      digest_size=DIGEST_BYTES).digest()

    def add_to(self, items: list[dict], fingerprint, leaving_out: str | None = None) -> None:
        """Append the items, but the one of ``leaving_out``, to ``items``, and what they are to ``fingerprint``
        (the part's digest and the item left out: the same part leaving out the same item, the same items)."""
        at = self.position.get(leaving_out)
        if at is None:
            items.extend(self.items)
        else:
            items.extend(self.items[:at])
            items.extend(self.items[at + 1:])
        fingerprint.update(self.digest + codec.encode(at))


def _network_part(index: NetworkIndex, network_id: str) -> _Part:
    """The network's header (all but the node's own address) and each node's ``Peer`` item on it."""
    network = index.networks[network_id]
    spec, config = network.get("Spec") or {}, objects.allocated_config(network)
    held: dict[str, list[str]] = {}  # node id -> addresses it holds on the network
    for task in index.tasks_on.get(network_id, {}).values():
        held.setdefault(task["NodeID"], []).append(ipam.bare(task_addresses(task)[network_id]))
    for node_id, address in index.node_addresses_on.get(network_id, {}).items():
        held.setdefault(node_id, []).append(ipam.bare(address))
    peers = []
    for node_id in sorted(held):
        data_addr = schema.get_path(index.nodes.get(node_id) or {}, "Status.Addr")
        if data_addr:  # a node that never opened a session has no data address to reach it on
            peers.append((node_id, {"Peer": {"NodeID": node_id, "DataAddr": data_addr,
                                             "Addresses": _sorted_addresses(held[node_id])}}))
    header = {"ID": network_id, "Name": spec.get("Name", ""), "VNI": objects.vni_of(network),
              "Subnet": config.get("Subnet"), "Gateway": config.get("Gateway"), "Internal": bool(spec.get("Internal")),
              "Ingress": bool(spec.get("Ingress")), "Attachable": bool(spec.get("Attachable"))}
    return _Part(header, peers)


def _services_items(index: NetworkIndex, network_ids: frozenset) -> list[dict]:
    chosen = {service_id for network_id in network_ids for service_id in index.services_on.get(network_id, ())}
    if index.ingress_id in network_ids:
        chosen |= index.ingress_services
    tasks_of: dict[str, dict[str, dict]] = {}  # service id -> task id -> task with an address here
    for network_id in network_ids:
        for task in index.tasks_on.get(network_id, {}).values():
            tasks_of.setdefault(task.get("ServiceID"), {})[task["ID"]] = task
    services = [service for service in map(index.services.get, chosen) if service is not None]
    items = []
    for service in sorted(services, key=lambda s: (schema.get_path(s, "Spec.Name", ""), s["ID"])):
        items.append({"Service": _service(index, service, network_ids)})
        items.extend({"Task": _task(index, task, network_ids)}
                     for _, task in sorted(tasks_of.get(service["ID"], {}).items()))
    return items


def _service(index: NetworkIndex, service: dict, network_ids: frozenset) -> dict:
    vips = {vip.get("NetworkID"): ipam.bare(vip["Addr"]) for vip in objects.virtual_ips(service) if vip.get("Addr")}
    attached = {network_id: aliases for network_id, aliases in service_networks(service).items()
                if network_id in network_ids}
    ports = [{"Protocol": port.get("Protocol", "tcp"), "TargetPort": port["TargetPort"],
              "PublishedPort": port["PublishedPort"]} for port in ingress_ports(service)]
    if ports and index.ingress_id in network_ids:
        attached.setdefault(index.ingress_id, [])
    mode = objects.endpoint_mode(service.get("Spec") or {})
    return {"ID": service["ID"], "Name": schema.get_path(service, "Spec.Name", ""), "EndpointMode": mode,
            "Networks": {network_id: {"Aliases": aliases, "VIP": vips.get(network_id) if mode == objects.VIP else None}
                         for network_id, aliases in sorted(attached.items())},
            "Ports": sorted(ports, key=lambda p: (p["PublishedPort"], p["Protocol"]))}


def _task(index: NetworkIndex, task: dict, network_ids: frozenset) -> dict:
    addresses = {network_id: ipam.bare(address) for network_id, address in sorted(task_addresses(task).items())
                 if network_id in network_ids}
    return {"ID": task["ID"], "Slot": task.get("Slot"), "NodeID": task["NodeID"],
            "Ready": is_ready(task, index.nodes.get(task["NodeID"])), "Addresses": addresses}


def _sorted_addresses(addresses: list[str]) -> list[str]:
    return sorted(set(addresses), key=ipaddress.ip_address)


# -- on the wire ----------------------------------------------------------------------

def to_items(state: dict) -> list[dict]:
    """``state`` as a list of small items, in order: each network (without its peers) followed by its
    ``Peer`` items, then each service (without its tasks) followed by its ``Task`` items."""
    items: list[dict] = []
    for network in state["Networks"]:
        items.append({"Network": {key: value for key, value in network.items() if key != "Peers"}})
        items.extend({"Peer": peer} for peer in network["Peers"])
    for service in state["Services"]:
        items.append({"Service": {key: value for key, value in service.items() if key != "Tasks"}})
        items.extend({"Task": task} for task in service["Tasks"])
    return items


def from_items(items: list) -> dict:
    """The state :func:`to_items` made ``items`` from; ValueError when they are not such a list."""
    state: dict = {"Networks": [], "Services": []}
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"a network state item must be a map of one key, not {str(item)[:80]}")
        (kind, value), = item.items()
        if not isinstance(value, dict):
            raise ValueError(f"a network state {kind!r} item must be a map")
        if kind == "Network":
            state["Networks"].append({**value, "Peers": []})
        elif kind == "Service":
            state["Services"].append({**value, "Tasks": []})
        elif kind in ("Peer", "Task"):
            owners = state["Networks"] if kind == "Peer" else state["Services"]
            if not owners:
                raise ValueError(f"a {kind!r} item before any {'Network' if kind == 'Peer' else 'Service'}")
            owners[-1]["Peers" if kind == "Peer" else "Tasks"].append(value)
        else:
            raise ValueError(f"unknown network state item {str(kind)[:40]!r}")
    return state


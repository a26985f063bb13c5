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

from actors.network.netindex import NetworkIndex, address_of, ingress_ports, is_ready, service_networks, \
    task_addresses
from actors.network import objects
from transport import codec, schema

def host_network_state(index: NetworkIndex, node_id: str) -> dict:
    """The network state of ``node_id`` (see the module's docstring)."""
    networks = [network for network in map(index.networks.get, index.host_networks(node_id))
                if network is not None and objects.is_allocated(network)]
    ids = {network["ID"] for network in networks}
    return {"Networks": sorted((_network(index, network, node_id) for network in networks), key=lambda n: n["ID"]),
            "Services": _services(index, ids)}


def network_ids(state: dict) -> set[str]:
    """Ids of the networks a host network state names."""
    return {network["ID"] for network in state["Networks"]}


def _network(index: NetworkIndex, network: dict, node_id: str) -> dict:
    spec, config = network.get("Spec") or {}, objects.allocated_config(network)
    network_id = network["ID"]
    held: dict[str, list[str]] = {}  # other node id -> addresses it holds on the network
    for task in index.tasks_on.get(network_id, {}).values():
        if task["NodeID"] != node_id:
            held.setdefault(task["NodeID"], []).append(address_of(task_addresses(task)[network_id]))
    for other, address in index.node_addresses_on.get(network_id, {}).items():
        if other != node_id:
            held.setdefault(other, []).append(address_of(address))
    peers = []
    for other in sorted(held):
        data_addr = schema.get_path(index.nodes.get(other) or {}, "Status.Addr")
        if data_addr:  # a node that never opened a session has no data address to reach it on
            peers.append({"NodeID": other, "DataAddr": data_addr, "Addresses": _sorted_addresses(held[other])})
    own = index.node_addresses_on.get(network_id, {}).get(node_id)
    return {"ID": network_id, "Name": spec.get("Name", ""), "VNI": objects.vni_of(network),
            "Subnet": config.get("Subnet"), "Gateway": config.get("Gateway"),
            "Internal": bool(spec.get("Internal")), "Ingress": bool(spec.get("Ingress")),
            "Attachable": bool(spec.get("Attachable")), "NodeAddress": own, "Peers": peers}


def _services(index: NetworkIndex, network_ids: set[str]) -> list[dict]:
    chosen = {service_id for network_id in network_ids for service_id in index.services_on.get(network_id, ())}
    if index.ingress_id in network_ids:
        chosen |= index.ingress_services
    tasks_of: dict[str, dict[str, dict]] = {}  # service id -> task id -> task with an address here
    for network_id in network_ids:
        for task in index.tasks_on.get(network_id, {}).values():
            tasks_of.setdefault(task.get("ServiceID"), {})[task["ID"]] = task
    services = []
    for service_id in chosen:
        service = index.services.get(service_id)
        if service is not None:
            services.append(_service(index, service, network_ids, tasks_of.get(service_id, {})))
    return sorted(services, key=lambda s: (s["Name"], s["ID"]))


def _service(index: NetworkIndex, service: dict, network_ids: set[str], tasks: dict[str, dict]) -> dict:
    vips = {vip.get("NetworkID"): address_of(vip["Addr"]) for vip in objects.virtual_ips(service) if vip.get("Addr")}
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
            "Ports": sorted(ports, key=lambda p: (p["PublishedPort"], p["Protocol"])),
            "Tasks": [_task(index, task, network_ids) for _, task in sorted(tasks.items())]}


def _task(index: NetworkIndex, task: dict, network_ids: set[str]) -> dict:
    addresses = {network_id: address_of(address) for network_id, address in sorted(task_addresses(task).items())
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


def digest(items: list[dict]) -> bytes:
    """A fingerprint of a state's items: equal items, equal digests."""
    return hashlib.blake2b(codec.encode(items), digest_size=16).digest()

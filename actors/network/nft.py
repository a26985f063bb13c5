"""nftables scripts for virtual IPs and the routing mesh, from a host's network state (no IO).

This kernel has no IPVS, so Shoal balances with nftables NAT, decided once
per connection (conntrack keeps the choice for the connection's life):

- **Virtual IPs** live in each container's own network namespace, as Swarm
  puts its IPVS services in the container's sandbox: a connection to a
  service's VIP on one of the container's networks is DNATed, ports kept, to
  one of the service's Ready tasks on that network (``numgen inc``: round
  robin). The source stays the client's own address. A VIP with no Ready
  task refuses at once (TCP reset, ICMP port unreachable) rather than
  letting the client wait on an address nobody answers.
- **The routing mesh** lives in the host's namespace: a connection to any
  local address on a port a service publishes in ingress mode (TCP, UDP or
  SCTP; from outside or from the host itself, 127.0.0.1 included) is
  DNATed to a Ready task's ingress address and target port, marked with
  :data:`MESH_MARK` on its conntrack entry, and SNATed to the node's own
  ingress address, so replies come back through the node that took the
  connection. A port with no Ready task is left to the local stack, which
  refuses it.

Each script replaces its whole table in one transaction (``nft -f``
applies a file atomically): a connection never sees half a rotation.
:func:`delete_script` removes a table, whether it exists or not.

The state is the dict ``actors/network/hoststate.py`` computes for a host
(docs/networking.md, "What each host is told").
"""

from __future__ import annotations

import ipaddress
import re

MESH_TABLE = "shoal_mesh"  # in the host's namespace, followed by the cluster's id (mesh_table)
VIP_TABLE = "shoal_vip"  # in each container's namespace
MESH_MARK = 0x53484C4D  # conntrack mark of routing-mesh connections ("SHLM")
PROTOCOLS = ("tcp", "udp", "sctp")
# Before Docker's own NAT chains (priority -100), so a published port is the mesh's, whatever else is there.
NAT_PRIORITY = -110
SNAT_PRIORITY = 90  # before Docker's masquerade (100)


def address_of(cidr: str) -> str:
    """The address of ``ADDR`` or ``ADDR/PREFIX``; ValueError if it is not an IPv4 address."""
    return str(ipaddress.IPv4Interface(cidr).ip)


def ready_backends(service: dict, network_id: str) -> list[str]:
    """The addresses on ``network_id`` of ``service``'s Ready tasks, sorted (a stable rotation)."""
    return sorted({address_of(task["Addresses"][network_id]) for task in service.get("Tasks") or ()
                   if task.get("Ready") and (task.get("Addresses") or {}).get(network_id)},
                  key=ipaddress.IPv4Address)


def rotation(backends: list[str]) -> str:
    """The nft expression choosing one of ``backends`` per new connection, round robin."""
    if len(backends) == 1:
        return backends[0]
    choices = ", ".join(f"{number} : {address}" for number, address in enumerate(backends))
    return f"numgen inc mod {len(backends)} map {{ {choices} }}"


def _replace_table(table: str, body: list[str]) -> str:
    """A script that atomically replaces ``table`` (family ip) with one holding ``body``'s lines."""
    lines = [f"table ip {table}", f"delete table ip {table}", f"table ip {table} {{"]
    lines.extend(f"\t{line}" for line in body)
    lines.append("}")
    return "\n".join(lines) + "\n"


def delete_script(table: str) -> str:
    """A script that removes ``table`` (family ip), succeeding also when it does not exist."""
    return f"table ip {table}\ndelete table ip {table}\n"


# -- virtual IPs in a container's namespace ----------------------------------------------------------

def container_vips(state: dict, network_ids) -> dict[str, list[str]]:
    """VIP -> Ready backends, for every vip-mode service with a VIP on one of ``network_ids`` (the
    networks of one container). The ingress network is left out: its VIPs are not discoverable by
    name, and the routing mesh, not a VIP, takes published ports."""
    ingress = {network["ID"] for network in state.get("Networks") or () if network.get("Ingress")}
    wanted = set(network_ids) - ingress
    vips: dict[str, list[str]] = {}
    for service in state.get("Services") or ():
        if service.get("EndpointMode", "vip") != "vip":
            continue
        for network_id, endpoint in (service.get("Networks") or {}).items():
            if network_id in wanted and endpoint.get("VIP"):
                vips[address_of(endpoint["VIP"])] = ready_backends(service, network_id)
    return vips


def vip_script(vips: dict[str, list[str]]) -> str:
    """The script that makes a container's VIP table balance ``vips`` (VIP -> backends); a VIP
    without backends is refused. With no VIP at all the table is removed."""
    if not vips:
        return delete_script(VIP_TABLE)
    ordered = sorted(vips, key=ipaddress.IPv4Address)
    dnat = [f"\t\tip daddr {vip} dnat to {rotation(vips[vip])}" for vip in ordered if vips[vip]]
    refuse = [line for vip in ordered if not vips[vip]
              for line in (f"\t\tip daddr {vip} meta l4proto tcp reject with tcp reset",
                           f"\t\tip daddr {vip} reject")]
    body = ["chain output {", f"\ttype nat hook output priority {NAT_PRIORITY}; policy accept;", *dnat, "}"]
    if refuse:
        body += ["chain refuse {", "\ttype filter hook output priority 0; policy accept;", *refuse, "}"]
    return _replace_table(VIP_TABLE, body)


def container_script(state: dict, network_ids) -> str:
    """The VIP table script for a container on ``network_ids`` (:func:`container_vips`, :func:`vip_script`)."""
    return vip_script(container_vips(state, network_ids))


# -- the routing mesh in the host's namespace --------------------------------------------------------

def ingress_network(state: dict) -> dict | None:
    """The state's ingress network entry, or None when the host is not told about one."""
    return next((network for network in state.get("Networks") or () if network.get("Ingress")), None)


def mesh_ports(state: dict, ingress_id: str) -> list[tuple[str, int, int, list[str]]]:
    """(protocol, published port, target port, Ready backends' ingress addresses) for every port
    published in ingress mode, sorted by protocol and port."""
    ports = []
    for service in state.get("Services") or ():
        backends = ready_backends(service, ingress_id)
        for port in service.get("Ports") or ():
            protocol = port.get("Protocol") or "tcp"
            if protocol not in PROTOCOLS:
                raise ValueError(f"cannot publish protocol {protocol!r} through the routing mesh")
            ports.append((protocol, int(port["PublishedPort"]), int(port["TargetPort"]), backends))
    return sorted(ports, key=lambda entry: entry[:2])


def mesh_table(cluster_id: str) -> str:
    """The name of cluster ``cluster_id``'s mesh table: clusters sharing a namespace keep apart."""
    if not re.fullmatch(r"[A-Za-z0-9]+", cluster_id):
        raise ValueError(f"not a cluster id: {cluster_id!r}")
    return f"{MESH_TABLE}_{cluster_id}"


def mesh_script(state: dict, table: str) -> str:
    """The script for the host's routing-mesh ``table``; removes the table when the host has no
    ingress network, no ingress address of its own (nothing to SNAT to) or no published port."""
    network = ingress_network(state)
    if network is None or not network.get("NodeAddress"):
        return delete_script(table)
    ports = mesh_ports(state, network["ID"])
    if not ports:
        return delete_script(table)
    node_address = address_of(network["NodeAddress"])
    publish = [f"\t{protocol} dport {published} ct mark set {MESH_MARK:#x} dnat to {rotation(backends)} : {target}"
               for protocol, published, target, backends in ports if backends]
    body = ["chain prerouting {", f"\ttype nat hook prerouting priority {NAT_PRIORITY}; policy accept;",
            "\tfib daddr type local jump publish", "}",
            "chain output {", f"\ttype nat hook output priority {NAT_PRIORITY}; policy accept;",
            "\tfib daddr type local jump publish", "}",
            "chain publish {", *publish, "}",
            "chain postrouting {", f"\ttype nat hook postrouting priority {SNAT_PRIORITY}; policy accept;",
            f"\tct mark {MESH_MARK:#x} snat to {node_address}", "}"]
    return _replace_table(table, body)

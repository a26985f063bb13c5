"""Service discovery answers (no IO): what a host's DNS server replies to one query, given the host's
network state (``actors/network/hoststate.py``), who asked and on which of the host's addresses.

As Docker's embedded DNS does for Swarm services: a service's name and its aliases resolve to its
virtual IP (endpoint mode ``vip``) or to its Ready tasks' addresses (``dnsrr``); ``tasks.NAME`` (and
``tasks.ALIAS``) always to the Ready tasks' addresses; a task's own name (its container's,
``NAME.SLOT.TASK_ID``) to its address, and that address back (PTR) to the name and the network's
(``NAME.SLOT.TASK_ID.NETWORK``). Names are scoped by the querier: a task sees the
services on its own networks, the network the query came in on first. The ``ingress`` network has no
names (as Docker's). A name outside the cluster is answered REFUSED, so that the container's resolver
moves on to the next server (libnetwork's resolver does so on REFUSED and SERVFAIL, and stops on an
answer or an authoritative NXDOMAIN); a cluster name with nothing to give (no IPv6, no Ready task) gets
an authoritative empty answer, so that it is not asked of the outside.
"""

from __future__ import annotations

import ipaddress
import random
from typing import NamedTuple, Optional

from dnslib import A, CLASS, DNSError, DNSRecord, OPCODE, PTR, QTYPE, RCODE, RR

from actors.network import ipam
from transport import schema

# Answers are not to be cached: the set of Ready tasks changes with every scale, failure and
# update, and a client must see the change within a second.
TTL = 0
UDP_LIMIT = 512  # RFC 1035, when the query carries no EDNS0 payload size
TCP_LIMIT = 65535
TASKS_PREFIX = "tasks."
RESOLVERS_USED = 3  # libnetwork's resolver asks only the first three servers a container is given


def _address(cidr_or_ip: Optional[str]) -> Optional[str]:
    return ipam.bare(cidr_or_ip) if cidr_or_ip else None


def _name(text: str) -> str:
    return text.rstrip(".").lower()


REVERSE_SUFFIX = ".in-addr.arpa"


def _forward(reverse_name: str) -> Optional[str]:
    """The IPv4 address a reverse name (``5.1.0.10.in-addr.arpa``) stands for, None if it is none."""
    if not reverse_name.endswith(REVERSE_SUFFIX):
        return None
    octets = reverse_name[:-len(REVERSE_SUFFIX)].split(".")
    return ".".join(reversed(octets)) if len(octets) == 4 else None


def _named_networks(state: dict) -> list[dict]:
    return [network for network in state.get("Networks", ()) if not network.get("Ingress")]


class _Holder(NamedTuple):
    """A task holding addresses: its service's name, the task, its address on each network, and which
    of those networks have names."""
    service_name: str
    task: dict
    addresses: dict[str, str]
    named: list[str]

    @property
    def name(self) -> str:
        return f"{schema.task_name(self.service_name, self.task)}.{self.task['ID']}"


class Directory:
    """The names one host answers, indexed once per host network state so a query costs a few dict
    lookups. Immutable after construction: the server swaps a whole new one in on each state."""

    def __init__(self, state: dict):
        networks = _named_networks(state)
        self._subnets = {network["ID"]: ipaddress.ip_network(network["Subnet"], strict=False)
                         for network in networks if network.get("Subnet")}
        self._network_at = {_address(network["NodeAddress"]): network["ID"]
                            for network in networks if network.get("NodeAddress")}
        self._network_names = {network["ID"]: network.get("Name", network["ID"]) for network in networks}
        self._holders: dict[str, _Holder] = {}  # by each address it holds (subnets do not overlap)
        self._holders_by_id: dict[str, _Holder] = {}
        self._names: dict[str, dict[str, list[str]]] = {network_id: {} for network_id in self._subnets}
        for service in state.get("Services", ()):
            self._add_service(service)

    @property
    def listen_addresses(self) -> list[str]:
        """The host's own address on each of its networks with names: where its server listens."""
        return sorted(self._network_at)

    def _add_service(self, service: dict) -> None:
        ready: dict[str, list[str]] = {}
        for task in service.get("Tasks", ()):
            addresses = {network_id: _address(address) for network_id, address in task.get("Addresses", {}).items()}
            holder = _Holder(service["Name"], task, addresses,
                             [network_id for network_id in addresses if network_id in self._names])
            self._holders_by_id[_name(task["ID"])] = holder
            for network_id, address in addresses.items():
                self._holders[address] = holder
                if task.get("Ready"):
                    ready.setdefault(network_id, []).append(address)
        for network_id, endpoint in service.get("Networks", {}).items():
            names = self._names.get(network_id)
            if names is None:
                continue
            tasks = ready.get(network_id, [])
            if service.get("EndpointMode") == "dnsrr":
                front = tasks
            else:
                front = [_address(endpoint["VIP"])] if endpoint.get("VIP") else []
            for name in [service["Name"], *endpoint.get("Aliases", ())]:
                names.setdefault(_name(name), []).extend(front)
                names.setdefault(TASKS_PREFIX + _name(name), []).extend(tasks)

    def scope(self, querier: str, local: str) -> list[str]:
        """The networks whose names ``querier`` may resolve, asking on the host's address ``local``: a
        known task's networks (the one asked on first); otherwise the network asked on, if the querier
        is in its subnet (a container not started by Shoal on an attachable network); otherwise none."""
        asked_on = self._network_at.get(local)
        holder = self._holders.get(querier)
        if holder is not None:
            return sorted(holder.named, key=lambda network_id: network_id != asked_on)
        subnet = self._subnets.get(asked_on)
        if subnet is not None and ipaddress.ip_address(querier) in subnet:
            return [asked_on]
        return []

    def lookup(self, name: str, scope: list[str]) -> Optional[list[str]]:
        """The IPv4 addresses of ``name`` on the first network of ``scope`` that knows it (as Docker
        resolves over a container's networks in turn); None when no network in scope knows it."""
        key = _name(name)
        for network_id in scope:
            addresses = self._names[network_id].get(key)
            if addresses is not None:
                return addresses
        holder = self._holders_by_id.get(key.rsplit(".", 1)[-1])
        if holder is not None and _name(holder.name) == key:
            return next(([holder.addresses[network_id]] for network_id in scope if network_id in holder.addresses), None)
        return None

    def pointer(self, name: str, scope: list[str]) -> Optional[str]:
        """The task name a reverse name (``5.1.0.10.in-addr.arpa``) of a task's address points to, on
        the first network of ``scope`` that has it; None when none has."""
        address = _forward(_name(name))
        holder = self._holders.get(address)
        for network_id in scope if holder is not None else ():
            if holder.addresses.get(network_id) == address:
                return f"{holder.name}.{self._network_names[network_id]}"
        return None


def _refusal(query: DNSRecord, rcode: int) -> DNSRecord:
    reply = query.reply(ra=0, aa=0)
    reply.header.rcode = rcode
    return reply


def _limit(query: DNSRecord, transport: str) -> int:
    if transport == "tcp":
        return TCP_LIMIT
    offered = [record.rclass for record in query.ar if record.rtype == QTYPE.OPT]
    return min(TCP_LIMIT, max([UDP_LIMIT, *offered]))


def _fit(reply: DNSRecord, limit: int) -> bytes:
    """Drop answers from the end until the reply fits; over UDP a cut reply says so (TC), so that the
    client asks again over TCP."""
    packed = reply.pack()
    while len(packed) > limit and reply.rr:
        reply.rr.pop()
        reply.header.tc = 1
        packed = reply.pack()
    return packed


def respond(directory: Directory, packet: bytes, querier: str, local: str, transport: str,
            rng: random.Random) -> Optional[bytes]:
    """The reply to the DNS message ``packet`` from address ``querier``, received on the host's address
    ``local`` over ``transport`` ("udp" or "tcp"), or None when there is nothing to reply to (not a
    DNS message, or a response). Addresses are shuffled with ``rng`` (Docker shuffles too, so clients
    that take the first spread over the tasks)."""
    try:
        query = DNSRecord.parse(packet)
    except (DNSError, ValueError, IndexError):
        return None
    if query.header.qr:
        return None
    if query.header.opcode != OPCODE.QUERY:
        return _refusal(query, RCODE.NOTIMP).pack()
    if len(query.questions) != 1:
        return _refusal(query, RCODE.FORMERR).pack()
    question = query.q
    scope = directory.scope(querier, local) if question.qclass == CLASS.IN else []
    addresses = directory.lookup(str(question.qname), scope)
    pointer = directory.pointer(str(question.qname), scope)
    if addresses is None and pointer is None:
        return _refusal(query, RCODE.REFUSED).pack()
    reply = query.reply(ra=0, aa=1)
    if pointer is not None and question.qtype in (QTYPE.PTR, QTYPE.ANY):
        reply.add_answer(RR(question.qname, QTYPE.PTR, rdata=PTR(pointer + "."), ttl=TTL))
    if addresses is not None and question.qtype in (QTYPE.A, QTYPE.ANY):
        shuffled = list(addresses)
        rng.shuffle(shuffled)
        for address in shuffled:
            reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=TTL))
    return _fit(reply, _limit(query, transport))


def nameserver(state: dict, network_ids: list[str]) -> Optional[str]:
    """The address a task on ``network_ids`` (in its spec's order) is to use as its first DNS server:
    the host's own address on the first of them that has names. One address is enough, since the
    server scopes each query by the task that asks, whichever of its networks it asks on; and Docker's
    embedded resolver uses only the first three servers it is given (RESOLVERS_USED), so the others
    are left to the host's own resolvers. None when the task has no such network."""
    node_addresses = {network["ID"]: _address(network.get("NodeAddress")) for network in _named_networks(state)}
    for network_id in network_ids:
        if node_addresses.get(network_id):
            return node_addresses[network_id]
    return None


def resolv_conf_nameservers(text: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf's ``text``, in order."""
    servers = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def container_nameservers(state: dict, network_ids: list[str], others: list[str]) -> list[str]:
    """The DNS servers of the container of a task on ``network_ids``: the host's server
    (``nameserver``) first, then ``others`` (the spec's DNSConfig.Nameservers, else the host's own
    resolvers) that a container on an IPv4-only network can reach: IPv4, not loopback;
    RESOLVERS_USED in all at most. [] when the task has no network with names: the engine's default
    then holds."""
    first = nameserver(state, network_ids)
    if first is None:
        return []
    servers = [first]
    for server in others:
        try:
            address = ipaddress.ip_address(server)
        except ValueError:
            continue
        if address.version == 4 and not address.is_loopback and server not in servers:
            servers.append(server)
    return servers[:RESOLVERS_USED]

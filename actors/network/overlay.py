"""The overlay data path of one host: what the kernel must change so each network carries traffic to its peers.

Pure. Per network the host takes part in, the engine makes a bridge (a
Docker bridge network, bridges.py); :func:`plan` then decides, from the
host network state (actors/network/hoststate.py) and what the kernel has
(:class:`Kernel`, read by netlink.py), the changes that make it an overlay:

- the node's own address on the network (``NodeAddress``) on the bridge,
  and the bridge's MAC derived from it (02:42 + the IPv4 bytes, as Docker
  derives a container's), so a peer that reaches it by a derived MAC finds
  the host. Several hosts sharing one namespace share the bridge: the first
  address's MAC stays;
- while some peer is on another data address (another namespace or
  machine), a VXLAN device on the bridge (the network's VNI, UDP 4789, the
  node's data address as its source, no learning, ARP answered from its
  neighbour table), with a forwarding entry (derived MAC -> the peer's data
  address) and a neighbour entry (address -> derived MAC) per peer address.
  Peers on this host's own data address share its bridge and need neither.

Only what this host added is removed: other hosts in the namespace own
their addresses, and Docker owns the gateway.
"""

from __future__ import annotations

import dataclasses
import ipaddress

VXLAN_PORT = 4789
VXLAN_MTU = 1450  # a 1500-byte underlay less VXLAN's 50 bytes, as Docker's overlay driver


def derived_mac(address: str) -> str:
    """Docker's MAC for an IPv4 address (with or without a prefix length): ``02:42:`` + its four bytes."""
    packed = ipaddress.IPv4Interface(address).ip.packed
    return "02:42:" + ":".join(f"{byte:02x}" for byte in packed)


def bridge_name(network_id: str) -> str:
    """The Linux bridge of a network on every host (at most 15 characters, as the kernel allows)."""
    return f"sbr-{network_id[:11]}"


def docker_network_name(network_id: str, name: str) -> str:
    """The name of a network's bridge network on the engine: its name and the start of its id (two
    clusters sharing an engine may both have a network of one name)."""
    return f"{name}-{network_id[:12]}"


def vxlan_name(network_id: str) -> str:
    """The VXLAN device of a network on every host."""
    return f"svx-{network_id[:11]}"


@dataclasses.dataclass(frozen=True)
class Vxlan:
    """A VXLAN device as the kernel has it."""

    name: str
    vni: int
    local: str
    port: int
    master: str | None  # the bridge it is on
    up: bool


@dataclasses.dataclass(frozen=True)
class Kernel:
    """What the kernel has for one network: its bridge (None when the engine has not made it) and VXLAN
    device (None when absent), with the device's forwarding (MAC -> data address) and neighbour
    (address -> MAC) entries."""

    bridge_mac: str | None = None
    bridge_addresses: frozenset[str] = frozenset()  # "10.0.1.3/24"
    vxlan: Vxlan | None = None
    fdb: dict[str, str] = dataclasses.field(default_factory=dict)
    neighbours: dict[str, str] = dataclasses.field(default_factory=dict)


# -- the changes: Add(item), Delete(item) and SetMac -------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class VxlanDevice:
    """A VXLAN device to make on ``bridge`` (and bring up)."""

    name: str
    vni: int
    local: str
    bridge: str


@dataclasses.dataclass(frozen=True)
class Link:
    """A link, by name (to delete)."""

    name: str


@dataclasses.dataclass(frozen=True)
class Address:
    link: str
    address: str  # with its prefix length


@dataclasses.dataclass(frozen=True)
class Fdb:
    """A static forwarding entry of a VXLAN device: frames to ``mac`` go to data address ``dst``."""

    link: str
    mac: str
    dst: str


@dataclasses.dataclass(frozen=True)
class Neighbour:
    """A permanent neighbour entry, which the VXLAN device answers ARP from."""

    link: str
    address: str
    mac: str


@dataclasses.dataclass(frozen=True)
class Add:
    item: VxlanDevice | Address | Fdb | Neighbour


@dataclasses.dataclass(frozen=True)
class Delete:
    item: Link | Address | Fdb | Neighbour


@dataclasses.dataclass(frozen=True)
class SetMac:
    link: str
    mac: str


def remote_addresses(network: dict, data_addr: str) -> dict[str, str]:
    """Peer address -> data address, for the peers of ``network`` (a host state's network) that are
    on another data address than ``data_addr``."""
    return {address: peer["DataAddr"] for peer in network.get("Peers") or ()
            if peer.get("DataAddr") and peer["DataAddr"] != data_addr for address in peer.get("Addresses") or ()}


def wants_vxlan(network: dict, data_addr: str) -> bool:
    """True when ``network`` has a peer beyond this host's data address, so it needs a tunnel."""
    return bool(remote_addresses(network, data_addr))


def after(have: Kernel, changes: list) -> Kernel:
    """What the kernel has once ``changes`` are carried out on ``have`` (netlink.apply's effect), so a host
    that made the changes need not read back what it wrote."""
    mac, addresses, vxlan = have.bridge_mac, set(have.bridge_addresses), have.vxlan
    fdb, neighbours = dict(have.fdb), dict(have.neighbours)
    for change in changes:
        match change:
            case SetMac(mac=new):
                mac = new
            case Add(Address(address=address)):
                addresses.add(address)
            case Delete(Address(address=address)):
                addresses.discard(address)
            case Delete(Link()):
                vxlan, fdb, neighbours = None, {}, {}
            case Add(VxlanDevice(name=name, vni=vni, local=local, bridge=bridge)):
                vxlan = Vxlan(name, vni, local, VXLAN_PORT, bridge, True)
            case Add(Fdb(mac=entry, dst=dst)):
                fdb[entry] = dst
            case Delete(Fdb(mac=entry)):
                fdb.pop(entry, None)
            case Add(Neighbour(address=address, mac=entry)):
                neighbours[address] = entry
            case Delete(Neighbour(address=address)):
                neighbours.pop(address, None)
    return Kernel(mac, frozenset(addresses), vxlan, fdb, neighbours)


def plan(network: dict, data_addr: str, have: Kernel, added: frozenset[str] = frozenset()) -> list:
    """The changes that make the kernel carry ``network`` (a host state's network) for a host whose data
    address is ``data_addr``, given what the kernel ``have``s; ``added`` are the addresses this host put
    on the bridge before (the only ones it removes). Nothing while the bridge does not exist yet."""
    if have.bridge_mac is None:
        return []
    bridge, name = bridge_name(network["ID"]), vxlan_name(network["ID"])
    own = network.get("NodeAddress")
    changes: list = [Delete(Address(bridge, address)) for address in sorted(added & have.bridge_addresses - {own})]
    if own:
        if own not in have.bridge_addresses:
            changes.append(Add(Address(bridge, own)))
        if _takes_mac(have, own, network.get("Gateway"), added):
            changes.append(SetMac(bridge, derived_mac(own)))
    remote = remote_addresses(network, data_addr)
    if not remote:
        return changes + ([Delete(Link(name))] if have.vxlan is not None else [])
    vxlan = have.vxlan
    fdb, neighbours = have.fdb, have.neighbours
    if vxlan is not None and (vxlan.vni, vxlan.local, vxlan.port, vxlan.master) != (
            network["VNI"], data_addr, VXLAN_PORT, bridge):
        changes.append(Delete(Link(name)))
        vxlan, fdb, neighbours = None, {}, {}
    if vxlan is None or not vxlan.up:
        changes.append(Add(VxlanDevice(name, network["VNI"], data_addr, bridge)))
    return changes + _entries(name, remote, fdb, neighbours)


def _takes_mac(have: Kernel, own: str, gateway: str | None, added: frozenset[str]) -> bool:
    """True when the bridge should take ``own``'s derived MAC: it has none derived from an address of
    another host on it (the first host in a namespace keeps its MAC)."""
    others = {derived_mac(address) for address in have.bridge_addresses - added - {own}
              if ipaddress.IPv4Interface(address).ip != _ip(gateway)}
    return have.bridge_mac != derived_mac(own) and have.bridge_mac not in others


def _ip(address: str | None):
    return ipaddress.IPv4Interface(address).ip if address else None


def _entries(name: str, remote: dict[str, str], fdb: dict[str, str], neighbours: dict[str, str]) -> list:
    """Forwarding and neighbour entries to add and remove on VXLAN device ``name`` for the peer
    addresses ``remote`` (address -> data address)."""
    wanted_fdb = {derived_mac(address): dst for address, dst in remote.items()}
    wanted_neighbours = {address: derived_mac(address) for address in remote}
    changes: list = [Delete(Fdb(name, mac, dst)) for mac, dst in sorted(fdb.items()) if wanted_fdb.get(mac) != dst]
    changes += [Delete(Neighbour(name, address, mac)) for address, mac in sorted(neighbours.items())
                if wanted_neighbours.get(address) != mac]
    changes += [Add(Fdb(name, mac, dst)) for mac, dst in sorted(wanted_fdb.items()) if fdb.get(mac) != dst]
    changes += [Add(Neighbour(name, address, mac)) for address, mac in sorted(wanted_neighbours.items())
                if neighbours.get(address) != mac]
    return changes


def plan_removal(network_id: str, gateway: str | None, have: Kernel, added: frozenset[str]) -> list:
    """The changes that take this host's part of a network it left (or at its stop) out of the kernel:
    the addresses it ``added`` to the bridge, and the VXLAN device unless another host in the namespace
    still uses the network."""
    changes: list = [Delete(Address(bridge_name(network_id), address))
                     for address in sorted(added & have.bridge_addresses)]
    if have.vxlan is not None and not others_on_bridge(have, gateway, added):
        changes.append(Delete(Link(vxlan_name(network_id))))
    return changes


def others_on_bridge(have: Kernel, gateway: str | None, added: frozenset[str]) -> bool:
    """True when an address other than the gateway and those this host ``added`` is on the bridge:
    another host in the namespace uses the network, so its bridge and VXLAN device must stay."""
    return any(address not in added and ipaddress.IPv4Interface(address).ip != _ip(gateway)
               for address in have.bridge_addresses)

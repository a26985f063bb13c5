"""Reads and changes the kernel's links, addresses, forwarding and neighbour entries with pyroute2.

:func:`observe` reads what the kernel has for one network (overlay.Kernel);
:func:`apply` carries out overlay.plan's changes in order. Both take an open
``pyroute2.IPRoute`` of the namespace to work in (the host's own, or one a
test made). Every change is idempotent: adding what exists and deleting what
is gone are no-ops, so a plan made from a slightly old observation, or by
two hosts sharing one namespace, still converges. Blocking: call off the
event loop.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ndmsg import flags as NTF, states as NUD

from actors.network import overlay

IFF_UP = 1


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def observe(ipr: IPRoute, network_id: str, known: overlay.Kernel | None = None) -> overlay.Kernel:
    """What the kernel has for the network ``network_id``: its bridge's MAC and IPv4 addresses, its
    VXLAN device, the device's static forwarding and neighbour entries.

    ``known``: what this host left on the device last (overlay.after of its last apply); while the same
    device is there, its entries are taken from it rather than read back (reading costs most: pyroute2
    parses every entry, some seconds for thousands). Only this host writes them in its namespace (or
    hosts sharing it, writing the same)."""
    bridge = _index(ipr, overlay.bridge_name(network_id))
    if bridge is None:
        return overlay.Kernel()
    [link] = ipr.link("get", index=bridge)
    addresses = frozenset(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                          for a in ipr.addr("dump", index=bridge, family=socket.AF_INET))
    have = overlay.Kernel(bridge_mac=link.get("IFLA_ADDRESS"), bridge_addresses=addresses)
    vxlan = _index(ipr, overlay.vxlan_name(network_id))
    if vxlan is None:
        return have
    [device] = ipr.link("get", index=vxlan)
    data = device.get("IFLA_LINKINFO").get("IFLA_INFO_DATA")
    master = device.get("IFLA_MASTER")
    found = overlay.Vxlan(name=overlay.vxlan_name(network_id), vni=data.get("IFLA_VXLAN_ID"),
                          local=data.get("IFLA_VXLAN_LOCAL"), port=data.get("IFLA_VXLAN_PORT"),
                          master=_name(ipr, master) if master else None, up=bool(device["flags"] & IFF_UP))
    if known is not None and known.vxlan == found:
        return dataclasses.replace(have, vxlan=found, fdb=dict(known.fdb), neighbours=dict(known.neighbours))
    fdb = {entry.get("NDA_LLADDR"): entry.get("NDA_DST") for entry in ipr.fdb("dump", ifindex=vxlan)
           if entry["flags"] & NTF["self"] and entry.get("NDA_DST")}
    neighbours = {entry.get("NDA_DST"): entry.get("NDA_LLADDR")
                  for entry in ipr.neigh("dump", ifindex=vxlan, family=socket.AF_INET)
                  if entry["state"] & NUD["permanent"]}
    return dataclasses.replace(have, vxlan=found, fdb=fdb, neighbours=neighbours)


def _name(ipr: IPRoute, index: int) -> str | None:
    links = ipr.link("get", index=index)
    return links[0].get("IFLA_IFNAME") if links else None


def apply(ipr: IPRoute, changes: list) -> None:
    """Carry out ``changes`` (overlay's Add, Delete and SetMac) in order; raises NetlinkError on a refusal
    other than "already so"."""
    links = _Links(ipr)
    for change in changes:
        if isinstance(change, overlay.SetMac):
            ipr.link("set", index=links.index(change.link), address=change.mac)
        else:
            _APPLY[type(change), type(change.item)](links, change.item)


class _Links:
    """The netlink socket of one apply, and link indexes by name, each looked up once (a lookup dumps
    every link: per entry it would cost more than the entry)."""

    def __init__(self, ipr: IPRoute):
        self.ipr = ipr
        self._indexes: dict[str, int | None] = {}

    def index(self, name: str) -> int | None:
        if name not in self._indexes:
            self._indexes[name] = _index(self.ipr, name)
        return self._indexes[name]

    def changed(self, name: str) -> None:
        """Link ``name`` was made or deleted."""
        self._indexes.pop(name, None)


def _tolerating(codes, fn, *args, **kwargs) -> None:
    """Call ``fn``; a NetlinkError with one of ``codes`` (it exists / it is gone) means the kernel is
    already as wanted."""
    try:
        fn(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code not in codes:
            raise


GONE = (errno.ENOENT, errno.ENODEV, errno.EADDRNOTAVAIL, errno.ESRCH)


def _add_vxlan(links: _Links, change: overlay.VxlanDevice) -> None:
    if links.index(change.name) is None:
        links.ipr.link("add", ifname=change.name, kind="vxlan", vxlan_id=change.vni, vxlan_local=change.local,
                       vxlan_port=overlay.VXLAN_PORT, vxlan_learning=0, vxlan_proxy=1, mtu=overlay.VXLAN_MTU)
        links.changed(change.name)
    links.ipr.link("set", index=links.index(change.name), master=links.index(change.bridge), state="up")


def _delete_link(links: _Links, change: overlay.Link) -> None:
    index = links.index(change.name)
    if index is not None:
        _tolerating(GONE, links.ipr.link, "del", index=index)
        links.changed(change.name)


def _address(links: _Links, command: str, change: overlay.Address) -> None:
    interface = ipaddress.IPv4Interface(change.address)
    _tolerating((errno.EEXIST,) if command == "add" else GONE, links.ipr.addr, command,
                index=links.index(change.link), address=str(interface.ip), prefixlen=interface.network.prefixlen)


def _fdb(links: _Links, command: str, change: overlay.Fdb) -> None:
    index = links.index(change.link)
    _tolerating((errno.EEXIST,) if command == "add" else GONE, links.ipr.fdb, command,
                ifindex=index, lladdr=change.mac, dst=change.dst, state=NUD["permanent"])
    if command == "del":
        # The bridge learnt the peer's MAC on this port: forget it, or frames to an address that comes
        # back on a local container (a reused address) would go to the tunnel until the entry ages out.
        _tolerating(GONE, links.ipr.fdb, "del", ifindex=index, lladdr=change.mac, flags=NTF["master"])


def _neighbour(links: _Links, command: str, change: overlay.Neighbour) -> None:
    if command == "add":  # replace: an entry the kernel learnt for the address gives way
        links.ipr.neigh("replace", ifindex=links.index(change.link), dst=change.address, lladdr=change.mac,
                        state=NUD["permanent"])
    else:
        _tolerating(GONE, links.ipr.neigh, "del", ifindex=links.index(change.link), dst=change.address,
                    lladdr=change.mac)


_APPLY = {
    (overlay.Add, overlay.VxlanDevice): _add_vxlan,
    (overlay.Delete, overlay.Link): _delete_link,
    (overlay.Add, overlay.Address): lambda links, item: _address(links, "add", item),
    (overlay.Delete, overlay.Address): lambda links, item: _address(links, "del", item),
    (overlay.Add, overlay.Fdb): lambda links, item: _fdb(links, "add", item),
    (overlay.Delete, overlay.Fdb): lambda links, item: _fdb(links, "del", item),
    (overlay.Add, overlay.Neighbour): lambda links, item: _neighbour(links, "add", item),
    (overlay.Delete, overlay.Neighbour): lambda links, item: _neighbour(links, "del", item),
}

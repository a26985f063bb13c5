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


def observe(ipr: IPRoute, network_id: str) -> overlay.Kernel:
    """What the kernel has for the network ``network_id``: its bridge's MAC and IPv4 addresses, its
    VXLAN device, the device's static forwarding and neighbour entries."""
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
    fdb = {entry.get("NDA_LLADDR"): entry.get("NDA_DST") for entry in ipr.fdb("dump", ifindex=vxlan)
           if entry["flags"] & NTF["self"] and entry.get("NDA_DST")}
    neighbours = {entry.get("NDA_DST"): entry.get("NDA_LLADDR")
                  for entry in ipr.neigh("dump", ifindex=vxlan, family=socket.AF_INET)
                  if entry["state"] & NUD["permanent"]}
    return dataclasses.replace(have, vxlan=overlay.Vxlan(
        name=overlay.vxlan_name(network_id), vni=data.get("IFLA_VXLAN_ID"), local=data.get("IFLA_VXLAN_LOCAL"),
        port=data.get("IFLA_VXLAN_PORT"), master=_name(ipr, master) if master else None,
        up=bool(device["flags"] & IFF_UP)), fdb=fdb, neighbours=neighbours)


def _name(ipr: IPRoute, index: int) -> str | None:
    links = ipr.link("get", index=index)
    return links[0].get("IFLA_IFNAME") if links else None


def apply(ipr: IPRoute, changes: list) -> None:
    """Carry out ``changes`` (overlay's Add, Delete and SetMac) in order; raises NetlinkError on a refusal
    other than "already so"."""
    for change in changes:
        if isinstance(change, overlay.SetMac):
            ipr.link("set", index=_index(ipr, change.link), address=change.mac)
        else:
            _APPLY[type(change), type(change.item)](ipr, change.item)


def _tolerating(codes, fn, *args, **kwargs) -> None:
    """Call ``fn``; a NetlinkError with one of ``codes`` (it exists / it is gone) means the kernel is
    already as wanted."""
    try:
        fn(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code not in codes:
            raise


GONE = (errno.ENOENT, errno.ENODEV, errno.EADDRNOTAVAIL, errno.ESRCH)


def _add_vxlan(ipr: IPRoute, change: overlay.VxlanDevice) -> None:
    if _index(ipr, change.name) is None:
        ipr.link("add", ifname=change.name, kind="vxlan", vxlan_id=change.vni, vxlan_local=change.local,
                 vxlan_port=overlay.VXLAN_PORT, vxlan_learning=0, vxlan_proxy=1, mtu=overlay.VXLAN_MTU)
    ipr.link("set", index=_index(ipr, change.name), master=_index(ipr, change.bridge), state="up")


def _delete_link(ipr: IPRoute, change: overlay.Link) -> None:
    index = _index(ipr, change.name)
    if index is not None:
        _tolerating(GONE, ipr.link, "del", index=index)


def _address(ipr: IPRoute, command: str, change) -> None:
    interface = ipaddress.IPv4Interface(change.address)
    _tolerating((errno.EEXIST,) if command == "add" else GONE, ipr.addr, command, index=_index(ipr, change.link),
                address=str(interface.ip), prefixlen=interface.network.prefixlen)


def _fdb(ipr: IPRoute, command: str, change) -> None:
    index = _index(ipr, change.link)
    _tolerating((errno.EEXIST,) if command == "add" else GONE, ipr.fdb, command,
                ifindex=index, lladdr=change.mac, dst=change.dst, state=NUD["permanent"])
    if command == "del":
        # The bridge learnt the peer's MAC on this port: forget it, or frames to an address that comes
        # back on a local container (a reused address) would go to the tunnel until the entry ages out.
        _tolerating(GONE, ipr.fdb, "del", ifindex=index, lladdr=change.mac, flags=NTF["master"])


def _neighbour(ipr: IPRoute, command: str, change) -> None:
    if command == "add":  # replace: an entry the kernel learnt for the address gives way
        ipr.neigh("replace", ifindex=_index(ipr, change.link), dst=change.address, lladdr=change.mac,
                  state=NUD["permanent"])
    else:
        _tolerating(GONE, ipr.neigh, "del", ifindex=_index(ipr, change.link), dst=change.address,
                    lladdr=change.mac)


_APPLY = {
    (overlay.Add, overlay.VxlanDevice): _add_vxlan,
    (overlay.Delete, overlay.Link): _delete_link,
    (overlay.Add, overlay.Address): lambda ipr, item: _address(ipr, "add", item),
    (overlay.Delete, overlay.Address): lambda ipr, item: _address(ipr, "del", item),
    (overlay.Add, overlay.Fdb): lambda ipr, item: _fdb(ipr, "add", item),
    (overlay.Delete, overlay.Fdb): lambda ipr, item: _fdb(ipr, "del", item),
    (overlay.Add, overlay.Neighbour): lambda ipr, item: _neighbour(ipr, "add", item),
    (overlay.Delete, overlay.Neighbour): lambda ipr, item: _neighbour(ipr, "del", item),
}

"""The overlay plan carried out on the real kernel (actors/network/netlink.py), in namespaces this test makes.

No Docker: namespaces ``a`` and ``b`` play two hosts joined by a veth pair
(their data addresses), each with the bridge its engine would have made
(the network's gateway on it); a namespace per "container" hangs on a
host's bridge by a veth with its address and the MAC derived from it, as
the engine attaches a task. Each host plans from what its kernel has and
applies; the test looks at what crosses: container to container over
VXLAN, a host's own address to a container on the other host and back.
"""

import os
import subprocess

import pytest
from pyroute2 import NetNS

from actors.network import netlink, overlay

PREFIX = f"h3ov{os.getpid() % 100000}"
NET = "ovtestnet0123456789abcdef"
BRIDGE = overlay.bridge_name(NET)
DATA = {"a": "192.168.213.1", "b": "192.168.213.2"}
CONTAINERS = {"a": "10.213.7.5", "b": "10.213.7.6"}
NODE_ADDRESSES = {"a": "10.213.7.3/24", "b": "10.213.7.4/24"}


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True)


def ns(name):
    return f"{PREFIX}{name}"


def in_ns(name, *argv):
    return subprocess.run(["nsenter", f"--net=/var/run/netns/{ns(name)}", "--", *argv],
                          capture_output=True, text=True, timeout=20)


@pytest.fixture
def hosts():
    """Hosts ``a`` and ``b`` and a container on each host's bridge; all removed afterwards."""
    made = []
    try:
        for host in "ab":
            for name in (host, "c" + host):
                sh("ip", "netns", "add", ns(name))
                made.append(ns(name))
                in_ns(name, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", f"{PREFIX}da", "netns", ns("a"), "type", "veth", "peer", "name", f"{PREFIX}db",
           "netns", ns("b"))
        for host in "ab":
            in_ns(host, "ip", "addr", "add", f"{DATA[host]}/24", "dev", f"{PREFIX}d{host}")
            in_ns(host, "ip", "link", "set", f"{PREFIX}d{host}", "up")
            in_ns(host, "ip", "link", "add", BRIDGE, "type", "bridge")
            in_ns(host, "ip", "addr", "add", "10.213.7.1/24", "dev", BRIDGE)
            in_ns(host, "ip", "link", "set", BRIDGE, "up")
            sh("ip", "link", "add", f"{PREFIX}v{host}", "netns", ns(host), "type", "veth", "peer", "name", "eth0",
               "netns", ns("c" + host))
            in_ns(host, "ip", "link", "set", f"{PREFIX}v{host}", "master", BRIDGE, "up")
            address = CONTAINERS[host]
            for argv in (("link", "set", "eth0", "address", overlay.derived_mac(address)),
                         ("addr", "add", f"{address}/24", "dev", "eth0"), ("link", "set", "eth0", "up")):
                in_ns("c" + host, "ip", *argv)
        yield
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


def network(host, peer_addresses):
    other = "b" if host == "a" else "a"
    return {"ID": NET, "Name": "back", "VNI": 4242, "Subnet": "10.213.7.0/24", "Gateway": "10.213.7.1",
            "Internal": False, "Ingress": False, "Attachable": False, "NodeAddress": NODE_ADDRESSES[host],
            "Peers": [{"NodeID": other, "DataAddr": DATA[other], "Addresses": peer_addresses}] if peer_addresses
            else []}


def program(host, peer_addresses, added=frozenset()):
    """Plan from what the kernel of ``host`` has and apply; the changes made."""
    with NetNS(ns(host)) as ipr:
        have = netlink.observe(ipr, NET)
        changes = overlay.plan(network(host, peer_addresses), DATA[host], have, added)
        netlink.apply(ipr, changes)
        now = netlink.observe(ipr, NET)
        assert now == overlay.after(have, changes)  # the model the plane trusts instead of reading back
        assert overlay.plan(network(host, peer_addresses), DATA[host], now, frozenset({NODE_ADDRESSES[host]})) == []
    return changes


def pings(name, target, source=None, tries=3):
    argv = ["busybox", "ping", "-c", "1", "-W", "1"] + (["-I", source] if source else []) + [target]
    return any(in_ns(name, *argv).returncode == 0 for _ in range(tries))


def peers_of(host):
    other = "b" if host == "a" else "a"
    return [CONTAINERS[other], NODE_ADDRESSES[other].split("/")[0]]


def test_containers_and_node_addresses_on_two_hosts_reach_each_other_over_vxlan(hosts):
    assert not pings("ca", CONTAINERS["b"], tries=1)  # nothing joins the two bridges yet
    for host in "ab":
        program(host, peers_of(host))
    assert pings("ca", CONTAINERS["b"]) and pings("cb", CONTAINERS["a"])
    assert pings("a", CONTAINERS["b"], source="10.213.7.3")  # a host's own address, by its derived MAC
    assert pings("cb", "10.213.7.3")
    with NetNS(ns("a")) as ipr:
        have = netlink.observe(ipr, NET)
    assert have.vxlan == overlay.Vxlan(overlay.vxlan_name(NET), 4242, DATA["a"], overlay.VXLAN_PORT, BRIDGE, True)
    assert have.fdb == {overlay.derived_mac(a): DATA["b"] for a in peers_of("a")}
    assert have.bridge_mac == overlay.derived_mac("10.213.7.3")

    # The peer container leaves: its entries go, and it is no longer reached; the device stays for the node.
    learnt = in_ns("a", "bridge", "fdb", "show", "dev", overlay.vxlan_name(NET)).stdout
    assert f"{overlay.derived_mac(CONTAINERS['b'])} master {BRIDGE}" in learnt  # the bridge learnt it on the tunnel
    program("a", [NODE_ADDRESSES["b"].split("/")[0]], frozenset({NODE_ADDRESSES["a"]}))
    assert not pings("ca", CONTAINERS["b"], tries=1)
    # ...and forgot it, so the address can come back on a local container at once.
    assert overlay.derived_mac(CONTAINERS["b"]) not in in_ns("a", "bridge", "fdb", "show", "dev",
                                                               overlay.vxlan_name(NET)).stdout
    # Programming again changes nothing; leaving takes the address and the device away.
    assert program("a", [NODE_ADDRESSES["b"].split("/")[0]], frozenset({NODE_ADDRESSES["a"]})) == []
    with NetNS(ns("a")) as ipr:
        netlink.apply(ipr, overlay.plan_removal(NET, "10.213.7.1", netlink.observe(ipr, NET),
                                                frozenset({NODE_ADDRESSES["a"]})))
        left = netlink.observe(ipr, NET)
    assert left.vxlan is None and left.bridge_addresses == {"10.213.7.1/24"}

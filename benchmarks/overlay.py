#!/usr/bin/env python3
"""The overlay plane's kernel work: how long a host takes to program one network with P peer addresses on
other hosts (the VXLAN device, a forwarding and a neighbour entry per address), and then to follow one
change (a peer address gone, another come), for a few sizes: reading the device's entries back first,
and as the plane does, from what it wrote last (overlay.after).

    python3 benchmarks/overlay.py [--peers 10,100,1000] [--trials 3]

Each trial makes a network namespace of its own holding the bridge the engine would make (no Docker,
no traffic: nothing is sent anywhere), times overlay.plan + netlink.observe/apply there, and deletes the
namespace. Needs root. Prints a Markdown table (medians of the trials, and their range) and the load average.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyroute2 import NetNS  # noqa: E402

from actors.network import netlink, overlay  # noqa: E402

NET = "overlaybenchnet0123456789"
HERE = "192.0.2.1"  # data addresses in a namespace with no other link: never reached
THERE = ("192.0.2.2", "192.0.2.3")


def network(peer_addresses: list[str]) -> dict:
    """A host state's network (10.96.0.0/12, room for 1,000s of peers) with ``peer_addresses`` on two other
    hosts (by their last byte's parity, so an address stays on its host from one state to the next)."""
    halves = [[a for a in peer_addresses if int(a.rsplit(".", 1)[1]) % 2 == side] for side in (0, 1)]
    return {"ID": NET, "Name": "bench", "VNI": 4097, "Subnet": "10.96.0.0/12", "Gateway": "10.96.0.1",
            "Internal": False, "Ingress": False, "Attachable": False, "NodeAddress": "10.96.0.3/12",
            "Peers": [{"NodeID": f"n{i}", "DataAddr": THERE[i], "Addresses": half} for i, half in enumerate(halves)]}


def addresses(count: int, start: int = 10) -> list[str]:
    return [f"10.96.{(start + i) // 250}.{(start + i) % 250 + 2}" for i in range(count)]


def program(ipr, wanted: dict, added: frozenset, known: overlay.Kernel | None = None):
    """Seconds to observe (given what was ``known`` to be written), plan and apply ``wanted`` in the
    namespace of ``ipr``, and what the kernel has then."""
    started = time.perf_counter()
    have = netlink.observe(ipr, NET, known)
    changes = overlay.plan(wanted, HERE, have, added)
    netlink.apply(ipr, changes)
    return time.perf_counter() - started, overlay.after(have, changes)


def trial(peers: int) -> tuple[float, float, float]:
    """(first programming, one change read back, one change from what was written) seconds for ``peers``
    peer addresses, in a fresh namespace."""
    name = f"h3ovbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        bridge = overlay.bridge_name(NET)
        for argv in (["link", "add", bridge, "type", "bridge"], ["addr", "add", "10.96.0.1/12", "dev", bridge],
                     ["link", "set", bridge, "up"]):
            subprocess.run(["ip", "-n", name, *argv], check=True)
        own = frozenset({"10.96.0.3/12"})
        with NetNS(name) as ipr:
            first, _ = program(ipr, network(addresses(peers)), frozenset())
            changed = addresses(peers)[1:] + addresses(1, start=10 + peers)
            read_back, written = program(ipr, network(changed), own)
            from_written, _ = program(ipr, network(addresses(peers)), own, written)
            assert overlay.plan(network(addresses(peers)), HERE, netlink.observe(ipr, NET), own) == []
        return first, read_back, from_written
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default="10,100,1000")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    print("| peer addresses | program the network (ms) | one change, entries read back (ms) | one change, "
          "from what was written (ms) |")
    print("|---:|---:|---:|---:|")
    for peers in map(int, args.peers.split(",")):
        runs = [trial(peers) for _ in range(args.trials)]
        cells = []
        for values in zip(*runs):
            ms = [value * 1000 for value in values]
            cells.append(f"{statistics.median(ms):.1f} ({min(ms):.1f}-{max(ms):.1f})")
        print(f"| {peers:,} | {' | '.join(cells)} |")
    print(f"\nload average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()

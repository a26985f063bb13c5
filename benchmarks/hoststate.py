#!/usr/bin/env python3
"""What the dispatcher spends on hosts' network states (actors/network/hoststate.py) after one change.

For each size NODESxTASKS (every task on one overlay network, spread evenly over the nodes, each node with
its own address there), a store's tables are built in memory, then one task's observed state moves from
running to failed: the time to take that change into the index (NetworkIndex.update) and to work out
every node's state and fingerprint (HostStates, what the dispatcher does per batch of changes: every node
is touched, as all share the network), and the encoded size of one node's state (what one push carries).
Pure functions, no IO. Prints a Markdown table (the best and worst of the trials) and the load average.

    python3 benchmarks/hoststate.py [--sizes 100x1000 1000x10000] [--trials 3]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.common.changeset import ChangeSet  # noqa: E402
from actors.network.hoststate import HostStates  # noqa: E402
from actors.network.netindex import NetworkIndex  # noqa: E402
from actors.network.objects import allocation  # noqa: E402
from transport import codec  # noqa: E402


def address(number: int) -> str:
    """The ``number``-th address of 10.0.0.0/16 (with its prefix)."""
    return f"10.0.{number // 250}.{number % 250 + 2}/16"


def tables(nodes: int, tasks: int) -> dict:
    """A store with one allocated network, ``nodes`` ready nodes and ``tasks`` running tasks of one service."""
    network = {"ID": "net", "Spec": {"Name": "bench"}, **allocation(4097, "10.0.0.0/16", "10.0.0.1")}
    attach = [{"Target": "net"}]
    return {
        "networks": {"net": network},
        "nodes": {f"node{i}": {"ID": f"node{i}", "Status": {"State": "ready", "Addr": f"192.168.{i // 250}.{i % 250}"},
                               "Attachments": [{"Network": {"ID": "net"}, "Addresses": [address(60000 + i)]}]}
                  for i in range(nodes)},
        "services": {"svc": {"ID": "svc", "Spec": {"Name": "web", "TaskTemplate": {"Networks": attach}},
                             "Endpoint": {"VirtualIPs": [{"NetworkID": "net", "Addr": address(0)}]}}},
        "tasks": {f"t{i}": {"ID": f"t{i}", "ServiceID": "svc", "NodeID": f"node{i % nodes}", "Slot": i + 1,
                            "DesiredState": "running", "Status": {"State": "running"},
                            "NetworksAttachments": [{"Network": {"ID": "net"}, "Addresses": [address(i + 1)]}]}
                  for i in range(tasks)},
    }


def trial(nodes: int, tasks: int) -> tuple[float, float, int]:
    """(seconds to update the index, seconds for every node's state, bytes of one node's state)."""
    store = tables(nodes, tasks)
    index = NetworkIndex(store)
    changes = ChangeSet()
    old = store["tasks"]["t0"]
    store["tasks"]["t0"] = new = {**old, "Status": {"State": "failed"}}
    changes.record("tasks", "t0", old, new)
    started = time.perf_counter()
    touched = index.update(changes.take(), store["tasks"])
    updated = time.perf_counter()
    states = HostStates(index)
    for node_id in store["nodes"]:
        if node_id in touched.nodes or index.host_networks(node_id) & touched.networks:
            items, _ = states.for_node(node_id)
    done = time.perf_counter()
    return updated - started, done - updated, len(codec.encode(items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["10x100", "100x1000", "100x10000", "1000x10000"])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    print("| nodes | tasks | index update (ms) | every node's state (ms) | per node (ms) | one state (KiB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        nodes, tasks = (int(part) for part in size.split("x"))
        runs = [trial(nodes, tasks) for _ in range(args.trials)]
        update = sorted(run[0] * 1000 for run in runs)
        states = sorted(run[1] * 1000 for run in runs)
        print(f"| {nodes:,} | {tasks:,} | {update[0]:.2f}-{update[-1]:.2f} | {states[0]:.0f}-{states[-1]:.0f} | "
              f"{states[0] / nodes:.2f}-{states[-1] / nodes:.2f} | {runs[0][2] / 1024:.0f} |")
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Dispatchers: the session traffic of M simulated nodes on one manager's dispatcher processes, 1 then 2.

One manager host (drained) and M simulated nodes (bin/shoal-simnodes, in
processes of at most --nodes-per-process), all ready; then, in the same
cluster and sitting, for 1 and then 2 dispatcher processes (host.json
``"dispatchers"`` and a SIGHUP, as docs/operations.md says):

- waits until the nodes' sessions are spread over the processes
  (``Shoal.Dispatcher``) and --settle seconds more;
- over a window of --window seconds: the nodes per process (at its end), the heartbeats the dispatcher processes
  answered per second (``shoal_dispatcher_heartbeats_total`` from each one's
  metrics), out of the M / period the nodes mean to send; the CPU seconds
  per second each dispatcher process used; and the nodes that were not
  ready at the window's end.

    python3 benchmarks/dispatchers.py [--nodes 1000] [--nodes-per-process 250] [--window 10] [--write]

Everything runs on loopback; every wait is bounded (--timeout). ``--write``
puts the table in docs/benchmarks.md, section ``## Dispatchers``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import sys
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.common.hostconfig import HostConfig  # noqa: E402
from actors.common.supervisor import reload_daemon  # noqa: E402
from benchmarks.report import replace_section  # noqa: E402
from benchmarks.scale import Bench, cpu_seconds, poll_until  # noqa: E402

HEADING = "## Dispatchers"


def heartbeats(config: HostConfig, instance: int) -> float:
    """Heartbeats dispatcher ``instance`` of the host has answered so far (its Prometheus counter)."""
    url = f"http://127.0.0.1:{config.metrics_port('dispatcher', instance)}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("shoal_dispatcher_heartbeats_total "):
                return float(line.split()[1])
    raise RuntimeError(f"no heartbeat counter at {url}")


def dispatcher_pids(bench: Bench) -> dict[int, int]:
    """Instance -> pid of the manager's dispatcher processes."""
    found = {}
    for pid in bench.cluster.hosts[0].pids():
        try:
            args = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "dispatcher" in args and "shoal-actor" in " ".join(args):
            found[int(args[args.index("--instance") + 1]) if "--instance" in args else 0] = pid
    return found


def sessions(bench: Bench) -> collections.Counter:
    """Ready nodes per dispatcher they are in session with."""
    return collections.Counter((node.get("Shoal") or {}).get("Dispatcher") for node in bench.client.call("node_ls", timeout=10)
                               if node["Status"]["State"] == "ready")


def heartbeat_period(bench: Bench) -> float:
    """The cluster's ``Dispatcher.HeartbeatPeriod`` in seconds (the period the dispatchers hand the nodes)."""
    cluster = bench.client.call("info", timeout=10)["cluster"]
    return cluster["Spec"]["Dispatcher"]["HeartbeatPeriod"] / 1e9


def set_dispatchers(bench: Bench, count: int) -> None:
    manager = bench.cluster.hosts[0]
    path = manager.state_dir / "host.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "dispatchers": count}, indent=2))
    if not reload_daemon(manager.state_dir):
        raise RuntimeError("the manager's shoald is not running")


def measure(bench: Bench, count: int, args) -> str:
    """One table row: ``count`` dispatcher processes over a window."""
    set_dispatchers(bench, count)
    spread = poll_until(lambda: (lambda by: by if len(by) == count and sum(by.values()) == bench.nodes + 1 else None)(
        sessions(bench)), args.timeout)
    if spread is None:
        raise RuntimeError(f"the nodes did not spread over {count} dispatcher processes within {args.timeout:g}s")
    time.sleep(args.settle)
    config = HostConfig.load(bench.cluster.hosts[0].state_dir)
    pids = dispatcher_pids(bench)
    before = {instance: (heartbeats(config, instance), cpu_seconds([pid])) for instance, pid in pids.items()}
    started = time.monotonic()
    time.sleep(args.window)
    after = {instance: (heartbeats(config, instance), cpu_seconds([pid])) for instance, pid in pids.items()}
    seconds = time.monotonic() - started
    rates = {i: (after[i][0] - before[i][0]) / seconds for i in pids}
    cpu = {i: (after[i][1] - before[i][1]) / seconds for i in pids}
    spread = sessions(bench)  # at the window's end: the moves started by the new process are done by then
    not_ready = bench.nodes + 1 - sum(spread.values())
    wanted = (bench.nodes + 1) / heartbeat_period(bench)
    return (f"| {count} | {' / '.join(str(spread[name]) for name in sorted(spread))} | {sum(rates.values()):,.0f} "
            f"of {wanted:,.0f} | {' / '.join(f'{rates[i]:,.0f}' for i in sorted(rates))} "
            f"| {' / '.join(f'{cpu[i]:.2f}' for i in sorted(cpu))} | {not_ready} | {os.getloadavg()[0]:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--nodes-per-process", type=int, default=250)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="h5-dispatchers-") as root:
        bench = Bench(pathlib.Path(root), 1, args.nodes, args.nodes_per_process, 0.1, args.timeout)
        try:
            bench.start()
            for count in (1, 2):
                rows.append(measure(bench, count, args))
                print(rows[-1], flush=True)
        finally:
            bench.stop()
    if args.write:
        command = "python3 benchmarks/dispatchers.py " + " ".join(sys.argv[1:])
        replace_section(REPO / "docs" / "benchmarks.md", HEADING, section(rows, command.strip(), args))
    return 0


def section(rows: list[str], command: str, args) -> str:
    return "\n".join([
        HEADING, "",
        f"One manager (drained) and {args.nodes:,} simulated nodes (+1), each heartbeating every period "
        "(the cluster's `Dispatcher.HeartbeatPeriod`), with 1 and then 2 dispatcher processes on the manager "
        f"(`\"dispatchers\": N` in host.json, docs/operations.md), in one cluster and sitting "
        f"(`benchmarks/dispatchers.py`). Over a {args.window:g} s window once the sessions had spread: "
        "heartbeats answered per second (of those the nodes mean to send), per process, and the CPU seconds "
        f"per second each dispatcher process used; {os.cpu_count()} cores shared with other work.", "",
        "| dispatcher processes | nodes per process | heartbeats/s answered | per process | CPU-s/s per process "
        "| nodes not ready | load avg |",
        "|---|---|---|---|---|---|---|", *rows, "",
        f"Command: `{command}`", ""])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The scheduler's placement step alone: seconds for one pass over P pending tasks on N nodes.

The pure core (``actors.scheduler.placement.schedule``) on a view built in
memory: N ready nodes in 4 zones, P pending tasks in services of 1,000
replicas (no reservations, no preferences), and ``--running`` R tasks of
other services already running on the nodes (0: nothing placed yet). Each
timed pass follows an untimed one over the same view, as the actor's passes
follow each other (what a pass keeps for the next, such as the scheduler's
node load, is kept). Three measures per size:

- *after*: one pass of this tree's scheduler, in one process (CPU seconds:
  the machine is shared);
- *before*: the same pass with the scheduler of ``--before`` (a commit of
  this repository, exported with ``git archive`` into a temporary directory
  and run in a subprocess). That scheduler screens every node for every task,
  so its cost per task does not depend on P: above ``--before-tasks`` it is
  timed on the first services only (a view of ``--before-tasks`` pending
  tasks) and scaled to P, and the table says so;
- *2 shards*: the same pass split between two processes (shards 0/2 and
  1/2, as ``bin/shoal-actor scheduler --shard K/2`` runs them), started
  together, against one process placing everything: the CPU time of the
  busiest process (the pass's time with a free core per process) and the
  wall time until both are done (on this shared machine). Each process keeps
  the whole view's load (every placed task); the placing is split, and so is
  sorting the pending tasks into groups, save for shard 0, which also looks
  at other services' tasks for those that hold node limits.

    python3 benchmarks/placement.py [--sizes 10000,50000,100000] [--nodes 1000] [--running R] [--before COMMIT]
                                    [--before-tasks 10000] [--trials 3] [--write]

``--write`` puts the table in docs/benchmarks.md, section ``## Placement``.
Runs nothing but Python in local processes; every pass is bounded by its size.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import types

REPO = pathlib.Path(__file__).resolve().parents[1]
HEADING = "## Placement"
REPLICAS_PER_SERVICE = 1_000
T0 = 1_000.0


def cluster_view(tasks: int, nodes: int, running: int = 0) -> dict:
    """A view of ``nodes`` ready nodes (4 zones, 4 CPUs, 8 GiB), ``tasks`` pending tasks of services
    of REPLICAS_PER_SERVICE replicas each, as the orchestrator and allocator leave them, and ``running``
    tasks of other such services running on the nodes in turn."""
    from transport import schema
    the_nodes = {f"node{number:05d}": {
        "ID": f"node{number:05d}", "Status": {"State": "ready"},
        "Spec": {"Role": "worker", "Availability": "active", "Labels": {"zone": f"z{number % 4}"}},
        "Description": {"Hostname": f"host{number}", "Platform": {"OS": "linux", "Architecture": "x86_64"},
                        "Resources": {"NanoCPUs": 4_000_000_000, "MemoryBytes": 8 << 30}}}
        for number in range(nodes)}
    pending = {}
    for number in range(tasks):
        service = f"service{number // REPLICAS_PER_SERVICE:04d}"
        task_id = f"task{number:07d}"
        pending[task_id] = {
            "ID": task_id, "ServiceID": service, "Slot": number % REPLICAS_PER_SERVICE + 1, "NodeID": "",
            "SpecVersion": {"Index": 1}, "DesiredState": "running", "Version": {"Index": 10 + number},
            "Spec": {"ContainerSpec": {"Image": "shoal-test:latest"}, "Placement": {}, "Resources": {}},
            "Endpoint": {"Ports": []}, "CreatedAt": schema.format_time(T0 + number / 1e6),
            "Status": schema.task_status("pending", "pending task scheduling", T0)}
    for number in range(running):
        task_id = f"busy{number:07d}"
        pending[task_id] = {
            "ID": task_id, "ServiceID": f"busy{number // REPLICAS_PER_SERVICE:04d}",
            "Slot": number % REPLICAS_PER_SERVICE + 1, "NodeID": f"node{number % nodes:05d}",
            "SpecVersion": {"Index": 1}, "DesiredState": "running", "Version": {"Index": 10 + tasks + number},
            "Spec": {"ContainerSpec": {"Image": "shoal-test:latest"}, "Placement": {}, "Resources": {}},
            "Endpoint": {"Ports": []}, "CreatedAt": schema.format_time(T0 - 1),
            "Status": schema.task_status("running", "started", T0)}
    return {"cluster": None, "services": {}, "nodes": the_nodes, "tasks": pending}


def as_store_view(view: dict):
    """``view`` as a StoreView offers it to a pass: its tables, a live task index kept beside them (so a
    pass does not build it), and change sets (``watch``: none records anything, as this view never
    changes); ``view`` itself for a tree without a task index."""
    try:
        from actors.common.changeset import ChangeSet
        from actors.common.taskindex import TaskIndex
    except ImportError:  # the 'before' tree
        return view
    return types.SimpleNamespace(**view, task_index=TaskIndex(view["tasks"]), table=view.__getitem__,
                                 watch=ChangeSet)


def one_pass(tasks: int, nodes: int, running: int = 0) -> float:
    """CPU seconds of one scheduler pass (as the actor runs it, or ``schedule`` for a tree without
    ``placing``) over a fresh view, after an untimed pass over it (only the pass is timed: CPU time, as
    the machine is shared); checks every task got a node."""
    try:
        from actors.scheduler.actor import placing
        from actors.scheduler.shard import EVERY_TASK
        decide = placing(EVERY_TASK)
    except ImportError:  # the 'before' tree
        from actors.scheduler.placement import schedule as decide
    view = as_store_view(cluster_view(tasks, nodes, running))
    decide(view, T0)
    started = time.process_time()
    decision = decide(view, T0)
    seconds = time.process_time() - started
    placed = sum(1 for op in decision.ops if "NodeID" in op["set"])
    assert placed == tasks, (placed, tasks)
    return seconds


def before_pass(commit: str, tasks: int, nodes: int, running: int, limit: int) -> tuple[float, bool]:
    """Seconds for one pass with ``commit``'s scheduler (scaled from ``limit`` tasks when ``tasks`` is
    more), and whether it was scaled."""
    measured = min(tasks, limit)
    with tempfile.TemporaryDirectory(prefix="shoal-placement-") as tree:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "actors", "transport"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        output = subprocess.run([sys.executable, __file__, "--one", f"{measured},{nodes},{running}"], check=True,
                                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": tree}).stdout
    seconds = json.loads(output)["seconds"]
    return seconds * tasks / measured, measured < tasks


def _shard_worker(tasks: int, nodes: int, running: int, shard: str, start, results) -> None:
    from actors.scheduler.actor import placing
    from actors.scheduler.shard import Shard
    view = as_store_view(cluster_view(tasks, nodes, running))
    decide = placing(Shard.parse(shard))
    decide(view, T0)
    start.wait()
    cpu = time.process_time()
    decide(view, T0)
    results.put((time.perf_counter(), time.process_time() - cpu))


def sharded_pass(tasks: int, nodes: int, running: int, count: int) -> tuple[float, float]:
    """For ``count`` processes (shards K/count) started together once each has built its view: wall
    seconds until all are done, and the CPU seconds of the busiest (the wall time on idle cores)."""
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(count + 1), context.Queue()
    workers = [context.Process(target=_shard_worker, args=(tasks, nodes, running, f"{number}/{count}", start, results))
               for number in range(count)]
    for worker in workers:
        worker.start()
    start.wait(timeout=600)
    started = time.perf_counter()
    ends = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return max(end for end, _ in ends) - started, max(cpu for _, cpu in ends)


def services_per_shard(tasks: int) -> str:
    """How the view's services fall into shards 0/2 and 1/2, e.g. ``4 / 6``."""
    from actors.scheduler.shard import Shard
    services = {f"service{number // REPLICAS_PER_SERVICE:04d}" for number in range(tasks)}
    return " / ".join(str(sum(Shard(number, 2).owns({"ServiceID": service}) for service in services))
                      for number in range(2))


def measure(sizes: list[int], nodes: int, running: int, commit: str, limit: int, trials: int) -> list[str]:
    """Markdown table rows, one per size (medians of ``trials``)."""
    rows = []
    for tasks in sizes:
        after = statistics.median(one_pass(tasks, nodes, running) for _ in range(trials))
        before, scaled = before_pass(commit, tasks, nodes, running, limit)
        one, two = ([statistics.median(values) for values in zip(*(sharded_pass(tasks, nodes, running, count)
                                                                     for _ in range(trials)))] for count in (1, 2))
        scaled_note = f" (scaled from {limit:,})" if scaled else ""
        rows.append(f"| {tasks:,} x {nodes:,} | {before:.2f} s{scaled_note} | {after:.2f} s | {tasks / after:,.0f} "
                    f"| {before / after:.0f}x | {services_per_shard(tasks)} "
                    f"| {one[1]:.2f} s / {two[1]:.2f} s: {one[1] / two[1]:.2f}x "
                    f"| {one[0]:.2f} s / {two[0]:.2f} s: {one[0] / two[0]:.2f}x |")
        print(rows[-1], flush=True)
    return rows


def section(rows: list[str], command: str, commit: str, running: int) -> str:
    """The ``## Placement`` section of docs/benchmarks.md."""
    load = os.getloadavg()[0]
    return "\n".join([
        HEADING, "",
        f"One scheduler pass, pure core, pending tasks in services of {REPLICAS_PER_SERVICE:,} replicas on ready "
        f"nodes (`benchmarks/placement.py`), {running:,} tasks of other services already running on them, each timed "
        "pass following an untimed one over the same view as the actor's passes follow each other. *Before*: the scheduler of `{commit}`, which screened and ranked every "
        "node for every task; *after*: placement by task group (nodes screened once per group, tasks handed out "
        "from a heap), run as the actor runs it (the view out of the cyclic garbage collector's walks during "
        "the pass: `actors/scheduler/actor.py`); both in CPU seconds of one pass, as the machine is shared. *2 shards*: the same pass "
        "split between two processes started together (`--shard 0/2`, `--shard 1/2`) beside one process: "
        "the CPU seconds of the busiest process (what the pass takes with a free core each), and the wall "
        "time until both are done (what it took on this machine, shared with other work). Medians of the "
        f"trials; {os.cpu_count()} cores, load average {load:.1f} when written.", "",
        "| pending x nodes | before | after | tasks/s after | speed-up | services per shard "
        "| 1 process / 2 shards, CPU of the busiest | 1 process / 2 shards, wall |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        "What a second process does not split: each holds and keeps current the whole view and its node load "
        "(kept from the view's changes, not rebuilt per pass: `actors/scheduler/keptload.py`), and shard 0 "
        "still looks at every service's pending tasks for those that hold node limits (the others skip the "
        "services they cannot own); one service's tasks "
        "are placed by one shard, so the gain also follows how the services hash (10 services fall 4 / 6). "
        "The wall-clock column depends on what else ran on the two cores at the time, and the CPU columns vary "
        "too under load: a gain above what the split allows (1 / the busiest shard's share of the services) "
        "is noise.", "",
        f"Command: `{command}`", ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--running", type=int, default=0, help="tasks of other services already running")
    parser.add_argument("--before", default="709ac44", help="commit whose scheduler is 'before'")
    parser.add_argument("--before-tasks", type=int, default=10_000, help="most tasks 'before' is timed on")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # TASKS,NODES,RUNNING: one pass, JSON out (the 'before' child)
    args = parser.parse_args()
    if args.one:
        print(json.dumps({"seconds": one_pass(*map(int, args.one.split(",")))}))
        return 0
    sys.path.insert(0, str(REPO))
    rows = measure([int(size) for size in args.sizes.split(",")], args.nodes, args.running, args.before,
                   args.before_tasks, args.trials)
    if args.write:
        from benchmarks.report import replace_section
        command = "python3 benchmarks/placement.py " + " ".join(sys.argv[1:])
        replace_section(REPO / "docs" / "benchmarks.md", HEADING, section(rows, command.strip(), args.before, args.running))
    return 0


if __name__ == "__main__":
    sys.exit(main())

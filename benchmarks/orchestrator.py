#!/usr/bin/env python3
"""The orchestrator's decision pass at rest, over every service against over the changed ones.

For each size SERVICESxREPLICAS it builds a view (a live task index, as a
StoreView keeps) of that many replicated services, every task running on one
of ``--nodes`` nodes, and times, in CPU seconds of this process:

- a full pass (``reconcile``: what the orchestrator ran after every change
  before it kept its change set);
- the pass the orchestrator runs after one task of one service changed
  (``reconcile_services`` over that one service: dirty.py).

Both must propose nothing (the services are at rest): the benchmark checks it.

Then, for each ``--scale-up`` N, the CPU seconds of the passes that create
one service of N replicas from nothing, each pass's tasks then running, with
a pass's creation budget of 1,000 tasks (before) and the default
(``TASKS_CREATED_PER_PASS``).

    python3 benchmarks/orchestrator.py [--sizes 1x5000 1x20000 1000x100] [--nodes 1000] [--trials 3]
                                       [--scale-up 5000 20000] [--write]

With ``--write`` the tables go to docs/benchmarks.md, section "## Orchestrator pass".

Pure computation: no sockets, no processes; every loop is bounded by its counts.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.common.taskindex import TaskIndex  # noqa: E402
from actors.orchestrator.reconcile import reconcile, reconcile_services  # noqa: E402
from actors.orchestrator.slots import CreationBudget  # noqa: E402
from benchmarks.report import replace_section  # noqa: E402
from transport import limits  # noqa: E402

RESULTS = REPO / "docs" / "benchmarks.md"
HEADING = "## Orchestrator pass"
READING = """Before the orchestrator kept its change set, every change of its view (each status report of each
task) was followed by a full pass; now by a pass over the services that changed or were left unsettled
(actors/orchestrator/dirty.py). A pass still walks every slot of each service it decides for, so one
service of many replicas costs what a full pass costs, and a scale-up of N tasks takes N / budget passes."""

STAMP = "2026-11-29T21:00:00.000000000Z"


class RestingView:
    """``services`` replicated services of ``replicas`` running tasks each, spread over ``nodes`` nodes."""

    def __init__(self, services: int, replicas: int, nodes: int):
        self.cluster = {"ID": "c", "Spec": {}}
        self.nodes = {f"n{i:05d}": {"ID": f"n{i:05d}", "Spec": {"Role": "worker", "Availability": "active"},
                                    "Status": {"State": "ready"}, "Description": {}} for i in range(nodes)}
        template = {"ContainerSpec": {"Image": "shoal-test:latest"}}
        self.services, self.tasks = {}, {}
        for s in range(services):
            service_id = f"s{s:05d}"
            self.services[service_id] = {
                "ID": service_id, "Version": {"Index": 1}, "CreatedAt": STAMP, "SpecVersion": {"Index": 1},
                "Endpoint": {"Spec": {}, "Ports": []},
                "Spec": {"Name": service_id, "TaskTemplate": template, "Mode": {"Replicated": {"Replicas": replicas}}}}
            for slot in range(1, replicas + 1):
                number = s * replicas + slot
                task_id = f"t{number:08d}"
                self.tasks[task_id] = {
                    "ID": task_id, "ServiceID": service_id, "Slot": slot, "NodeID": f"n{number % nodes:05d}",
                    "Spec": template, "SpecVersion": {"Index": 1}, "DesiredState": "running",
                    "Status": {"State": "running", "Timestamp": STAMP}, "Shoal": {"Attempt": 0},
                    "CreatedAt": STAMP, "Version": {"Index": 5}, "ServiceAnnotations": {"Name": service_id}}
        self.task_index = TaskIndex(self.tasks)


def cpu(fn) -> float:
    started = time.process_time()
    decision = fn()
    spent = time.process_time() - started
    assert not decision.ops, f"a resting view made {len(decision.ops)} ops"
    return spent


def scale_up(replicas: int, nodes: int, budget: int) -> tuple[int, float]:
    """(passes, CPU seconds) to create ``replicas`` tasks of one service, ``budget`` per pass."""
    view = RestingView(1, 0, nodes)
    [service] = view.services.values()
    service["Spec"]["Mode"]["Replicated"]["Replicas"] = replicas
    serial = itertools.count()
    passes, spent = 0, 0.0
    while passes <= replicas:  # bounded: a pass that creates nothing ends it
        started = time.process_time()
        decision, _ = reconcile_services(view, time.time(), {service["ID"]}, lambda: f"x{next(serial):08d}",
                                         CreationBudget(budget))
        spent += time.process_time() - started
        passes += 1
        if not decision.ops:
            break
        for number, op in enumerate(decision.ops):  # each created task placed and running
            task = {**op["object"], "NodeID": f"n{number % nodes:05d}", "Version": {"Index": 5},
                    "Status": {"State": "running", "Timestamp": STAMP}}
            view.tasks[task["ID"]] = task
            view.task_index.put(None, task)
    return passes, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1x5000", "1x20000", "1000x100"],
                        help="SERVICESxREPLICAS (default: 1x5000 1x20000 1000x100)")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=3, help="passes timed of each kind (the median is shown)")
    parser.add_argument("--scale-up", type=int, nargs="*", default=[5000, 20000], metavar="N",
                        help="replicas of the scale-up rows (default: 5000 20000)")
    parser.add_argument("--write", action="store_true", help="write the tables to docs/benchmarks.md")
    args = parser.parse_args()
    lines: list[str] = []
    show(lines, "| services x replicas | tasks | full pass (CPU ms) | pass over one changed service (CPU ms) |",
         "|---|---|---|---|")
    for size in args.sizes:
        services, replicas = (int(part) for part in size.split("x"))
        view = RestingView(services, replicas, args.nodes)
        changed = {next(iter(view.services))}
        now = time.time()
        full = sorted(cpu(lambda: reconcile(view, now)) for _ in range(args.trials))[args.trials // 2]
        one = sorted(cpu(lambda: reconcile_services(view, now, changed)[0]) for _ in range(args.trials))
        show(lines, f"| {services} x {replicas} | {services * replicas} | {full * 1000:.0f} "
                    f"| {one[args.trials // 2] * 1000:.1f} |")
    if args.scale_up:
        show(lines, "", "| scale-up of one service | budget 1,000 per pass | "
                        f"budget {limits.TASKS_CREATED_PER_PASS:,} per pass |", "|---|---|---|")
    for replicas in args.scale_up:
        cells = [scale_up(replicas, args.nodes, budget) for budget in (1000, limits.TASKS_CREATED_PER_PASS)]
        show(lines, f"| {replicas} | " + " | ".join(f"{passes} passes, {spent:.1f} CPU s" for passes, spent in cells)
             + " |")
    if args.write:
        command = " ".join(["python3 benchmarks/orchestrator.py", *sys.argv[1:]])
        replace_section(RESULTS, HEADING, f"{HEADING}\n\n`{command}`, {datetime.date.today().isoformat()}, "
                        f"{args.nodes} nodes, load average {os.getloadavg()[0]:.0f} (CPU time of one process: "
                        f"other load stretches it less than wall time).\n\n" + "\n".join(lines) + f"\n\n{READING}\n")


def show(lines: list[str], *new: str) -> None:
    """Print ``new`` lines and keep them for the written section."""
    for line in new:
        print(line, flush=True)
    lines.extend(new)


if __name__ == "__main__":
    main()

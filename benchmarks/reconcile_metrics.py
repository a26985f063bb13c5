#!/usr/bin/env python3
"""What the reconciliation metrics cost a view: CPU microseconds per task change.

Builds a view (a StoreView, as each actor keeps) of one replicated service of
``--tasks`` tasks in state ``new``, and times applying the changes that take
every task through pending, assigned, accepted, preparing, starting and
running, one change per batch, with the metrics of an actor following the view:

- none;
- a ChangeSet only (what the orchestrator's desired/running gauges needed before);
- the orchestrator's ReconcileMetrics (tasks by state, transitions, failures, nodes, convergence);
- the scheduler's PendingMetrics (its queue and waits).

    python3 benchmarks/reconcile_metrics.py [--tasks 20000] [--trials 3]

Pure computation: no sockets, no processes; every loop is bounded by its counts.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from actors.common.view import StoreView  # noqa: E402
from actors.orchestrator.metrics import ReconcileMetrics  # noqa: E402
from actors.scheduler.metrics import PendingMetrics  # noqa: E402
from actors.scheduler.shard import EVERY_TASK  # noqa: E402
from transport import schema  # noqa: E402

LIFECYCLE = (schema.PENDING, schema.ASSIGNED, schema.ACCEPTED, schema.PREPARING, schema.STARTING, schema.RUNNING)


def service() -> dict:
    return {"ID": "s0", "SpecVersion": {"Index": 1}, "UpdatedAt": schema.format_time(1.0),
            "Spec": {"Name": "bench", "Mode": {"Replicated": {"Replicas": 1}},
                     "TaskTemplate": {"ContainerSpec": {"Image": "img"}}}}


def task(number: int, state: str) -> dict:
    return {"ID": f"t{number}", "ServiceID": "s0", "Slot": number, "NodeID": f"n{number % 100}",
            "DesiredState": "running", "CreatedAt": f"{number:08d}", "Spec": {"ContainerSpec": {"Image": "img"}},
            "Status": {"State": state, "Timestamp": schema.format_time(2.0)}}


class ChangeSetOnly:
    """What main's orchestrator gauges added to its view before: one ChangeSet."""

    def attach(self, view: StoreView) -> None:
        view.watch(frozenset({"services", "tasks"}))

    def lease(self, held: bool) -> None:
        pass


FOLLOWERS = {"none": None, "a ChangeSet only": ChangeSetOnly, "orchestrator ReconcileMetrics": ReconcileMetrics,
             "scheduler PendingMetrics": lambda: PendingMetrics(EVERY_TASK)}


def microseconds_per_change(make, tasks: int) -> float:
    """CPU microseconds per applied task change with the follower ``make`` makes (None: no follower)."""
    view = StoreView(None, None)
    follower = make() if make else None
    if follower:
        follower.attach(view)
    view.load({"index": 1, "tables": {"services": {"s0": service()}, "nodes": {},
                                      "tasks": {f"t{n}": task(n, schema.NEW) for n in range(tasks)}}})
    if follower:
        follower.lease(True)
    spent = 0.0
    for state in LIFECYCLE:
        batches = [{"index": 0, "time": 0, "changes": [{"table": "tasks", "id": f"t{n}", "action": "put",
                                                        "object": task(n, state)}]} for n in range(tasks)]
        started = time.process_time()
        for batch in batches:
            batch["index"] = view.index + 1
            view.apply(batch)
        spent += time.process_time() - started
    return spent / (tasks * len(LIFECYCLE)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=3, help="runs of each (the median is shown)")
    args = parser.parse_args()
    for name, make in FOLLOWERS.items():
        runs = [microseconds_per_change(make, args.tasks) for _ in range(args.trials)]
        print(f"{name:32} {statistics.median(runs):6.1f} us per task change (median of {args.trials})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What a view's changes cost its controllers and its dispatcher, in one process (no cluster).

View: a StoreView holding ``--tasks`` tasks (``--services`` services, spread
over ``--nodes`` nodes) applies ``--changes`` task status changes in batches of
``--batch``; after each batch a controller pass reads the groupings the
orchestrator reads every pass (``ViewIndex(view).tasks_by_service`` and
``tasks_by_history``). Reports seconds applying and seconds in passes. Run it
with ``--code`` naming a checkout of another revision (say main before the
live indexes) to compare the same work on that code.

Allocator: the first pass of the allocator's core over the view, its services
allocated and no task new, and a pass after a batch of task changes (the steady
state it wakes to on every change).

Roles: ``--lookups`` lookups of a node's key (what authorises each heartbeat and
status request), each after one task change, as under load.

Dispatcher: with a session for each of the ``--nodes`` nodes, the work of one
batch of changes to find whose assignment set changed, done both ways in the
same run: every session's set computed from a scan of every task (what the
dispatcher did on each change), against the sets of the sessions the batch
touched computed from the tasks-by-node index (what it does now; needs the
live index, so only on code that has it).

    python3 benchmarks/views.py [--tasks 100000] [--nodes 1000] [--services 100] [--changes 20000]
                                [--batch 500] [--lookups 2000] [--code DIR]

Times are CPU seconds of this process (``time.process_time``), so other load on the machine does not
count. Pure computation: no sockets, no processes; every loop is bounded by its counts.
"""

from __future__ import annotations

import argparse
import pathlib
import random
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def make_task(number: int, services: int, nodes: int) -> dict:
    """A running task shaped like the store's, on node ``number % nodes``."""
    task_id = f"task{number:021d}"
    return {"ID": task_id, "ServiceID": f"service{number % services:018d}", "NodeID": f"node{number % nodes:021d}",
            "Slot": number // services + 1, "DesiredState": "running", "CreatedAt": f"2026-11-29T21:{number:012d}Z",
            "Status": {"State": "running", "Message": "started", "Timestamp": "2026-11-29T21:00:00Z"},
            "Spec": {"ContainerSpec": {"Image": "shoal-test:latest", "Command": ["sleep", "1000"]}},
            "Shoal": {"Attempt": 0}, "Version": {"Index": 1}}


def changed(task: dict, version: int) -> dict:
    """``task`` with a new status, as the dispatcher's status write makes it."""
    return {**task, "Status": {**task["Status"], "Message": f"report {version}"}, "Version": {"Index": version}}


def view_costs(args, StoreView, ViewIndex) -> dict:
    """Seconds applying ``args.changes`` changes and seconds in the passes after each batch."""
    view = StoreView(None, None)
    tasks = {task["ID"]: task for task in (make_task(n, args.services, args.nodes) for n in range(args.tasks))}
    view.tables = {"tasks": tasks, "services": {}, "nodes": {}}
    if hasattr(view, "load"):
        view.load({"index": 1, "tables": view.tables})
    rng, ids = random.Random(9), list(tasks)
    applying = passing = 0.0
    for start in range(0, args.changes, args.batch):
        version = view.index + 1
        changes = [{"table": "tasks", "id": task_id, "action": "put", "object": changed(tasks[task_id], version)}
                   for task_id in rng.sample(ids, min(args.batch, args.changes - start))]
        began = time.process_time()
        view.apply({"index": version, "time": 0, "changes": changes})
        applied = time.process_time()
        index = ViewIndex(view)
        assert sum(map(len, index.tasks_by_service.values())) == args.tasks and index.tasks_by_history
        applying, passing = applying + applied - began, passing + time.process_time() - applied
    return {"apply": applying, "passes": passing, "batches": -(-args.changes // args.batch), "view": view}


def dispatcher_costs(args, view, decisions) -> dict:
    """Seconds to find the pushes one batch of changes makes: by scanning every task for every session,
    and from the tasks-by-node index for the sessions the batch touched."""
    tasks, node_ids = view.table("tasks"), sorted({task["NodeID"] for task in view.table("tasks").values()})
    began = time.process_time()
    for node_id in node_ids:
        decisions.digest(decisions.assignments_for(tasks, node_id))
    scan = time.process_time() - began
    if not hasattr(view, "watch"):
        return {"scan": scan}
    watcher = view.watch(frozenset({"tasks"}))
    rng = random.Random(7)
    version = view.index + 1
    view.apply({"index": version, "time": 0, "changes": [
        {"table": "tasks", "id": task_id, "action": "put", "object": changed(tasks[task_id], version)}
        for task_id in rng.sample(list(tasks), args.batch)]})
    began = time.process_time()
    touched = watcher.take().nodes
    for node_id in touched:
        decisions.digest(decisions.assignments_for(view.task_index.on_node(node_id), node_id))
    return {"scan": scan, "index": time.process_time() - began, "touched": len(touched)}


def allocator_costs(args, view, allocator) -> tuple[float, float]:
    """CPU seconds of the allocator's first pass over the view (its services allocated, no task new: nothing
    to do) and of one pass after a batch of ``args.batch`` task changes (the steady state it wakes to; the
    mean of 5). ``allocator`` is its core module: ``core`` (a stateful decide function that follows the
    view's changes) or, on older code, ``ports`` (a plain function)."""
    view.apply({"index": view.index + 1, "time": 0, "changes": [
        {"table": "services", "id": service_id, "action": "put",
         "object": {"ID": service_id, "Spec": {"Name": service_id}, "Endpoint": {"Spec": {}, "Ports": []}}}
        for service_id in {task["ServiceID"] for task in view.table("tasks").values()}] + [
        {"table": "nodes", "id": node_id, "action": "put",
         "object": {"ID": node_id, "Spec": {"Role": "worker"}, "Status": {"State": "ready"}}}
        for node_id in {task["NodeID"] for task in view.table("tasks").values()}]})
    decide = allocator.Allocator() if hasattr(allocator, "Allocator") else allocator.allocate
    began = time.process_time()
    assert not decide(view, 0.0).ops
    first = time.process_time() - began
    tasks, rng, spent = view.table("tasks"), random.Random(5), 0.0
    for _ in range(5):
        version = view.index + 1
        view.apply({"index": version, "time": 0, "changes": [
            {"table": "tasks", "id": task_id, "action": "put", "object": changed(tasks[task_id], version)}
            for task_id in rng.sample(list(tasks), args.batch)]})
        began = time.process_time()
        assert not decide(view, 0.0).ops
        spent += time.process_time() - began
    return first, spent / 5


def roles_costs(args, view, access) -> float:
    """CPU seconds of ``args.lookups`` key lookups (a heartbeat's authorisation), each after one task
    change, on a view of ``args.nodes`` nodes."""
    nodes = {f"node{n:021d}": {"ID": f"node{n:021d}", "Spec": {"Role": "worker"}, "Shoal": {"PublicKey": f"key{n}"}}
             for n in range(args.nodes)}
    view.apply({"index": view.index + 1, "time": 0, "changes": [
        {"table": "nodes", "id": node_id, "action": "put", "object": node} for node_id, node in nodes.items()]})
    roles, tasks = access.ViewRoles(view), view.table("tasks")
    some_task = next(iter(tasks.values()))
    began = time.process_time()
    for number in range(args.lookups):
        version = view.index + 1
        view.apply({"index": version, "time": 0, "changes": [
            {"table": "tasks", "id": some_task["ID"], "action": "put", "object": changed(some_task, version)}]})
        assert roles.role_of(f"key{number % args.nodes}") == "worker"
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--code", type=pathlib.Path, default=REPO, help="the Shoal tree to measure")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from actors.common.view import StoreView
    from actors.common.viewindex import ViewIndex
    try:
        from actors.allocator import core as allocator
    except ImportError:  # code from before the allocator had networks: its core was ports.allocate
        from actors.allocator import ports as allocator
    from actors.common import access
    from actors.dispatcher import decisions
    view = view_costs(args, StoreView, ViewIndex)
    print(f"code {args.code}: {args.tasks} tasks, {args.services} services, {args.nodes} nodes")
    print(f"view: {args.changes} changes in {view['batches']} batches of {args.batch}: "
          f"apply {view['apply']:.2f} s, passes {view['passes']:.2f} s "
          f"({1000 * view['passes'] / view['batches']:.1f} ms per pass)")
    first, later = allocator_costs(args, view["view"], allocator)
    print(f"allocator: first pass over {args.tasks} tasks, none new: {1000 * first:.1f} ms; "
          f"a pass after {args.batch} task changes: {1000 * later:.1f} ms")
    print(f"roles: {args.lookups} key lookups, each after a task change, {args.nodes} nodes: "
          f"{roles_costs(args, view['view'], access):.2f} s")
    costs = dispatcher_costs(args, view["view"], decisions)
    print(f"dispatcher, one batch of {args.batch} changes: every session's set from a scan of every task "
          f"{costs['scan']:.2f} s", end="")
    if "index" in costs:
        print(f"; the {costs['touched']} touched sessions' sets from tasks-by-node {1000 * costs['index']:.1f} ms")
    else:
        print()


if __name__ == "__main__":
    main()

"""The scheduler's node load kept from its view's changes (actors/scheduler/keptload.py): after any
sequence of batches and snapshots it equals the load rebuilt from every task, and a pass's own
placements count only while the pass runs."""

from __future__ import annotations

from hypothesis import given, settings

from actors.common.placement.load import NodeLoad
from actors.common.view import StoreView
from actors.scheduler.actor import placing
from actors.scheduler.keptload import KeptLoad
from actors.scheduler.shard import EVERY_TASK
from tests.unit.test_taskindex import apply_step, steps

T0 = 1_000.0


def shape(load: NodeLoad) -> dict:
    """Everything a load counts, without the zero counts a task that left a node leaves behind."""
    def nonzero(counter):
        return {key: count for key, count in counter.items() if count}
    return {"total": nonzero(load.total), "cpus": nonzero(load.cpus), "memory": nonzero(load.memory),
            "services": {s: nonzero(c) for s, c in load.per_service.items() if nonzero(c)},
            "ports": {n: nonzero(c) for n, c in load.ports.items() if nonzero(c)}}


@settings(max_examples=100, deadline=None)
@given(steps, steps)
def test_kept_load_equals_the_load_rebuilt_from_every_task(before, after):
    view = StoreView(None, None)
    for step in before:
        apply_step(view, step)
    kept = KeptLoad(view)
    for step in after:
        apply_step(view, step)
        assert shape(kept.current()) == shape(NodeLoad(view.table("tasks").values()))


def test_what_a_pass_counts_on_the_load_is_undone_when_it_ends():
    load = NodeLoad([{"ID": "t1", "ServiceID": "s", "NodeID": "n1", "DesiredState": "running",
                      "Status": {"State": "running"}}])
    before = shape(load)
    pending = {"ID": "t2", "ServiceID": "s", "DesiredState": "running", "Status": {"State": "pending"}}
    with load.tentative():
        load.record("n2", pending)
        load.forget("n1", pending)
        assert load.of_service("n2", "s") == 1
    assert shape(load) == before


def node(node_id: str) -> dict:
    return {"ID": node_id, "Status": {"State": "ready"}, "Spec": {"Availability": "active"},
            "Description": {"Resources": {"NanoCPUs": 4, "MemoryBytes": 4}}}


def test_a_pass_that_was_not_committed_leaves_the_next_pass_the_same_choices():
    view = StoreView(None, None)
    running = {"ID": "old", "ServiceID": "s", "NodeID": "a", "DesiredState": "running", "Status": {"State": "running"}}
    pending = [{"ID": f"t{n}", "ServiceID": "s", "NodeID": "", "DesiredState": "running", "Spec": {},
                "CreatedAt": f"2026-01-01T00:00:0{n}Z", "Status": {"State": "pending"}} for n in range(3)]
    view.load({"index": 1, "tables": {"nodes": {n: node(n) for n in "abc"},
                                      "tasks": {t["ID"]: t for t in [running, *pending]}}})
    decide = placing(EVERY_TASK)
    first, second = decide(view, T0).ops, decide(view, T0).ops
    assert first == second and sorted(op["set"]["NodeID"] for op in first) == ["a", "b", "c"]

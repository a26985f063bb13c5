"""Pure parts of the reconciliation metrics: failure reasons, task and node tallies kept change by change
(actors/orchestrator/tally.py), and when a spec change counts as converged (convergence.py)."""

from __future__ import annotations

from actors.orchestrator.convergence import Convergence, change_kind, converged
from actors.orchestrator.tally import NodeTally, TaskTally, failure_reason
from transport import schema


def service(replicas: int = 2, image: str = "img", version: int = 1, mode: str = "replicated", **extra) -> dict:
    spec_mode = {"Replicated": {"Replicas": replicas}} if mode == "replicated" else {"Global": {}}
    return {"ID": "s1", "SpecVersion": {"Index": version}, "UpdatedAt": schema.format_time(50.0),
            "Spec": {"Name": "web", "Mode": spec_mode, "TaskTemplate": {"ContainerSpec": {"Image": image}}}, **extra}


def task(task_id: str, state: str, image: str = "img", desired: str = "running", node: str = "n1",
         message: str = "") -> dict:
    return {"ID": task_id, "ServiceID": "s1", "NodeID": node, "DesiredState": desired,
            "Status": {"State": state, "Message": message}, "Spec": {"ContainerSpec": {"Image": image}}}


def test_failure_reasons_come_from_the_executors_fixed_messages_and_are_a_bounded_set():
    assert failure_reason(task("a", "failed", message="task exited with non-zero code 137")) == "nonzero_exit"
    assert failure_reason(task("a", "failed", message="unhealthy container")) == "unhealthy"
    assert failure_reason(task("a", "failed", message="container removed")) == "container_removed"
    assert failure_reason(task("a", "failed", message="anything an engine said")) == "other"
    assert failure_reason(task("a", "rejected", message="no such image")) == "rejected"
    assert failure_reason(task("a", "orphaned")) == "orphaned"
    assert failure_reason(task("a", "shutdown")) is None and failure_reason(task("a", "running")) is None


def test_a_task_tally_kept_change_by_change_equals_one_counted_afresh():
    kept = TaskTally()
    kept.reloaded([task("a", "pending")])
    transitions = [kept.changed(task("a", "pending"), task("a", "running")),
                   kept.changed(None, task("b", "new")),
                   kept.changed(task("b", "new"), task("b", "new", message="noted")),
                   kept.changed(task("a", "running"), None)]
    assert [(t.state, t.failure) if t else None for t in transitions] == [("running", None), ("new", None), None, None]
    fresh = TaskTally()
    fresh.reloaded([task("b", "new", message="noted")])
    assert kept.counts == fresh.counts == {"s1": {"new": 1}}
    kept.changed(task("b", "new"), None)
    assert kept.counts == {}  # a service with no task left is dropped


def test_a_node_tally_moves_a_node_between_cells():
    tally = NodeTally()
    ready = {"ID": "w1", "Spec": {"Role": "worker", "Availability": "active"}, "Status": {"State": "ready"}}
    tally.reloaded([ready])
    assert tally.take_moved() and not tally.take_moved()
    tally.changed(ready, {**ready, "Spec": {"Role": "worker", "Availability": "drain"}})
    assert tally.take_moved()
    assert +tally.counts == {("worker", "ready", "drain"): 1}


def test_change_kinds():
    assert change_kind(None, service()) == "create"
    assert change_kind(service(2), service(5, version=2)) == "scale"
    assert change_kind(service(2), service(2, image="new", version=2)) == "update"
    assert change_kind(service(2, image="new"), service(2, version=3, UpdateStatus={"State": "rollback_started"})) \
        == "rollback"


def test_an_update_converges_once_every_running_task_is_of_the_new_spec_and_the_old_ones_stopped():
    new = service(2, image="new", version=2)
    assert not converged(new, [task("a", "running"), task("b", "running")])  # old spec
    assert not converged(new, [task("a", "running", desired="shutdown"), task("b", "running", image="new"),
                               task("c", "running", image="new")])  # an old one still runs
    assert converged(new, [task("a", "shutdown", desired="shutdown"), task("b", "running", image="new"),
                           task("c", "running", image="new")])


def test_a_scale_down_converges_when_the_extra_tasks_stopped_and_a_global_service_wants_a_task():
    assert not converged(service(1), [task("a", "running"), task("b", "running", desired="shutdown")])
    assert converged(service(1), [task("a", "running"), task("b", "shutdown", desired="shutdown")])
    assert converged(service(0), [])
    assert not converged(service(mode="global"), [])  # no task made yet
    assert converged(service(mode="global"), [task("a", "running"), task("b", "running", node="n2")])


def test_a_wait_starts_at_the_spec_write_a_newer_one_replaces_it_and_jobs_or_snapshots_are_not_timed():
    convergence = Convergence()
    convergence.service_changed(None, service(1))
    convergence.service_changed(service(1), service(1, UpdateStatus={"State": "updating"}))  # no spec change
    assert convergence.awaited["s1"].kind == "create" and convergence.awaited["s1"].since == 50.0
    convergence.service_changed(service(1), service(3, version=2))
    assert convergence.awaited["s1"].kind == "scale"
    assert convergence.check(service(3, version=2), [task("a", "running")]) is None
    ended = convergence.check(service(3, version=2), [task(name, "running") for name in "abc"])
    assert ended.kind == "scale" and "s1" not in convergence.awaited
    job = service(version=3)
    job["Spec"]["Mode"] = {"ReplicatedJob": {}}
    convergence.service_changed(service(3, version=2), job)
    assert "s1" not in convergence.awaited
    convergence.service_changed(None, service(1))
    convergence.reloaded()
    assert convergence.awaited == {}
    convergence.service_changed(None, service(1))
    convergence.service_changed(service(1), None)
    assert convergence.awaited == {}

"""The orchestrator's pass over changed services decides what a pass over every service decides.

Driven through the real store state machine and a StoreView fed with its changes: after every
write (the orchestrator's own, a node's report, a user's spec change, a node going down), the
incremental decide function proposes the same ops as a full reconcile of the same view."""

from __future__ import annotations

import copy

from actors.common.changeset import Changes
from actors.common.view import StoreView
from actors.orchestrator.dirty import ChangedServicesReconcile, DirtyServices
from actors.orchestrator.reconcile import reconcile, reconcile_services
from actors.raft.store import Store
from transport import schema

T0 = 1_000.0
SECOND = 1_000_000_000


def service(service_id, replicas, restart=None):
    template = {"ContainerSpec": {"Image": "busybox"}}
    if restart is not None:
        template["RestartPolicy"] = restart
    return {"ID": service_id, "Version": {"Index": 1}, "CreatedAt": "2000-01-01T00:00:00.000000000Z",
            "SpecVersion": {"Index": 1}, "Spec": {"Name": service_id, "TaskTemplate": template,
                                                  "Mode": {"Replicated": {"Replicas": replicas}}}}


def node(node_id):
    return {"ID": node_id, "Status": {"State": "ready"}, "Spec": {"Role": "worker", "Availability": "active"}}


class Rig:
    """A store, a view following it, and the orchestrator's incremental decide function on that view."""

    def __init__(self, services, nodes=("n1", "n2")):
        self.store = Store()
        self.store.restore({"index": 1, "tables": {"services": {s["ID"]: s for s in services},
                                                   "nodes": {n: node(n) for n in nodes}}})
        self.store.tables["cluster"] = {"c": {"ID": "c", "Spec": {"Orchestration": {}}}}
        self.view = StoreView(None, None)
        self.view.load({"index": 1, "tables": copy.deepcopy(self.store.tables)})
        self.serial = 0
        self.decide = ChangedServicesReconcile(new_id=self.new_id)

    def new_id(self):
        self.serial += 1
        return f"t{self.serial}"

    def write(self, ops, now=T0):
        result, changes = self.store.apply({"ops": ops}, self.store.index + 1, now)
        assert "error" not in result, result
        self.view.apply({"index": self.store.index, "time": 0, "changes": [
            {"table": c.table, "id": c.id, "action": c.action, "object": c.object} for c in changes]})

    def step(self, now=T0):
        """One incremental pass, checked against a full pass of the same view; its ops are written."""
        serial = self.serial
        decision = self.decide(self.view, now)
        self.serial, incremental_serial = serial, self.serial
        full = reconcile(self.view, now, new_id=self.new_id)
        assert self.serial == incremental_serial or not full.ops  # same ids made, in the same order
        assert decision.ops == full.ops and decision.wake_at == full.wake_at
        if decision.ops:
            self.write(decision.ops, now)
        return decision

    def settle(self, now=T0):
        for _ in range(6):
            if not self.step(now).ops:
                return
        raise AssertionError("did not settle")

    def tasks(self, service_id):
        return [t for t in self.store.tables["tasks"].values() if t["ServiceID"] == service_id]

    def report(self, task, state, **extra):
        self.write([{"op": "patch", "table": "tasks", "id": task["ID"],
                     "set": {"Status": schema.task_status(state, state, T0), **extra}}])


def test_a_pass_over_changed_services_decides_as_a_pass_over_all():
    rig = Rig([service("s1", 2), service("s2", 1, restart={"Condition": "any", "Delay": 5 * SECOND})])
    rig.settle()
    for service_id, node_id in (("s1", "n1"), ("s2", "n2")):
        for task in rig.tasks(service_id):
            rig.write([{"op": "patch", "table": "tasks", "id": task["ID"],
                        "set": {"NodeID": node_id, "Status": schema.task_status("assigned", "assigned", T0)}}])
            rig.report(task, "running")
    rig.settle()
    [s2_task] = rig.tasks("s2")
    rig.report(s2_task, "failed")
    assert rig.step(T0 + 1).wake_at == T0 + 5  # the restart delay: s2 stays unsettled
    rig.settle(T0 + 6)
    assert len([t for t in rig.tasks("s2") if t["DesiredState"] == "running"]) == 1
    scaled = copy.deepcopy(rig.store.tables["services"]["s1"])
    scaled["Spec"]["Mode"]["Replicated"]["Replicas"] = 3
    rig.write([{"op": "update", "table": "services", "object": scaled, "version": scaled["Version"]["Index"]}])
    rig.settle(T0 + 7)
    assert len({t["Slot"] for t in rig.tasks("s1")}) == 3
    rig.write([{"op": "patch", "table": "nodes", "id": "n1", "set": {"Status.State": "down"}}])
    rig.settle(T0 + 8)
    rig.write([{"op": "delete", "table": "services", "id": "s2"}])
    rig.settle(T0 + 9)
    assert all(t["DesiredState"] == "remove" for t in rig.tasks("s2"))


def test_only_changed_and_unsettled_services_are_decided_again():
    dirty = DirtyServices()
    assert dirty.take() is None  # the first pass decides for every service
    dirty.note(Changes(services={"s1"}, tables={"tasks"}))
    dirty.keep({"s2"})
    assert dirty.take() == {"s1", "s2"}
    assert dirty.take() == set()
    dirty.note(Changes(services={"s1"}, tables={"tasks", "nodes"}))
    assert dirty.take() is None
    dirty.note(Changes(everything=True))
    assert dirty.take() is None


def test_a_settled_service_is_not_decided_again_for_another_services_report():
    rig = Rig([service("s1", 1), service("s2", 1)])
    rig.settle()
    [s1_task] = rig.tasks("s1")
    rig.report(s1_task, "pending")
    decision, unsettled = reconcile_services(rig.view, T0, {"s1"})
    assert decision.ops == [] and unsettled == set()
    calls = []
    original = reconcile_services

    def spy(view, now, service_ids, *args):
        calls.append(service_ids)
        return original(view, now, service_ids, *args)

    import actors.orchestrator.dirty as dirty_module
    dirty_module.reconcile_services, saved = spy, dirty_module.reconcile_services
    try:
        rig.decide(rig.view, T0)
    finally:
        dirty_module.reconcile_services = saved
    assert calls == [{"s1"}]

"""The orchestrator's pure core: slots, scaling, restart policy, node loss, removed services, task history."""

import copy
import itertools

import pytest

from actors.common.viewindex import Decision, ViewIndex
from actors.orchestrator.reconcile import reconcile
from actors.orchestrator.slots import CreationBudget
from actors.raft.store import Store
from transport import limits, schema
from transport.pages import encoded_size

T0 = 1_000.0
SECOND = 1_000_000_000


# -- fixtures ---------------------------------------------------------------

def ids(prefix="t"):
    """An id factory giving t1, t2, ..."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def service(service_id="s1", name="web", replicas=1, restart=None, version=10, mode=None):
    template = {"ContainerSpec": {"Image": "busybox"}}
    if restart is not None:
        template["RestartPolicy"] = restart
    return {"ID": service_id, "Version": {"Index": version}, "CreatedAt": "2000-01-01T00:00:00.000000000Z",
            "SpecVersion": {"Index": 3}, "Spec": {"Name": name, "TaskTemplate": template,
                     "Mode": mode or {"Replicated": {"Replicas": replicas}}}}


def task(task_id, slot=1, service_id="s1", state="running", desired="running", node="n1", attempt=0,
         created=1, at=T0, exit_code=None, version=5):
    status = schema.task_status(state, state, at)
    if exit_code is not None:
        status["ContainerStatus"] = {"ExitCode": exit_code}
    return {"ID": task_id, "ServiceID": service_id, "Slot": slot, "NodeID": node, "DesiredState": desired,
            "Status": status, "Shoal": {"Attempt": attempt}, "Version": {"Index": version},
            "CreatedAt": schema.format_time(created)}


def node(node_id="n1", state="ready"):
    return {"ID": node_id, "Status": {"State": state}, "Spec": {"Availability": "active"}}


def view(services=(), tasks=(), nodes=(node("n1"), node("n2")), limit=None):
    cluster = {"ID": "c", "Spec": {"Orchestration": {}}}
    if limit is not None:
        cluster["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"] = limit
    templates = {s["ID"]: s["Spec"]["TaskTemplate"] for s in services}
    for t in tasks:  # a task is made from its service's current spec unless a test says otherwise
        t.setdefault("Spec", copy.deepcopy(templates.get(t["ServiceID"], {})))
    return {"cluster": cluster, "services": {s["ID"]: s for s in services},
            "tasks": {t["ID"]: t for t in tasks}, "nodes": {n["ID"]: n for n in nodes}}


def creates(decision):
    return [op["object"] for op in decision.ops if op["op"] == "create"]


def patched(decision):
    return {op["id"]: op["set"] for op in decision.ops if op["op"] == "patch"}


def deleted(decision):
    return [op["id"] for op in decision.ops if op["op"] == "delete"]


class Cluster:
    """The real store state machine driven by reconcile, to check that ops apply and settle."""

    def __init__(self, the_view):
        self.store = Store()
        self.store.restore({"index": 100, "tables": {name: the_view.get(name) or {} for name in schema.TABLES
                                                     if name != "cluster"}})
        self.store.tables["cluster"] = {"c": the_view["cluster"]}
        self.new_id = ids()

    def view(self):
        return {"cluster": self.store.tables["cluster"]["c"], **self.store.tables}

    def step(self, now):
        decision = reconcile(self.view(), now, new_id=self.new_id)
        if decision.ops:
            result, _ = self.store.apply({"ops": decision.ops}, self.store.index + 1, now)
            assert "error" not in result, result
        return decision

    def settle(self, now):
        """Apply reconcile passes until one proposes nothing; return that quiet decision."""
        for _ in range(5):
            decision = self.step(now)
            if not decision.ops:
                return decision
        raise AssertionError("reconcile did not settle")

    def set(self, task_id, **fields):
        result, _ = self.store.apply({"ops": [{"op": "patch", "table": "tasks", "id": task_id, "set": fields}]},
                                     self.store.index + 1, T0)
        assert "error" not in result, result

    def tasks(self, **match):
        return sorted((t for t in self.store.tables["tasks"].values()
                       if all(schema.get_path(t, key.replace("__", ".")) == value for key, value in match.items())),
                      key=lambda t: (t["Slot"], t["CreatedAt"]))


# -- creating tasks ---------------------------------------------------------

def test_a_new_replicated_service_gets_one_new_task_per_slot():
    decision = reconcile(view([service(replicas=3)]), T0, new_id=ids())
    made = creates(decision)
    assert [(t["ID"], t["Slot"]) for t in made] == [("t1", 1), ("t2", 2), ("t3", 3)]
    first = made[0]
    assert first["ServiceID"] == "s1" and first["NodeID"] == "" and first["DesiredState"] == "running"
    assert first["Status"]["State"] == "new" and first["Status"]["Message"] == "created"
    assert first["Status"]["Timestamp"] == schema.format_time(T0)
    assert first["Spec"] == {"ContainerSpec": {"Image": "busybox"}}
    assert first["ServiceAnnotations"] == {"Name": "web", "Labels": {}} and first["SpecVersion"] == {"Index": 3}
    assert first["Shoal"] == {"Attempt": 0}
    assert decision.wake_at is None


def test_the_task_spec_is_a_copy_not_shared_with_the_service():
    the_service = service()
    made = creates(reconcile(view([the_service]), T0, new_id=ids()))[0]
    made["Spec"]["ContainerSpec"]["Image"] = "changed"
    assert the_service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox"


def test_ids_come_from_schema_new_id_by_default():
    made = creates(reconcile(view([service()]), T0))[0]
    assert len(made["ID"]) == 25


def test_reconcile_settles_after_its_ops_are_applied():
    cluster = Cluster(view([service(replicas=3)]))
    assert len(creates(cluster.step(T0))) == 3
    assert cluster.step(T0).ops == []


def test_a_slot_with_a_current_task_is_left_alone():
    the_view = view([service(replicas=2)], [task("a", slot=1, state="pending", node="")])
    assert [t["Slot"] for t in creates(reconcile(the_view, T0, new_id=ids()))] == [2]


@pytest.mark.parametrize("state", ["new", "pending", "assigned", "running"])
def test_live_tasks_in_every_state_count_as_current(state):
    assert reconcile(view([service()], [task("a", state=state)]), T0).ops == []


def test_the_store_view_shape_is_accepted_too():
    class StoreViewLike:
        cluster = None

        def __init__(self, tables):
            self.tables = tables

        def table(self, name):
            return self.tables.setdefault(name, {})

    decision = reconcile(StoreViewLike({"services": {"s1": service()}}), T0, new_id=ids())
    assert len(creates(decision)) == 1


# -- scaling ----------------------------------------------------------------

def test_scaling_down_removes_the_highest_slots_first_with_version_checks():
    # All running on one node: see test_orchestrator_nodes.py for the order across nodes and states.
    tasks = [task(f"t{slot}", slot=slot, version=slot) for slot in range(1, 6)]
    decision = reconcile(view([service(replicas=2)], tasks), T0)
    assert [(op["id"], op["set"], op["version"]) for op in decision.ops] == [
        ("t5", {"DesiredState": "remove"}, 5), ("t4", {"DesiredState": "remove"}, 4),
        ("t3", {"DesiredState": "remove"}, 3)]


def test_scaling_to_zero_and_back_recreates_the_slots():
    cluster = Cluster(view([service(replicas=0)], [task("a", slot=1)]))
    assert patched(cluster.step(T0)) == {"a": {"DesiredState": "remove"}}
    cluster.set("a", **{"Status.State": "shutdown"})
    cluster.store.tables["services"]["s1"]["Spec"]["Mode"]["Replicated"]["Replicas"] = 1
    assert [t["Slot"] for t in creates(cluster.step(T0))] == [1]
    assert cluster.step(T0).ops == []


def test_scaling_up_fills_only_the_missing_slots():
    tasks = [task("a", slot=1), task("c", slot=3)]
    assert [t["Slot"] for t in creates(reconcile(view([service(replicas=4)], tasks), T0, new_id=ids()))] == [2, 4]


def test_extra_current_tasks_in_one_slot_are_shut_down_keeping_the_live_one():
    tasks = [task("old", created=1), task("live", created=2), task("dead", created=3, state="failed")]
    assert patched(reconcile(view([service()], tasks), T0)) == {
        "old": {"DesiredState": "shutdown"}, "dead": {"DesiredState": "shutdown"}}


# -- restart policy ---------------------------------------------------------

def test_an_ended_task_is_replaced_after_the_default_delay():
    the_view = view([service()], [task("a", state="failed", at=T0, attempt=2)])
    waiting = reconcile(the_view, T0 + 1, new_id=ids())
    assert waiting.ops == [] and waiting.wake_at == T0 + 5
    due = reconcile(the_view, T0 + 5, new_id=ids())
    assert patched(due) == {"a": {"DesiredState": "shutdown"}}
    assert [(t["Slot"], t["Shoal"]["Attempt"]) for t in creates(due)] == [(1, 3)]
    assert due.wake_at is None


def test_the_restart_delay_comes_from_the_policy_and_zero_is_honoured():
    the_view = view([service(restart={"Delay": 0})], [task("a", state="complete", at=T0)])
    assert len(creates(reconcile(the_view, T0, new_id=ids()))) == 1
    the_view = view([service(restart={"Delay": 30 * SECOND})], [task("a", state="failed", at=T0)])
    assert reconcile(the_view, T0 + 29).wake_at == T0 + 30


def test_wake_at_is_the_earliest_restart_due():
    tasks = [task("a", slot=1, state="failed", at=T0 + 3), task("b", slot=2, state="failed", at=T0)]
    assert reconcile(view([service(replicas=2)], tasks), T0).wake_at == T0 + 5


def test_a_restarted_slot_settles_with_the_old_task_kept_as_history():
    cluster = Cluster(view([service(restart={"Delay": 0})], [task("a")]))
    cluster.set("a", **{"Status.State": "failed"})
    cluster.settle(T0)
    old, new = cluster.tasks(Slot=1)
    assert (old["ID"], old["DesiredState"]) == ("a", "shutdown")
    assert (new["DesiredState"], new["Status"]["State"], new["Shoal"]["Attempt"]) == ("running", "new", 1)


@pytest.mark.parametrize("state,exit_code", [("failed", 1), ("rejected", None), ("shutdown", None),
                                             ("complete", 3)])
def test_on_failure_restarts_anything_but_a_clean_exit(state, exit_code):
    the_view = view([service(restart={"Condition": "on-failure", "Delay": 0})],
                    [task("a", state=state, exit_code=exit_code)])
    assert len(creates(reconcile(the_view, T0, new_id=ids()))) == 1


@pytest.mark.parametrize("policy,state,reason", [
    ({"Condition": "on-failure"}, "complete", "task completed and restart policy is on-failure"),
    ({"Condition": "none"}, "failed", "restart policy is none"),
    ({"MaxAttempts": 3}, "failed", "restart policy allows at most 3 attempts"),
])
def test_a_refused_restart_shuts_the_task_down_and_says_why(policy, state, reason):
    the_view = view([service(restart=policy)], [task("a", state=state, attempt=3, exit_code=0)])
    decision = reconcile(the_view, T0 + 60, new_id=ids())
    assert creates(decision) == [] and decision.wake_at is None
    assert patched(decision) == {"a": {"DesiredState": "shutdown", "Shoal.RestartRefused": reason}}


def test_max_attempts_allows_restarts_until_reached():
    the_view = view([service(restart={"MaxAttempts": 3, "Delay": 0})], [task("a", state="failed", attempt=2)])
    assert [t["Shoal"]["Attempt"] for t in creates(reconcile(the_view, T0, new_id=ids()))] == [3]


def test_a_slot_ended_for_good_stays_ended():
    cluster = Cluster(view([service(replicas=2, restart={"Condition": "none"})],
                           [task("a", slot=1), task("b", slot=2)]))
    cluster.set("a", **{"Status.State": "complete"})
    assert cluster.settle(T0).wake_at is None
    assert cluster.step(T0 + 3600).ops == []
    assert [t["ID"] for t in cluster.tasks(DesiredState="running")] == ["b"]


# -- lost nodes -------------------------------------------------------------

@pytest.mark.parametrize("nodes", [(node("n1", state="down"),), ()], ids=["down", "gone"])
def test_a_task_on_a_lost_node_is_replaced_at_once_whatever_the_policy(nodes):
    the_view = view([service(restart={"Condition": "none", "MaxAttempts": 1})],
                    [task("a", state="running", attempt=1, at=T0)], nodes=nodes)
    decision = reconcile(the_view, T0, new_id=ids())
    assert patched(decision) == {"a": {"DesiredState": "shutdown"}}
    assert [(t["Slot"], t["Shoal"]["Attempt"], t["NodeID"]) for t in creates(decision)] == [(1, 1, "")]
    assert decision.wake_at is None


def test_unassigned_tasks_are_not_affected_by_lost_nodes():
    the_view = view([service()], [task("a", state="pending", node="")], nodes=[node("n1", state="down")])
    assert reconcile(the_view, T0).ops == []


def test_a_task_on_a_node_in_unknown_state_is_kept():
    assert reconcile(view([service()], [task("a")], nodes=[node("n1", state="unknown")]), T0).ops == []


def test_node_loss_replacement_settles():
    cluster = Cluster(view([service(replicas=2)], [task("a", slot=1, node="n1"), task("b", slot=2, node="n2")],
                           nodes=[node("n1", state="down"), node("n2")]))
    cluster.settle(T0)
    assert [(t["Slot"], t["NodeID"]) for t in cluster.tasks(DesiredState="running")] == [(1, ""), (2, "n2")]


# -- removed services -------------------------------------------------------

def test_tasks_of_a_removed_service_are_told_to_go_once():
    cluster = Cluster(view([], [task("a", service_id="gone")]))
    decision = cluster.step(T0)
    assert [(op["op"], op["id"], op["set"], op["version"]) for op in decision.ops] == [
        ("patch", "a", {"DesiredState": "remove"}, 5)]
    assert cluster.step(T0).ops == []
    cluster.set("a", **{"Status.State": "shutdown"})
    assert deleted(cluster.step(T0)) == ["a"]
    assert cluster.step(T0).ops == [] and cluster.tasks() == []


def test_finished_tasks_of_a_removed_service_are_deleted_with_version_checks():
    tasks = [task("ended", state="failed", version=7), task("unassigned", state="pending", node=""),
             task("lost", node="n9"), task("live", desired="remove")]
    decision = reconcile(view([], tasks), T0)
    assert sorted(deleted(decision)) == ["ended", "lost", "unassigned"]
    assert {op["id"]: op["version"] for op in decision.ops}["ended"] == 7
    assert patched(decision) == {}


# -- task history -----------------------------------------------------------

def history(count, slot=1, desired="shutdown", state="failed"):
    return [task(f"h{slot}-{n}", slot=slot, desired=desired, state=state, created=n) for n in range(1, count + 1)]


def test_each_slot_keeps_at_most_the_retention_limit_oldest_go_first():
    tasks = history(6) + [task("current", created=100)]
    assert deleted(reconcile(view([service()], tasks), T0)) == ["h1-1", "h1-2"]


def test_the_retention_limit_comes_from_the_cluster():
    tasks = history(3) + [task("current", created=100)]
    assert deleted(reconcile(view([service()], tasks, limit=2), T0)) == ["h1-1", "h1-2"]
    assert deleted(reconcile(view([service()], tasks, limit=-1), T0)) == []


def test_history_is_kept_per_slot():
    tasks = history(5, slot=1) + history(5, slot=2) + [task("c1", slot=1, created=99), task("c2", slot=2, created=99)]
    assert deleted(reconcile(view([service(replicas=2)], tasks), T0)) == ["h1-1", "h2-1"]


def test_tasks_still_stopping_are_not_deleted():
    tasks = [task("stopping", desired="shutdown", state="running", created=1),
             task("stopped", desired="shutdown", state="shutdown", created=2), task("current", created=3)]
    assert deleted(reconcile(view([service()], tasks, limit=1), T0)) == ["stopped"]


def test_shut_down_tasks_on_lost_nodes_or_never_assigned_count_as_finished():
    tasks = [task("lost", desired="shutdown", node="n9", created=1),
             task("unassigned", desired="shutdown", state="pending", node="", created=2),
             task("current", created=3)]
    assert deleted(reconcile(view([service()], tasks, limit=1), T0)) == ["lost", "unassigned"]


def test_the_newest_task_of_a_slot_is_kept_even_with_a_zero_limit():
    ended = task("ended", state="complete", desired="shutdown", created=2)
    ended["Shoal"]["RestartRefused"] = "restart policy is none"
    tasks = [task("older", state="failed", desired="shutdown", created=1), ended]
    decision = reconcile(view([service(restart={"Condition": "none"})], tasks, limit=0), T0)
    assert decision.ops == [{"op": "delete", "table": "tasks", "id": "older", "version": 5}]


# -- a whole pass -----------------------------------------------------------

def test_one_pass_never_touches_an_object_twice_and_settles():
    tasks = (history(6, slot=1) + [task("failed1", slot=1, state="failed", created=50)]
             + [task("lost2", slot=2, node="n9", created=50)]
             + [task(f"extra{slot}", slot=slot, created=50) for slot in (4, 5)]
             + [task("orphan", service_id="gone", state="complete")])
    the_view = view([service(replicas=3, restart={"Delay": 0})], tasks)
    decision = reconcile(the_view, T0, new_id=ids())
    touched = [op.get("id") or op["object"]["ID"] for op in decision.ops]
    assert len(touched) == len(set(touched))
    cluster = Cluster(the_view)
    cluster.settle(T0)
    # Four occupied slots for three replicas: the scale-down takes a slot that is not running (the
    # highest: 2, whose node is lost); slot 1 restarts.
    assert [t["Slot"] for t in cluster.tasks(DesiredState="running")] == [1, 4, 5]


def test_decision_shape():
    decision = reconcile(view(), T0)
    assert isinstance(decision, Decision) and decision.ops == [] and decision.wake_at is None
    assert ViewIndex(view(limit=None)).retention_limit() == 5


# -- bounded work per pass --------------------------------------------------

def test_a_large_scale_converges_in_passes_of_bounded_creations():
    the_view = view([service(replicas=25)])
    first = reconcile(the_view, T0, new_id=ids(), budget=CreationBudget(10))
    assert [t["Slot"] for t in creates(first)] == list(range(1, 11))
    cluster = Cluster(the_view)
    passes = 0
    while True:
        decision = reconcile(cluster.view(), T0, new_id=cluster.new_id, budget=CreationBudget(10))
        if not decision.ops:
            break
        assert len(creates(decision)) <= 10
        cluster.store.apply({"ops": decision.ops}, cluster.store.index + 1, T0)
        passes += 1
    assert passes == 3 and sorted(t["Slot"] for t in cluster.tasks()) == list(range(1, 26))


def test_a_pass_creates_tasks_of_a_large_spec_within_its_bytes_budget():
    big = service(replicas=10)
    big["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["X=" + "x" * 20_000]
    size = encoded_size(big["Spec"]["TaskTemplate"])
    decision = reconcile(view([big]), T0, new_id=ids(), budget=CreationBudget(100, spec_bytes=3 * size))
    assert len(creates(decision)) == 3


def test_the_default_budget_is_the_documented_limit():
    decision = reconcile(view([service(replicas=limits.TASKS_CREATED_PER_PASS + 5)]), T0, new_id=ids())
    assert len(creates(decision)) == limits.TASKS_CREATED_PER_PASS


def test_garbage_in_a_stored_task_or_policy_never_crashes_a_pass():
    """The store refuses these now; objects written before it did must still not crash-loop the orchestrator."""
    ended = task("a", state="failed", at=T0)
    ended["Status"]["Timestamp"] = "garbage"
    ended["UpdatedAt"] = "also garbage"
    the_view = view([service(restart={"Condition": "any", "Delay": "soon", "MaxAttempts": "x"})], [ended])
    decision = reconcile(the_view, T0, new_id=ids())
    assert [t["Slot"] for t in creates(decision)] == [1] and patched(decision)["a"]["DesiredState"] == "shutdown"


def test_a_new_task_carries_the_services_labels_for_the_executors_templates():
    labelled = service(replicas=1)
    labelled["Spec"]["Labels"] = {"tier": "front"}
    assert creates(reconcile(view([labelled]), T0, new_id=ids()))[0]["ServiceAnnotations"]["Labels"] == {"tier": "front"}

"""The orchestrator's pure core on nodes: global mode (and its updates), drain, pause, the constraint
enforcer, scale-down order."""

import pytest

from actors.orchestrator.reconcile import reconcile
from tests.unit.test_orchestrator_core import T0, Cluster, creates, ids, patched, service, task, view
from transport import schema


def node(node_id, state="ready", availability="active", labels=None):
    return {"ID": node_id, "Status": {"State": state},
            "Spec": {"Role": "worker", "Availability": availability, "Labels": labels or {}}}


def global_service(constraints=None, restart=None):
    the_service = service(mode={"Global": {}}, restart=restart)
    if constraints:
        the_service["Spec"]["TaskTemplate"]["Placement"] = {"Constraints": constraints}
    return the_service


def constrained(replicas=1, constraints=("node.labels.zone==a",)):
    the_service = service(replicas=replicas)
    the_service["Spec"]["TaskTemplate"]["Placement"] = {"Constraints": list(constraints)}
    return the_service


def on_node(task_id, node_id, **fields):
    """A global task (no slot) on ``node_id``."""
    return task(task_id, slot=0, node=node_id, **fields)


# -- global mode --------------------------------------------------------------

def test_a_global_service_gets_one_task_per_ready_active_node_created_assigned():
    nodes = [node("n1"), node("n2"), node("n3")]
    made = creates(reconcile(view([global_service()], nodes=nodes), T0, new_id=ids()))
    assert sorted((t["NodeID"], t["Slot"], t["Status"]["State"]) for t in made) == [
        ("n1", 0, "new"), ("n2", 0, "new"), ("n3", 0, "new")]


@pytest.mark.parametrize("ineligible", [node("x", availability="pause"), node("x", availability="drain"),
                                        node("x", state="down"), node("x", state="unknown"),
                                        node("x", labels={"zone": "b"})],
                         ids=["paused", "drained", "down", "not-ready-yet", "constraint-fails"])
def test_nodes_that_take_no_new_tasks_get_no_global_task(ineligible):
    the_view = view([global_service(["node.labels.zone!=b"])], nodes=[node("n1"), ineligible])
    assert [t["NodeID"] for t in creates(reconcile(the_view, T0, new_id=ids()))] == ["n1"]


def test_a_node_that_joins_or_qualifies_gets_its_task_on_the_next_pass():
    cluster = Cluster(view([global_service(["node.labels.gpu==yes"])], nodes=[node("n1", labels={"gpu": "yes"}),
                                                                              node("n2")]))
    cluster.settle(T0)
    assert [t["NodeID"] for t in cluster.tasks()] == ["n1"]
    cluster.store.tables["nodes"]["n2"]["Spec"]["Labels"] = {"gpu": "yes"}
    cluster.store.tables["nodes"]["n3"] = node("n3", labels={"gpu": "yes"})
    cluster.settle(T0)
    assert sorted(t["NodeID"] for t in cluster.tasks(DesiredState="running")) == ["n1", "n2", "n3"]


@pytest.mark.parametrize("change", [{"availability": "drain"}, {"state": "down"}, {"labels": {}}],
                         ids=["drained", "down", "label-removed"])
def test_a_global_task_is_shut_down_and_not_replaced_when_its_node_stops_qualifying(change):
    nodes = [node("n1", labels={"gpu": "yes"}), node("n2", **{"labels": {"gpu": "yes"}, **change})]
    tasks = [on_node("a", "n1"), on_node("b", "n2")]
    decision = reconcile(view([global_service(["node.labels.gpu==yes"])], tasks, nodes=nodes), T0, new_id=ids())
    assert patched(decision) == {"b": {"DesiredState": "shutdown"}} and creates(decision) == []


def test_a_global_task_on_a_removed_node_is_shut_down():
    decision = reconcile(view([global_service()], [on_node("a", "gone")], nodes=[]), T0, new_id=ids())
    assert patched(decision) == {"a": {"DesiredState": "shutdown"}} and creates(decision) == []


def test_a_paused_node_keeps_its_global_task_and_gets_no_replacement():
    nodes = [node("n1", availability="pause")]
    assert reconcile(view([global_service()], [on_node("a", "n1")], nodes=nodes), T0).ops == []
    ended = [on_node("a", "n1", state="failed")]
    assert reconcile(view([global_service(restart={"Delay": 0})], ended, nodes=nodes), T0).ops == []


def test_a_failed_global_task_is_restarted_on_its_node_under_the_policy():
    the_view = view([global_service()], [on_node("a", "n1", state="failed", at=T0)], nodes=[node("n1")])
    assert reconcile(the_view, T0 + 1).wake_at == T0 + 5
    due = reconcile(the_view, T0 + 5, new_id=ids())
    assert patched(due) == {"a": {"DesiredState": "shutdown"}}
    assert [(t["NodeID"], t["Shoal"]["Attempt"]) for t in creates(due)] == [("n1", 1)]


def test_a_global_task_refused_a_restart_stays_ended():
    the_view = view([global_service(restart={"Condition": "none"})], [on_node("a", "n1", state="complete")],
                    nodes=[node("n1")])
    cluster = Cluster(the_view)
    cluster.settle(T0)
    assert cluster.step(T0 + 3600).ops == []
    assert [t["DesiredState"] for t in cluster.tasks()] == ["shutdown"]


def test_extra_global_tasks_on_one_node_are_shut_down():
    tasks = [on_node("a", "n1", created=1), on_node("b", "n1", created=2)]
    assert patched(reconcile(view([global_service()], tasks, nodes=[node("n1")]), T0)) == {
        "a": {"DesiredState": "shutdown"}}


def test_global_mode_settles_and_follows_a_drain_and_back():
    cluster = Cluster(view([global_service()], nodes=[node("n1"), node("n2")]))
    cluster.settle(T0)
    cluster.store.tables["nodes"]["n2"]["Spec"]["Availability"] = "drain"
    cluster.settle(T0)
    assert [t["NodeID"] for t in cluster.tasks(DesiredState="running")] == ["n1"]
    cluster.store.tables["nodes"]["n2"]["Spec"]["Availability"] = "active"
    cluster.settle(T0)
    assert sorted(t["NodeID"] for t in cluster.tasks(DesiredState="running")) == ["n1", "n2"]


# -- drain, pause and the constraint enforcer for replicated services ----------

@pytest.mark.parametrize("the_node", [node("n1", availability="drain"), node("n1", labels={"zone": "b"})],
                         ids=["drained", "label-changed"])
def test_a_replicated_task_leaves_a_node_it_may_not_stay_on_at_once_whatever_the_policy(the_node):
    the_view = view([constrained(), ], [task("a", attempt=2, at=T0)], nodes=[the_node])
    the_view["services"]["s1"]["Spec"]["TaskTemplate"]["RestartPolicy"] = {"Condition": "none", "MaxAttempts": 1}
    decision = reconcile(the_view, T0, new_id=ids())
    assert patched(decision) == {"a": {"DesiredState": "shutdown"}} and decision.wake_at is None
    assert [(t["Slot"], t["NodeID"], t["Shoal"]["Attempt"]) for t in creates(decision)] == [(1, "", 2)]


def test_a_paused_node_keeps_its_replicated_tasks():
    the_view = view([service()], [task("a")], nodes=[node("n1", availability="pause")])
    assert reconcile(the_view, T0).ops == []


def test_a_task_whose_node_still_satisfies_the_constraints_stays():
    the_view = view([constrained()], [task("a")], nodes=[node("n1", labels={"zone": "A"})])
    assert reconcile(the_view, T0).ops == []


def test_malformed_stored_constraints_evict_nothing():
    the_view = view([constrained(constraints=["no operator"])], [task("a")], nodes=[node("n1")])
    assert reconcile(the_view, T0).ops == []


# -- scale-down order --------------------------------------------------------

def removed(decision):
    return sorted(op["id"] for op in decision.ops if op["op"] == "patch")


def test_scale_down_removes_tasks_that_are_not_running_first():
    tasks = [task("r1", slot=1), task("p2", slot=2, state="pending", node=""), task("r3", slot=3),
             task("s4", slot=4, state="starting")]
    assert removed(reconcile(view([service(replicas=2)], tasks), T0)) == ["p2", "s4"]


def test_scale_down_then_takes_from_the_nodes_with_the_most_replicas():
    tasks = [task("a1", slot=1, node="n1"), task("a2", slot=2, node="n1"), task("a3", slot=3, node="n1"),
             task("b4", slot=4, node="n2"), task("b5", slot=5, node="n2"), task("c6", slot=6, node="n3")]
    nodes = [node("n1"), node("n2"), node("n3")]
    assert removed(reconcile(view([service(replicas=3)], tasks, nodes=nodes), T0)) == ["a2", "a3", "b5"]


def test_scale_down_counts_a_task_on_a_lost_node_as_not_running():
    tasks = [task("lost", slot=1, node="n9"), task("b", slot=2, node="n1"), task("c", slot=3, node="n1")]
    decision = reconcile(view([service(replicas=2)], tasks), T0)
    assert patched(decision) == {"lost": {"DesiredState": "remove"}} and creates(decision) == []


def test_scale_down_of_a_slot_ended_for_good_marks_it_removed_and_it_stays_removed():
    """Swarm's way: a slot removed by a scale-down has its tasks desired ``remove``."""
    ended = task("ended", slot=1, state="complete", desired="shutdown")
    ended["Shoal"]["RestartRefused"] = "restart policy is none"
    cluster = Cluster(view([service(replicas=1, restart={"Condition": "none"})], [ended, task("b", slot=2)]))
    assert patched(cluster.step(T0)) == {"ended": {"DesiredState": "remove"}}
    assert [op["op"] for op in cluster.step(T0).ops] == ["delete"]  # nothing of it is running: it goes
    assert cluster.step(T0).ops == []
    assert [t["ID"] for t in cluster.tasks()] == ["b"]


@pytest.mark.parametrize("limit", [5, -1])
def test_a_removed_slot_is_deleted_whole_once_nothing_of_it_runs_whatever_the_limit(limit):
    history = [task("old", slot=2, desired="shutdown", state="failed", created=1), task("b", slot=2, created=2)]
    cluster = Cluster(view([service(replicas=1)], [task("a", slot=1, node="n2")] + history, limit=limit))
    assert patched(cluster.step(T0)) == {"b": {"DesiredState": "remove"}}
    assert cluster.step(T0).ops == []  # b still stopping: its slot stays, and is not refilled
    cluster.set("b", **{"Status.State": "shutdown"})
    assert sorted(op["id"] for op in cluster.step(T0).ops if op["op"] == "delete") == ["b", "old"]
    assert cluster.step(T0).ops == [] and [t["ID"] for t in cluster.tasks()] == ["a"]


def test_a_stop_first_update_keeps_its_vacated_slot_while_the_old_task_stops():
    the_service = service(replicas=2)
    the_service["SpecVersion"] = {"Index": 2}
    the_service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "busybox:new"
    old = [task("a", slot=1), task("b", slot=2)]
    for the_task in old:
        the_task["Spec"] = {"ContainerSpec": {"Image": "busybox"}}
    cluster = Cluster(view([the_service], old))
    first = patched(cluster.step(T0))
    assert first["a"] == {"DesiredState": "shutdown"} and "b" not in first
    assert cluster.step(T0).ops == []  # a still stopping: slot 1 stays the update's, no new slot is made
    cluster.set("a", **{"Status.State": "shutdown"})
    assert [(t["Slot"], t["Spec"]["ContainerSpec"]["Image"]) for t in creates(cluster.step(T0))] == [(1, "busybox:new")]


def test_scaling_up_after_a_scale_down_fills_the_lowest_free_slots():
    cluster = Cluster(view([service(replicas=2)], [task("a", slot=1), task("b", slot=2, state="pending", node=""),
                                                    task("c", slot=3, node="n2")]))
    cluster.settle(T0)
    assert [t["Slot"] for t in cluster.tasks(DesiredState="running")] == [1, 3]
    cluster.store.tables["services"]["s1"]["Spec"]["Mode"]["Replicated"]["Replicas"] = 4
    cluster.settle(T0)
    assert [t["Slot"] for t in cluster.tasks(DesiredState="running")] == [1, 2, 3, 4]


# -- a new spec for a global service ------------------------------------------

def test_a_global_service_rolls_a_new_spec_node_by_node_within_the_update_policy():
    the_service = global_service()
    the_service["SpecVersion"] = {"Index": 2}
    the_service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "busybox:new"
    old = [on_node("a", "n1"), on_node("b", "n2")]
    for the_task in old:
        the_task["Spec"] = {"ContainerSpec": {"Image": "busybox"}}
    cluster = Cluster(view([the_service], old, nodes=[node("n1"), node("n2")]))
    first = patched(cluster.step(T0))
    assert first["a"] == {"DesiredState": "shutdown"} and "b" not in first  # parallelism 1, stop-first
    assert cluster.step(T0).ops == []  # n1 waits for its old task to stop
    cluster.set("a", **{"Status.State": "shutdown"})
    [made] = creates(cluster.step(T0))
    assert (made["NodeID"], made["Spec"]["ContainerSpec"]["Image"], made["SpecVersion"]) == (
        "n1", "busybox:new", {"Index": 2})
    cluster.set(made["ID"], **{"Status.State": "running", "Shoal.RunningAt": schema.format_time(T0)})
    assert "b" in patched(cluster.step(T0 + 1))  # n1's new task came up: n2's turn

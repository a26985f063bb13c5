"""The scheduler's pure core: which pending tasks go to which node, and why none fits."""

import pytest

from actors.common.placement.filters import Pipeline, ReadyFilter
from actors.raft.store import Store
from actors.scheduler.placement import schedule
from transport import schema

T0 = 1_000.0


# -- fixtures ---------------------------------------------------------------

def node(node_id, state="ready", availability="active"):
    return {"ID": node_id, "Status": {"State": state}, "Spec": {"Availability": availability}}


def task(task_id, service_id="s1", state="pending", desired="running", node_id="", created=1, version=4):
    return {"ID": task_id, "ServiceID": service_id, "NodeID": node_id, "DesiredState": desired,
            "Status": schema.task_status(state, "pending task scheduling", T0), "Version": {"Index": version},
            "CreatedAt": schema.format_time(created)}


def running(task_id, node_id, service_id="s1", **fields):
    return task(task_id, service_id, state="running", node_id=node_id, **fields)


def view(nodes=(), tasks=()):
    return {"cluster": None, "services": {}, "nodes": {n["ID"]: n for n in nodes},
            "tasks": {t["ID"]: t for t in tasks}}


def placements(decision):
    return {op["id"]: op["set"]["NodeID"] for op in decision.ops if "NodeID" in op["set"]}


def notes(decision):
    return {op["id"]: op["set"] for op in decision.ops if "NodeID" not in op["set"]}


def settle(the_view):
    """Apply schedule passes to the real store until quiet; return its tasks."""
    store = Store()
    # A snapshot's index is at least every object's version (a task settled before comes back at its own).
    index = max([100] + [schema.version_of(task) for task in the_view["tasks"].values()])
    store.restore({"index": index, "tables": {"nodes": the_view["nodes"], "tasks": the_view["tasks"]}})
    for _ in range(4):
        decision = schedule({"cluster": None, **store.tables}, T0)
        if not decision.ops:
            return store.tables["tasks"]
        result, _ = store.apply({"ops": decision.ops}, store.index + 1, T0)
        assert "error" not in result, result
    raise AssertionError("schedule did not settle")


class NoNodeNamed:
    """A test filter refusing one node by id."""

    def __init__(self, node_id):
        self.node_id = node_id

    def accepts(self, node, task):
        return node["ID"] != self.node_id

    def explain(self, rejected):
        return f"{rejected} node named {self.node_id}"


# -- placement --------------------------------------------------------------

def test_an_assignment_is_a_version_checked_patch_of_node_and_status():
    decision = schedule(view([node("n1")], [task("t")]), T0 + 2)
    assert decision.ops == [{"op": "patch", "table": "tasks", "id": "t", "version": 4, "set": {
        "NodeID": "n1", "Status": {"Timestamp": schema.format_time(T0 + 2), "State": "assigned",
                                   "Message": "scheduler assigned task to node"}}}]
    assert decision.wake_at is None


def test_replicas_spread_one_per_node_in_one_pass():
    tasks = [task(f"t{n}", created=n) for n in range(1, 4)]
    assert placements(schedule(view([node("n3"), node("n1"), node("n2")], tasks), T0)) == {
        "t1": "n1", "t2": "n2", "t3": "n3"}


def test_more_replicas_than_nodes_wrap_around_evenly():
    tasks = [task(f"t{n}", created=n) for n in range(1, 6)]
    chosen = list(placements(schedule(view([node("a"), node("b")], tasks), T0)).values())
    assert sorted(chosen) == ["a", "a", "a", "b", "b"]


def test_fewest_tasks_of_the_same_service_wins_over_fewest_tasks_overall():
    tasks = [running("x1", "busy", "other"), running("x2", "busy", "other"), running("w1", "quiet"), task("t")]
    assert placements(schedule(view([node("busy"), node("quiet")], tasks), T0)) == {"t": "busy"}


def test_then_fewest_tasks_overall():
    tasks = [running("x1", "a", "other"), running("x2", "a", "other"), running("y1", "b", "other"), task("t")]
    assert placements(schedule(view([node("a"), node("b")], tasks), T0)) == {"t": "b"}


def test_ended_and_stopping_tasks_do_not_count_as_load():
    tasks = [task("gone", state="failed", node_id="a"), running("stopping", "a", desired="shutdown"), task("t")]
    assert placements(schedule(view([node("b"), node("a")], tasks), T0)) == {"t": "a"}


@pytest.mark.parametrize("other", [task("t", state="new"), task("t", desired="shutdown"),
                                   task("t", node_id="n1", desired="shutdown"), running("t", "n1")])
def test_only_pending_tasks_meant_to_run_are_scheduled(other):
    assert schedule(view([node("n1")], [other]), T0).ops == []


# -- preassigned (global) tasks ----------------------------------------------

def test_a_preassigned_task_is_assigned_to_its_own_node_not_spread():
    tasks = [running("x1", "a"), running("x2", "a"), task("g", node_id="a")]
    decision = schedule(view([node("a"), node("b")], tasks), T0)
    assert placements(decision) == {"g": "a"}
    assert decision.ops[0]["set"]["Status"]["State"] == "assigned" and decision.ops[0]["version"] == 4


@pytest.mark.parametrize("its_node,reason", [
    (node("a", availability="drain"), "no suitable node (1 node not available for new tasks)"),
    (node("a", availability="pause"), "no suitable node (1 node not available for new tasks)"),
    (node("a", state="down"), "no suitable node (1 node not available for new tasks)"),
    (node("other"), "no suitable node"),
], ids=["drained", "paused", "down", "gone"])
def test_a_preassigned_task_whose_node_fails_the_filters_waits_and_says_why(its_node, reason):
    decision = schedule(view([its_node], [task("g", node_id="a")]), T0)
    assert placements(decision) == {} and notes(decision) == {"g": {"Status.Message": "pending task scheduling",
                                                                    "Status.Err": reason}}


def test_a_preassigned_task_is_checked_without_its_own_reservation_and_then_counts():
    full = node("a")
    full["Description"] = {"Resources": {"NanoCPUs": 1_000_000_000, "MemoryBytes": 2 ** 30}}
    reserving = {"Resources": {"Reservations": {"NanoCPUs": 1_000_000_000}}}
    tasks = [dict(task("g", node_id="a", created=1), Spec=reserving), dict(task("r", created=2), Spec=reserving)]
    decision = schedule(view([full], tasks), T0)
    assert placements(decision) == {"g": "a"}
    assert notes(decision)["r"]["Status.Err"] == "no suitable node (insufficient resources on 1 node)"


def test_a_preassigned_task_settles_assigned_on_its_node():
    tasks = settle(view([node("a"), node("b")], [task("g", node_id="b")]))
    assert (tasks["g"]["NodeID"], tasks["g"]["Status"]["State"]) == ("b", "assigned")


def test_placement_settles_in_the_store():
    tasks = settle(view([node("n1"), node("n2")], [task("t1", created=1), task("t2", created=2)]))
    assert sorted((t["NodeID"], t["Status"]["State"]) for t in tasks.values()) == [
        ("n1", "assigned"), ("n2", "assigned")]


# -- no suitable node -------------------------------------------------------

@pytest.mark.parametrize("nodes,reason", [
    ([node("n1", state="down")], "no suitable node (1 node not available for new tasks)"),
    ([node("n1", availability="drain"), node("n2", availability="pause"), node("n3", state="unknown")],
     "no suitable node (3 nodes not available for new tasks)"),
    ([], "no suitable node"),
])
def test_no_suitable_node_is_explained_on_the_task(nodes, reason):
    decision = schedule(view(nodes, [task("t")]), T0)
    assert decision.ops == [{"op": "patch", "table": "tasks", "id": "t", "version": 4,
                             "set": {"Status.Message": "pending task scheduling", "Status.Err": reason}}]


def test_the_explanation_is_written_once_and_cleared_by_the_assignment():
    the_view = view([node("n1", state="down")], [task("t")])
    tasks = settle(the_view)
    assert tasks["t"]["Status"]["Err"].startswith("no suitable node") and tasks["t"]["NodeID"] == ""
    the_view["nodes"]["n1"]["Status"]["State"] = "ready"
    the_view["tasks"] = tasks
    assigned = settle(the_view)["t"]
    assert assigned["NodeID"] == "n1" and "Err" not in assigned["Status"]


def test_filters_run_in_order_and_each_node_counts_against_the_first_it_fails():
    pipeline = Pipeline([ReadyFilter(), NoNodeNamed("n2"), NoNodeNamed("n3")])
    nodes = [node("n1", state="down"), node("n2"), node("n3")]
    assert notes(schedule(view(nodes, [task("t")]), T0, pipeline))["t"]["Status.Err"] == (
        "no suitable node (1 node not available for new tasks; 1 node named n2; 1 node named n3)")


def test_a_custom_pipeline_narrows_the_candidates():
    pipeline = Pipeline([ReadyFilter(), NoNodeNamed("n1")])
    assert placements(schedule(view([node("n1"), node("n2")], [task("t")]), T0, pipeline)) == {"t": "n2"}

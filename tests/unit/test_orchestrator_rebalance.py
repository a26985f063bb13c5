"""The rebalancer's pure core: which slots of a service at rest move, when, and how a move finishes."""

import collections

import pytest

from actors.common.viewindex import ViewIndex
from actors.orchestrator.rebalance import plan_rebalance
from actors.orchestrator.reconcile import reconcile
from actors.scheduler.placement import schedule
from tests.unit.fakecluster import FakeWorkersCluster
from transport import schema

T0 = 10_000.0
TEMPLATE = {"ContainerSpec": {"Image": "busybox"}}


def node(node_id, state="ready", availability="active", role="worker", zone=None):
    return {"ID": node_id, "Status": {"State": state},
            "Spec": {"Role": role, "Availability": availability, "Labels": {"zone": zone} if zone else {}}}


def service(replicas, parallelism=1, delay=0, rebalance=None, update_state=None, template=None):
    spec = {"Name": "web", "TaskTemplate": template or TEMPLATE, "Mode": {"Replicated": {"Replicas": replicas}},
            "UpdateConfig": {"Parallelism": parallelism, "Delay": int(delay * 1e9)}}
    if rebalance is not None:
        spec["Shoal"] = {"Rebalance": rebalance}
    found = {"ID": "s1", "Spec": spec, "SpecVersion": {"Index": 1}, "Version": {"Index": 9}}
    if update_state:
        found["UpdateStatus"] = {"State": update_state}
    return found


def task(task_id, slot, node_id, state="running", desired="running", since=T0 - 60, template=None, created=1, err=None):
    status = schema.task_status(state, state, since)
    if err:
        status["Err"] = err
    return {"ID": task_id, "ServiceID": "s1", "Slot": slot, "NodeID": node_id, "DesiredState": desired,
            "Spec": template or TEMPLATE, "Status": status, "Version": {"Index": 5},
            "CreatedAt": schema.format_time(created), "UpdatedAt": schema.format_time(since),
            "Shoal": {"RunningAt": schema.format_time(since)} if state == "running" else {}}


def spread_tasks(*placement):
    """Tasks t1.. in slots 1.. on the given nodes, in order."""
    return [task(f"t{slot}", slot, node_id) for slot, node_id in enumerate(placement, start=1)]


def plan(the_service, nodes, tasks, now=T0):
    index = ViewIndex({"cluster": None, "nodes": {n["ID"]: n for n in nodes}, "services": {"s1": the_service},
                       "tasks": {t["ID"]: t for t in tasks}})
    replicas = the_service["Spec"]["Mode"]["Replicated"]["Replicas"]
    slots = {slot: tasks for slot, tasks in index.service_slots("s1").items() if slot <= replicas}
    return plan_rebalance(the_service, slots, index, now)


THREE = [node("a"), node("b"), node("c")]


# -- when to move -----------------------------------------------------------

def test_a_joined_node_gets_one_task_at_a_time_with_parallelism_1():
    result = plan(service(6), THREE, spread_tasks("a", "a", "a", "b", "b", "b"))
    assert result.create == [6] and result.claimed == {6} and result.shutdown == []


@pytest.mark.parametrize("parallelism, moved", [(2, [6, 3]), (0, [6, 3]), (5, [6, 3])])
def test_parallelism_bounds_a_batch_and_moves_stop_once_even(parallelism, moved):
    # 3-3-0: two moves make it 2-2-2; a third would only shuffle.
    assert plan(service(6, parallelism), THREE, spread_tasks("a", "a", "a", "b", "b", "b")).create == moved


@pytest.mark.parametrize("placement", [("a", "b", "c"), ("a", "b"), ("a", "a", "b", "c"), ("a", "a", "b", "b", "c"), ("a",), ()])
def test_an_even_spread_does_not_move(placement):
    result = plan(service(len(placement)), THREE, spread_tasks(*placement))
    assert result.create == [] and result.claimed == set()


def test_rebalance_false_turns_it_off():
    assert plan(service(6, rebalance=False), THREE, spread_tasks("a", "a", "a", "b", "b", "b")).create == []
    assert plan(service(6, rebalance=True), THREE, spread_tasks("a", "a", "a", "b", "b", "b")).create == [6]


@pytest.mark.parametrize("state", ["updating", "paused", "rollback_started", "rollback_paused"])
def test_no_move_while_an_update_is_under_way(state):
    assert plan(service(4, update_state=state), THREE, spread_tasks("a", "a", "b", "b")).create == []


@pytest.mark.parametrize("state", ["completed", "rollback_completed"])
def test_a_finished_update_does_not_hold_moves_back(state):
    assert plan(service(4, update_state=state), THREE, spread_tasks("a", "a", "a", "b")).create == [3]


def test_no_move_while_a_task_is_out_of_date():
    tasks = spread_tasks("a", "a", "a", "b")
    tasks[0]["Spec"] = {"ContainerSpec": {"Image": "old"}}
    assert plan(service(4), THREE, tasks).create == []


@pytest.mark.parametrize("state", ["pending", "assigned", "starting", "failed"])
def test_no_move_while_a_slot_is_not_running(state):
    tasks = spread_tasks("a", "a", "a", "b")
    tasks[1] = task("t2", 2, "a", state=state)
    assert plan(service(4), THREE, tasks).create == []


def test_no_move_while_a_slot_is_missing_or_its_node_is_down():
    assert plan(service(5), THREE, spread_tasks("a", "a", "a", "b")).create == []
    nodes = [node("a"), node("b", state="down"), node("c")]
    assert plan(service(4), nodes, spread_tasks("a", "a", "a", "b")).create == []


def test_a_batch_waits_delay_after_the_last_task_came_up():
    tasks = spread_tasks("a", "a", "a", "a", "b")
    tasks[4] = task("t5", 5, "b", since=T0 - 2)
    result = plan(service(5, delay=10), THREE, tasks)
    assert result.create == [] and result.wake_at == T0 + 8
    assert plan(service(5, delay=10), THREE, tasks, now=T0 + 8).create == [4]


def test_the_delay_counts_against_parallelism():
    tasks = spread_tasks("a", "a", "a", "a", "b")
    tasks[4] = task("t5", 5, "b", since=T0 - 2)
    assert plan(service(5, parallelism=2, delay=10), THREE, tasks).create == [4]


def test_no_move_within_monitor_of_a_failure():
    tasks = spread_tasks("a", "a", "a", "b") + [task("old", 2, "c", state="failed", desired="shutdown", since=T0 - 1)]
    result = plan(service(4), THREE, tasks)
    assert result.create == [] and result.wake_at == T0 + 4  # Docker's default Monitor: 5 s
    assert plan(service(4), THREE, tasks, now=T0 + 4).create == [3]


# -- where to ---------------------------------------------------------------

def test_only_to_nodes_that_take_the_task():
    manager_only = {**TEMPLATE, "Placement": {"Constraints": ["node.role==manager"]}}
    nodes = [node("a", role="manager"), node("b"), node("c")]
    tasks = [task(f"t{n}", n, "a", template=manager_only) for n in (1, 2, 3)]
    assert plan(service(3, template=manager_only), nodes, tasks).create == []


@pytest.mark.parametrize("availability", ["pause", "drain"])
def test_not_to_a_node_that_takes_no_new_tasks(availability):
    nodes = [node("a"), node("b"), node("c", availability=availability)]
    assert plan(service(4), nodes, spread_tasks("a", "a", "b", "b")).create == []


def test_max_replicas_is_respected_and_does_not_pin_a_full_node():
    limited = {**TEMPLATE, "Placement": {"MaxReplicas": 2}}
    tasks = [task(f"t{n}", n, node_id, template=limited) for n, node_id in enumerate("aabb", start=1)]
    assert plan(service(4, parallelism=0, template=limited), THREE, tasks).create == [4]


def test_spread_preferences_even_out_groups_not_nodes():
    zoned = {**TEMPLATE, "Placement": {"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}}
    nodes = [node("a1", zone="x"), node("a2", zone="x"), node("b1", zone="y")]
    tasks = [task(f"t{n}", n, node_id, template=zoned) for n, node_id in enumerate(["a1", "a1", "a2", "a2"], start=1)]
    # Zone x holds 4, zone y none: two move to b1, although a per-node count would call 2-2-0 even enough.
    assert plan(service(4, parallelism=0, template=zoned), nodes, tasks).create == [4, 2]


def test_a_decided_move_is_seen_by_later_decisions_of_the_pass():
    index = ViewIndex({"cluster": None, "nodes": {n["ID"]: n for n in THREE}, "services": {},
                       "tasks": {t["ID"]: t for t in spread_tasks("a", "a", "a", "b", "b", "b")}})
    plan_rebalance(service(6), index.service_slots("s1"), index, T0)
    assert index.placement_load.of_service("c", "s1") == 1 and index.placement_load.of_service("b", "s1") == 2


# -- finishing a move -------------------------------------------------------

def test_a_move_under_way_keeps_its_slot_until_the_replacement_runs():
    tasks = spread_tasks("a", "a", "b") + [task("new", 2, "c", state="starting", created=2)]
    result = plan(service(3), THREE, tasks)
    assert result.claimed == {2} and result.shutdown == [] and result.create == []


def test_once_the_replacement_runs_the_slot_is_left_to_the_slot_reconciler():
    tasks = spread_tasks("a", "a", "b") + [task("new", 2, "c", since=T0 - 1, created=2)]
    result = plan(service(3), THREE, tasks)
    assert result.claimed == set() and result.shutdown == [] and result.create == []


def test_a_replacement_no_node_takes_is_given_up():
    tasks = spread_tasks("a", "a", "b") + [
        task("new", 2, "", state="pending", created=2, err="no suitable node (insufficient resources on 3 nodes)")]
    result = plan(service(3), THREE, tasks)
    assert result.claimed == {2} and [t["ID"] for t in result.shutdown] == ["new"]


def test_a_move_under_way_is_followed_even_when_rebalancing_cannot_start_more():
    tasks = spread_tasks("a", "a", "a", "b") + [
        task("new", 2, "", state="pending", created=2, err="no suitable node (insufficient resources on 3 nodes)")]
    tasks[0] = task("t1", 1, "a", state="starting")
    result = plan(service(4), THREE, tasks)
    assert [t["ID"] for t in result.shutdown] == ["new"] and result.create == []


# -- through reconcile, the scheduler and the store ---------------------------

class Cluster(FakeWorkersCluster):
    """The store driven by reconcile and schedule, with fake workers that start and stop tasks at once."""

    def __init__(self, nodes, the_service):
        super().__init__({"s1": the_service}, {n["ID"]: n for n in nodes}, T0)

    def step(self):
        self.apply(reconcile(self.view(), self.now, new_id=self.new_id).ops)
        self.apply(schedule(self.view(), self.now).ops)
        self.work()
        self.now += 1

    def running(self):
        return collections.Counter(t["NodeID"] for t in self.store.tables["tasks"].values()
                                   if t["DesiredState"] == "running" and t["Status"]["State"] == "running")


def test_with_fake_workers_a_node_turning_active_gets_its_share_one_task_at_a_time_never_below_the_replicas():
    nodes = [node("a"), node("b"), node("c", availability="pause")]
    cluster = Cluster(nodes, service(6, delay=2))
    for _ in range(4):
        cluster.step()
    assert cluster.running() == {"a": 3, "b": 3}
    cluster.store.tables["nodes"]["c"]["Spec"]["Availability"] = "active"
    seen = []
    for _ in range(20):
        cluster.step()
        seen.append(cluster.running())
    assert seen[-1] == {"a": 2, "b": 2, "c": 2}
    assert min(sum(counts.values()) for counts in seen) >= 6
    arrivals = [counts["c"] for counts in seen]
    assert arrivals[:arrivals.index(2)].count(1) >= 2, "the second move waited Delay after the first"


def test_no_move_while_scaling_down():
    tasks = spread_tasks("a", "a", "a", "b", "a")
    assert plan(service(4), THREE, tasks).create == []
    tasks[4]["DesiredState"] = "remove"  # how a scale-down removes a slot
    assert plan(service(4), THREE, tasks).create == [3]


def test_a_slot_ended_for_good_does_not_hold_moves_back():
    # reconcile hands the rebalancer the updater's slots, which leave out slots ended for good.
    tasks = spread_tasks("a", "a", "a", "b") + [task("done", 5, "b", state="complete")]
    index = ViewIndex({"cluster": None, "nodes": {n["ID"]: n for n in THREE}, "services": {},
                       "tasks": {t["ID"]: t for t in tasks}})
    slots = {slot: found for slot, found in index.service_slots("s1").items() if slot != 5}
    assert plan_rebalance(service(5), slots, index, T0).create == [3]


def test_the_moves_are_weighed_with_the_services_placement():
    workers = {**TEMPLATE, "Placement": {"Constraints": ["node.role==worker"]}}
    nodes = [node("m", role="manager"), node("a"), node("b"), node("c")]
    tasks = [task(f"t{n}", n, node_id, template=workers) for n, node_id in enumerate("aaab", start=1)]
    assert plan(service(4, template=workers), nodes, tasks).create == [3]


def test_no_further_move_while_a_replacement_waits_for_the_scheduler():
    # 2-2-2 and an empty node: one move, not a second bound for the same node.
    nodes = THREE + [node("d")]
    tasks = spread_tasks("a", "a", "b", "b", "c", "c") + [task("new", 2, "", state="pending", created=2)]
    result = plan(service(6, parallelism=2), nodes, tasks)
    assert result.create == [] and result.claimed == {2}


def test_a_placed_replacement_counts_and_its_old_task_does_not():
    # 3-1-1: slot 3 moves from a to b; with a still counting its old task, a second move would leave a for c.
    tasks = spread_tasks("a", "a", "a", "b", "c") + [task("new", 3, "b", state="starting", created=2)]
    result = plan(service(5, parallelism=2), THREE, tasks)
    assert result.create == [] and result.claimed == {3}


def test_no_node_taking_new_tasks_means_no_move():
    nodes = [node("a", availability="pause"), node("b", state="down")]
    assert plan(service(3), nodes, spread_tasks("a", "a", "a")).create == []


def test_a_slot_removed_below_the_highest_does_not_hold_moves_back():
    # A scale-down from 5 removed slot 2: slots 1, 3, 4, 5 remain, and the spread is 3-1-0.
    tasks = spread_tasks("a", "c", "a", "a", "b")
    tasks[1]["DesiredState"] = "remove"
    index = ViewIndex({"cluster": None, "nodes": {n["ID"]: n for n in THREE}, "services": {},
                       "tasks": {t["ID"]: t for t in tasks}})
    slots = {slot: found for slot, found in index.service_slots("s1").items() if slot != 2}
    assert plan_rebalance(service(4), slots, index, T0).create == [4]


def test_a_crowded_node_that_takes_no_new_tasks_does_not_block_moves_from_the_others():
    # a is paused with 3 (its tasks stay), b has 3, c none: b gives c one.
    nodes = [node("a", availability="pause"), node("b"), node("c")]
    assert plan(service(6), nodes, spread_tasks("b", "b", "b", "a", "a", "a")).create == [3]

"""The updater's pure core (actors/orchestrator/update.py): every update state against every slot shape, and
whole rolling updates driven through the orchestrator's reconcile over the real store (fake workers)."""

import copy

import pytest

from actors.common.specwrites import rollback_changes, spec_changes
from actors.orchestrator.reconcile import reconcile
from actors.common.taskspec import host_ports, is_dirty
from actors.orchestrator.update import UpdatePolicy, plan_update
from tests.unit.fakecluster import FakeWorkersCluster
from transport import schema

T0 = 1_000.0
SECOND = 1_000_000_000
OLD = {"ContainerSpec": {"Image": "app:1"}}
NEW = {"ContainerSpec": {"Image": "app:2"}}


# -- fixtures ---------------------------------------------------------------

def service(replicas=4, update=None, rollback=None, status=None, template=NEW, previous=OLD, version=2, ports=None):
    spec = {"Name": "web", "TaskTemplate": copy.deepcopy(template), "Mode": {"Replicated": {"Replicas": replicas}}}
    if update is not None:
        spec["UpdateConfig"] = update
    if rollback is not None:
        spec["RollbackConfig"] = rollback
    if ports is not None:
        spec["EndpointSpec"] = {"Ports": ports}
    svc = {"ID": "s1", "Version": {"Index": 50}, "Spec": spec, "SpecVersion": {"Index": version}}
    if previous is not None:
        svc["PreviousSpec"] = {**spec, "TaskTemplate": copy.deepcopy(previous)}
        svc["PreviousSpecVersion"] = {"Index": version - 1}
    if status is not None:
        svc["UpdateStatus"] = status
    return svc


def task(task_id, slot=1, spec=OLD, state="running", desired="running", node="n1", version=None, at=T0,
         running_at=None, created=1):
    version = version if version is not None else (2 if spec == NEW else 1)
    t = {"ID": task_id, "ServiceID": "s1", "Slot": slot, "NodeID": node, "DesiredState": desired,
         "Spec": copy.deepcopy(spec), "SpecVersion": {"Index": version}, "Version": {"Index": 7},
         "Status": schema.task_status(state, state, at), "CreatedAt": schema.format_time(created), "Shoal": {}}
    if running_at is not None:
        t["Shoal"]["RunningAt"] = schema.format_time(running_at)
    return t


def new(task_id, slot=1, **fields):
    return task(task_id, slot, spec=NEW, created=2, **fields)


def slots_of(*tasks):
    slots = {}
    for t in tasks:
        slots.setdefault(t["Slot"], []).append(t)
    return slots


def lost(*node_ids):
    return lambda node_id: node_id in node_ids


def plan(svc, *tasks, now=T0, node_lost=lost()):
    return plan_update(svc, slots_of(*tasks), now, node_lost)


def olds(count=4):
    return [task(f"o{slot}", slot) for slot in range(1, count + 1)]


def status_of(the_plan):
    return the_plan.service_changes.get("UpdateStatus")


def updating(**extra):
    return {"State": "updating", "StartedAt": schema.format_time(T0 - 100), "Message": "update in progress", **extra}


def ids(tasks):
    return [t["ID"] for t in tasks]


# -- the policy and dirtiness ----------------------------------------------

def test_the_policy_has_dockers_defaults():
    assert UpdatePolicy.of(None) == UpdatePolicy(parallelism=1, delay=0.0, failure_action="pause", monitor=5.0,
                                                 max_failure_ratio=0.0, order="stop-first")


def test_the_policy_reads_every_field_and_zero_is_kept():
    config = {"Parallelism": 0, "Delay": 2 * SECOND, "FailureAction": "rollback", "Monitor": 0,
              "MaxFailureRatio": 0.25, "Order": "start-first"}
    assert UpdatePolicy.of(config) == UpdatePolicy(0, 2.0, "rollback", 0.0, 0.25, "start-first")


@pytest.mark.parametrize("garbage", [{"Parallelism": -1}, {"Order": "sideways"}, {"Delay": "1s"}, "x"])
def test_a_policy_the_model_refuses_falls_back_to_the_defaults(garbage):
    assert UpdatePolicy.of(garbage) == UpdatePolicy()


def test_a_task_is_dirty_when_its_spec_differs_from_the_template():
    svc = service()
    assert not is_dirty(new("a"), svc)
    assert is_dirty(task("a"), svc)
    forced = service(template={**NEW, "ForceUpdate": 1})
    assert is_dirty(new("a"), forced)
    assert is_dirty({**new("a"), "Spec": None}, svc)


def test_a_replicas_change_never_makes_a_task_dirty():
    assert not is_dirty(new("a"), service(replicas=9))


def test_host_mode_ports_make_a_task_dirty_ingress_ones_do_not():
    host = {"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}
    ingress = {"TargetPort": 81, "PublishedPort": 30001, "PublishMode": "ingress", "Protocol": "tcp"}
    svc = service(ports=[host, ingress])
    allocated = {**new("a"), "Endpoint": {"Ports": [{**host, "Protocol": "tcp"}]}}
    assert not is_dirty(allocated, svc)
    moved = {**new("a"), "Endpoint": {"Ports": [{**host, "PublishedPort": 9090}]}}
    assert is_dirty(moved, svc)
    assert not is_dirty(new("a"), svc), "a task not allocated yet gets the current ports"
    assert host_ports([host, ingress]) == [("tcp", 80, 8080)]


def test_a_constraints_change_replaces_tasks_even_on_nodes_that_still_meet_it():
    constrained = service(template={**NEW, "Placement": {"Constraints": ["node.labels.zone==a"]}})
    assert is_dirty(new("a"), constrained), "the content rule the CLI's progress shares"


def test_spec_writes_bump_the_spec_version_and_keep_the_previous_spec():
    svc = service(version=4)
    changes = spec_changes(svc, {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "app:3"}}})
    assert changes["SpecVersion"] == {"Index": 5} and changes["PreviousSpecVersion"] == {"Index": 4}
    assert changes["PreviousSpec"] == svc["Spec"]
    back = rollback_changes(svc)
    assert back["Spec"] == svc["PreviousSpec"] and back["PreviousSpec"] == svc["Spec"]
    assert back["SpecVersion"] == {"Index": 5}, "a rollback is a spec write too: the counter never goes back"


# -- starting and pacing an update ------------------------------------------

def test_nothing_to_do_when_every_task_is_current():
    result = plan(service(), *[new(f"n{slot}", slot) for slot in range(1, 5)])
    assert result.shutdown == [] and result.create == [] and result.claimed == set()
    assert result.service_changes == {} and result.wake_at is None


def test_dirty_slots_start_an_update_and_the_first_slot_stops_first():
    result = plan(service(), *olds())
    assert status_of(result) == {"State": "updating", "StartedAt": schema.format_time(T0),
                                 "Message": "update in progress"}
    assert ids(result.shutdown) == ["o1"] and result.claimed == {1} and result.create == []


@pytest.mark.parametrize("settled", [None, {"State": "completed"}, {"State": "rollback_completed"}])
def test_a_settled_service_with_dirty_slots_starts_a_new_update(settled):
    result = plan(service(status=settled), *olds())
    assert status_of(result)["State"] == "updating"


@pytest.mark.parametrize("parallelism, stopped", [(1, ["o1"]), (2, ["o1", "o2"]), (0, ["o1", "o2", "o3", "o4"]),
                                                  (9, ["o1", "o2", "o3", "o4"])])
def test_parallelism_bounds_the_slots_started_at_once(parallelism, stopped):
    result = plan(service(update={"Parallelism": parallelism}, status=updating()), *olds())
    assert ids(result.shutdown) == stopped and result.claimed == {int(i[1:]) for i in stopped}


def test_a_stopping_old_task_is_claimed_and_counts_as_busy():
    stopping = task("o1", 1, desired="shutdown")
    result = plan(service(update={"Parallelism": 2}, status=updating()), stopping, *olds()[1:])
    assert result.claimed == {1, 2} and ids(result.shutdown) == ["o2"]


@pytest.mark.parametrize("old", [task("o1", 1, desired="shutdown", node="gone"),
                                 task("o1", 1, desired="shutdown", node="", state="pending"),
                                 task("o1", 1, desired="shutdown", state="shutdown"),
                                 new("n1", 1, desired="shutdown")])
def test_a_stopped_lost_unassigned_or_current_task_is_not_waited_for(old):
    result = plan(service(status=updating()), old, *olds()[1:], node_lost=lost("gone"))
    assert 1 not in result.claimed


def test_a_slot_without_a_current_task_counts_as_busy():
    emptied = task("o1", 1, desired="shutdown", state="shutdown")
    result = plan(service(update={"Parallelism": 2}, status=updating()), emptied, *olds()[1:])
    assert ids(result.shutdown) == ["o2"]


@pytest.mark.parametrize("state", ["new", "pending", "assigned", "preparing", "starting"])
def test_a_new_task_coming_up_counts_as_busy(state):
    result = plan(service(update={"Parallelism": 2}, status=updating()), new("n1", 1, state=state), *olds()[1:])
    assert ids(result.shutdown) == ["o2"] and 1 not in result.claimed


def test_the_delay_keeps_a_slot_busy_after_its_new_task_came_up():
    svc = service(update={"Delay": 10 * SECOND, "Monitor": 0}, status=updating())
    tasks = [new("n1", 1, running_at=T0 - 4), *olds()[1:]]
    waiting = plan(svc, *tasks)
    assert waiting.shutdown == [] and waiting.wake_at == T0 + 6
    assert ids(plan(svc, *tasks, now=T0 + 6).shutdown) == ["o2"]


def test_the_running_status_time_stands_in_for_running_at():
    svc = service(update={"Delay": 10 * SECOND, "Monitor": 0}, status=updating())
    assert plan(svc, new("n1", 1, at=T0 - 4), *olds()[1:]).wake_at == T0 + 6


def test_a_dirty_task_on_a_lost_node_is_left_to_the_slot_reconciler():
    result = plan(service(status=updating()), task("o1", 1, node="gone"), *olds()[1:], node_lost=lost("gone"))
    assert 1 not in result.claimed and ids(result.shutdown) == ["o2"]


def test_a_dirty_task_that_ended_is_left_to_the_restart_policy_and_holds_completion():
    result = plan(service(status=updating()), task("o1", 1, state="failed"))
    assert result.claimed == set() and result.shutdown == [] and status_of(result) is None


# -- start-first ------------------------------------------------------------

def test_start_first_creates_the_new_task_beside_the_old_one():
    result = plan(service(update={"Order": "start-first", "Parallelism": 2}, status=updating()), *olds())
    assert result.create == [1, 2] and result.shutdown == [] and result.claimed == {1, 2}


@pytest.mark.parametrize("state", ["new", "pending", "starting"])
def test_start_first_keeps_the_old_task_until_the_new_one_runs(state):
    svc = service(update={"Order": "start-first"}, status=updating())
    result = plan(svc, task("o1", 1), new("n1", 1, state=state), *olds()[1:])
    assert result.claimed == {1} and result.shutdown == [] and result.create == []


def test_start_first_shuts_the_old_task_down_once_the_new_one_runs():
    svc = service(update={"Order": "start-first", "Parallelism": 2}, status=updating())
    result = plan(svc, task("o1", 1), new("n1", 1), *olds()[1:])
    assert result.claimed == {1, 2, 3} and ids(result.shutdown) == ["o1"] and result.create == [2, 3]


def test_start_first_gives_up_a_new_task_on_a_lost_node():
    svc = service(update={"Order": "start-first"}, status=updating())
    result = plan(svc, task("o1", 1), new("n1", 1, node="gone", state="assigned"), node_lost=lost("gone"))
    assert ids(result.shutdown) == ["n1"] and result.claimed == {1}


# -- monitoring and completion ----------------------------------------------

def test_the_update_completes_once_new_tasks_ran_for_the_monitor_period():
    svc = service(status=updating())
    tasks = [new(f"n{slot}", slot, running_at=T0 - 2) for slot in range(1, 5)]
    still = plan(svc, *tasks)
    assert status_of(still) is None and still.wake_at == T0 + 3
    done = status_of(plan(svc, *tasks, now=T0 + 3))
    assert done == {**updating(), "State": "completed", "Message": "update completed",
                    "CompletedAt": schema.format_time(T0 + 3)}


def test_a_rollback_completes_as_rollback_completed():
    svc = service(status={"State": "rollback_started", "Message": "manually requested rollback"})
    done = status_of(plan(svc, *[new(f"n{slot}", slot, running_at=T0 - 9) for slot in range(1, 5)]))
    assert done["State"] == "rollback_completed" and done["Message"] == "rollback completed"


def test_tasks_of_an_older_spec_version_are_not_watched():
    svc = service(status=updating())
    assert status_of(plan(svc, new("n1", 1, version=1, running_at=T0)))["State"] == "completed"


@pytest.mark.parametrize("state", ["failed", "rejected", "shutdown", "complete", "orphaned"])
def test_a_new_task_that_ends_before_running_is_a_failure_and_pauses(state):
    result = plan(service(status=updating()), new("n1", 1, state=state), *olds()[1:])
    status = status_of(result)
    assert status["State"] == "paused" and status["Shoal"]["Failed"] == ["n1"]
    assert status["Message"] == "update paused due to failure or early termination of task n1"
    assert result.shutdown == [], "a paused update starts no slot"


def test_a_failure_within_the_monitor_window_counts_a_later_one_does_not():
    svc = service(status=updating(), update={"Monitor": 5 * SECOND})
    early = new("n1", 1, state="failed", running_at=T0 - 10, at=T0 - 6)
    assert status_of(plan(svc, early))["State"] == "paused"
    late = new("n1", 1, state="failed", running_at=T0 - 10, at=T0 - 4)
    assert status_of(plan(svc, late, *olds()[1:])) is None


def test_failures_already_counted_or_no_longer_meant_to_run_are_not_counted_again():
    svc = service(status=updating(Shoal={"Failed": ["n1"]}), update={"FailureAction": "continue", "Parallelism": 2})
    result = plan(svc, new("n1", 1, state="failed"), new("n2", 2, state="failed", desired="shutdown"), *olds()[2:])
    assert status_of(result) is None and ids(result.shutdown) == ["o3"]


def test_continue_records_the_failure_and_goes_on():
    svc = service(status=updating(), update={"FailureAction": "continue"})
    result = plan(svc, new("n1", 1, state="failed"), *olds()[1:])
    assert status_of(result)["State"] == "updating" and status_of(result)["Shoal"]["Failed"] == ["n1"]
    assert ids(result.shutdown) == ["o2"]


def test_the_failure_ratio_is_over_the_slots_the_update_concerns():
    svc = service(status=updating(), update={"MaxFailureRatio": 0.5, "Parallelism": 0})
    one = plan(svc, new("n1", 1, state="failed"), *olds()[1:])
    assert status_of(one)["State"] == "updating" and status_of(one)["Shoal"]["Failed"] == ["n1"]
    three = plan(svc, *[new(f"n{slot}", slot, state="failed") for slot in (1, 2, 3)], task("o4", 4))
    assert status_of(three)["State"] == "paused"


def test_failure_action_rollback_swaps_the_specs_and_starts_a_rollback():
    svc = service(status=updating(), update={"FailureAction": "rollback"})
    result = plan(svc, new("n1", 1, state="failed"), *olds()[1:])
    changes = result.service_changes
    assert changes["Spec"]["TaskTemplate"] == OLD and changes["PreviousSpec"]["TaskTemplate"] == NEW
    assert changes["SpecVersion"] == {"Index": 3} and changes["PreviousSpecVersion"] == {"Index": 2}
    assert changes["UpdateStatus"] == {"State": "rollback_started", "StartedAt": schema.format_time(T0),
                                       "Message": "update rolled back due to failure or early termination of task n1"}
    assert result.shutdown == []


def test_failure_action_rollback_without_a_previous_spec_pauses():
    svc = service(status=updating(), update={"FailureAction": "rollback"}, previous=None)
    assert status_of(plan(svc, new("n1", 1, state="failed")))["State"] == "paused"


def test_a_rollback_follows_the_rollback_config_and_never_rolls_back():
    status = {"State": "rollback_started", "Message": "manually requested rollback"}
    svc = service(template=OLD, previous=NEW, version=3, status=status,
                  update={"Parallelism": 1, "FailureAction": "rollback"}, rollback={"Parallelism": 3})
    rolled = [task(f"x{slot}", slot, spec=NEW, version=2) for slot in range(1, 5)]
    assert ids(plan(svc, *rolled).shutdown) == ["x1", "x2", "x3"]
    failing = task("r1", 1, spec=OLD, version=3, state="failed")
    result = plan(svc, failing, *rolled[1:])
    assert status_of(result)["State"] == "rollback_paused" and "Spec" not in result.service_changes
    assert status_of(result)["Message"] == "rollback paused due to failure or early termination of task r1"


# -- paused and stepped updates ---------------------------------------------

@pytest.mark.parametrize("state", ["paused", "rollback_paused"])
def test_a_paused_update_starts_nothing_and_counts_nothing(state):
    svc = service(status={"State": state, "Message": "why"})
    result = plan(svc, new("n1", 1, state="failed"), *olds()[1:])
    assert result.shutdown == [] and result.service_changes == {}


def test_a_paused_update_still_finishes_the_slots_in_flight():
    svc = service(status={"State": "paused"}, update={"Order": "start-first"})
    result = plan(svc, task("o1", 1), new("n1", 1), task("o2", 2, desired="shutdown"), *olds()[2:])
    assert ids(result.shutdown) == ["o1"] and result.claimed == {1, 2}


def test_a_stepped_update_runs_one_batch_then_pauses():
    svc = service(status=updating(Shoal={"Step": True}), update={"Parallelism": 2, "Monitor": 0})
    first = plan(svc, *olds())
    assert ids(first.shutdown) == ["o1", "o2"] and status_of(first)["Shoal"] == {"Step": True, "StepTaken": True}
    svc["UpdateStatus"] = status_of(first)
    during = plan(svc, new("n1", 1, state="starting"), new("n2", 2, running_at=T0), *olds()[2:])
    assert during.shutdown == [] and during.service_changes == {}
    after = status_of(plan(svc, new("n1", 1, running_at=T0), new("n2", 2, running_at=T0), *olds()[2:]))
    assert after["State"] == "paused" and after["Shoal"] == {"Step": True}
    assert after["Message"] == "update paused after one step: 'shoal service update --continue' runs the next"


def test_a_stepped_update_whose_last_batch_is_done_completes():
    svc = service(status=updating(Shoal={"Step": True, "StepTaken": True}), update={"Monitor": 0})
    assert status_of(plan(svc, *[new(f"n{slot}", slot) for slot in range(1, 5)]))["State"] == "completed"


def test_a_new_stepped_update_keeps_its_step():
    status = status_of(plan(service(status={"Shoal": {"Step": True}}), *olds()))
    assert status["State"] == "updating" and status["Shoal"] == {"Step": True, "StepTaken": True}


# -- whole updates through reconcile and the store --------------------------

class Cluster(FakeWorkersCluster):
    """The store driven by reconcile, with fake workers that start and stop tasks at once."""

    def __init__(self, svc, replicas):
        # One node: the fake workers run every task on n1 (beside an empty second node, the rebalancer
        # would keep moving tasks the fakes put back on n1).
        nodes = {"n1": {"ID": "n1", "Spec": {"Role": "worker"}, "Status": {"State": "ready"}}}
        super().__init__({svc["ID"]: svc}, nodes, T0)

    def decide(self):
        decision = reconcile(self.view(), self.now, new_id=self.new_id)
        self.apply(decision.ops)
        return decision

    def work(self, fail=lambda t: False):
        """Every worker acts: tasks told to stop stop, new tasks run on n1 (or fail)."""
        super().work(fail, node_for=lambda task: "n1")

    def service(self):
        return self.store.tables["services"]["s1"]

    def live(self, spec):
        return [t for t in self.store.tables["tasks"].values()
                if t["DesiredState"] == "running" and t["Status"]["State"] == "running" and t["Spec"] == spec]

    def write_spec(self, template, **spec_fields):
        svc = self.service()
        spec = {**copy.deepcopy(svc["Spec"]), "TaskTemplate": template, **spec_fields}
        self.apply([{"op": "patch", "table": "services", "id": "s1", "set": {**spec_changes(svc, spec),
                                                                             "UpdateStatus": None}}])

    def run(self, steps=60, tick=1.0, fail=lambda t: False, watch=lambda: None):
        for _ in range(steps):
            self.decide()
            watch()
            self.work(fail)
            watch()
            self.now += tick


def started(replicas=4, update=None):
    svc = service(replicas=replicas, template=OLD, previous=None, version=1, update=update)
    cluster = Cluster(svc, replicas)
    cluster.run(steps=3)
    assert len(cluster.live(OLD)) == replicas
    return cluster


@pytest.mark.parametrize("order", ["stop-first", "start-first"])
def test_a_rolling_update_replaces_every_task_within_parallelism(order):
    cluster = started(6, update={"Parallelism": 2, "Order": order, "Monitor": 2 * SECOND})
    cluster.write_spec(NEW)
    lowest = []
    cluster.run(watch=lambda: lowest.append(len(cluster.live(OLD)) + len(cluster.live(NEW))))
    assert len(cluster.live(NEW)) == 6 and cluster.live(OLD) == []
    assert min(lowest) >= (6 if order == "start-first" else 4), "never more than Parallelism slots down at once"
    status = cluster.service()["UpdateStatus"]
    assert status["State"] == "completed" and status["Message"] == "update completed"
    assert {t["SpecVersion"]["Index"] for t in cluster.live(NEW)} == {2}


def test_a_failing_update_with_rollback_returns_to_the_previous_spec():
    cluster = started(3, update={"FailureAction": "rollback", "Monitor": 2 * SECOND})
    cluster.write_spec(NEW)
    cluster.run(fail=lambda t: t["Spec"] == NEW)
    assert len(cluster.live(OLD)) == 3
    status = cluster.service()["UpdateStatus"]
    assert status["State"] == "rollback_completed"
    assert cluster.service()["Spec"]["TaskTemplate"] == OLD and cluster.service()["SpecVersion"] == {"Index": 3}


def test_a_slot_ended_for_good_does_not_hold_an_update():
    cluster = started(2, update={"Monitor": 0})
    done = cluster.live(OLD)[0]
    cluster.apply([{"op": "patch", "table": "tasks", "id": done["ID"],
                    "set": {"Status": schema.task_status("complete", "done", cluster.now)}}])
    cluster.write_spec({**OLD, "RestartPolicy": {"Condition": "none"}})
    cluster.run(steps=6)
    assert len(cluster.live({**OLD, "RestartPolicy": {"Condition": "none"}})) == 1
    assert cluster.service()["UpdateStatus"]["State"] == "completed"


def test_a_failing_update_pauses_by_default_and_keeps_the_other_old_tasks():
    cluster = started(3)
    cluster.write_spec(NEW)
    cluster.run(steps=20, fail=lambda t: t["Spec"] == NEW)
    status = cluster.service()["UpdateStatus"]
    assert status["State"] == "paused" and status["Message"].startswith("update paused due to failure")
    assert len(cluster.live(OLD)) == 2


def test_a_replicas_change_makes_no_update():
    cluster = started(2)
    cluster.write_spec(OLD, Mode={"Replicated": {"Replicas": 3}})
    cluster.run(steps=5)
    assert len(cluster.live(OLD)) == 3 and cluster.service().get("UpdateStatus") is None


# -- every update state against every kind of slot ---------------------------

STATES = [None, "updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed"]
# (state before, slots all dirty and running) -> (state after, slots started)
DIRTY = {None: ("updating", 1), "updating": ("updating", 1), "paused": ("paused", 0), "completed": ("updating", 1),
         "rollback_started": ("rollback_started", 1), "rollback_paused": ("rollback_paused", 0),
         "rollback_completed": ("updating", 1)}
# (state before, every slot current and proven) -> state after
CLEAN = {None: None, "updating": "completed", "paused": "paused", "completed": "completed",
         "rollback_started": "rollback_completed", "rollback_paused": "rollback_paused",
         "rollback_completed": "rollback_completed"}
# (state before, a task of the current spec failed early, others dirty) -> state after: an update that
# starts counts the failures of its spec version at once
FAILED = {None: "paused", "updating": "paused", "paused": "paused", "completed": "paused",
          "rollback_started": "rollback_paused", "rollback_paused": "rollback_paused",
          "rollback_completed": "paused"}


def with_state(state):
    return service(status=None if state is None else {"State": state, "Message": "before"})


def state_after(svc, result):
    return (status_of(result) or svc.get("UpdateStatus") or {}).get("State")


@pytest.mark.parametrize("state", STATES)
def test_dirty_slots_in_every_state(state):
    svc = with_state(state)
    result = plan(svc, *olds())
    assert (state_after(svc, result), len(result.shutdown)) == DIRTY[state]


@pytest.mark.parametrize("state", STATES)
def test_current_slots_in_every_state(state):
    svc = with_state(state)
    result = plan(svc, *[new(f"n{slot}", slot, running_at=T0 - 60) for slot in range(1, 5)])
    assert state_after(svc, result) == CLEAN[state] and result.shutdown == [] and result.create == []


@pytest.mark.parametrize("state", STATES)
def test_an_early_failure_in_every_state(state):
    svc = with_state(state)
    result = plan(svc, new("n1", 1, state="failed"), *olds()[1:])
    assert state_after(svc, result) == FAILED[state]
    assert result.shutdown == [], "a paused update starts no slot"

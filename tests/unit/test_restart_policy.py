"""The restart policy's pure decisions, RestartPolicy.Window above all, and the window through reconcile."""

import pytest

from actors.orchestrator.reconcile import reconcile
from actors.orchestrator.restart import RestartPolicy
from tests.unit.test_orchestrator_core import SECOND, T0, Cluster, creates, ids, patched, service, task, view


def ended(attempt=0, restarts=None, state="failed", exit_code=None):
    the_task = task("a", state=state, attempt=attempt, exit_code=exit_code)
    if restarts is not None:
        the_task["Shoal"]["Restarts"] = restarts
    return the_task


def test_the_window_is_read_from_the_spec_in_nanoseconds():
    policy = RestartPolicy.of(service(restart={"MaxAttempts": 2, "Window": 30 * SECOND}))
    assert (policy.max_attempts, policy.window) == (2, 30.0)
    assert RestartPolicy.of(service()).window == 0.0


def test_without_a_window_every_restart_counts():
    policy = RestartPolicy(max_attempts=2)
    assert policy.refusal(ended(attempt=1), T0) is None
    assert policy.refusal(ended(attempt=2), T0) == "restart policy allows at most 2 attempts"
    assert policy.restarts_after(ended(attempt=1), T0) == []


@pytest.mark.parametrize("restarts,allowed", [
    ([], True), ([T0 - 5], True), ([T0 - 5, T0 - 1], False), ([T0 - 31, T0 - 1], True),
    ([T0 - 30, T0 - 29.5], True), ([T0 - 29.9, T0 - 1], False)])
def test_with_a_window_only_restarts_within_it_count(restarts, allowed):
    policy = RestartPolicy(max_attempts=2, window=30.0)
    refusal = policy.refusal(ended(attempt=50, restarts=restarts), T0)
    assert (refusal is None) == allowed
    if not allowed:
        assert refusal == "restart policy allows at most 2 attempts within 30s"


def test_a_restart_records_its_moment_keeping_only_those_that_may_still_count():
    policy = RestartPolicy(max_attempts=3, window=30.0)
    assert policy.restarts_after(ended(restarts=[T0 - 40, T0 - 20, T0 - 10]), T0) == [T0 - 20, T0 - 10, T0]
    assert policy.restarts_after(ended(restarts=[T0 - 3, T0 - 2, T0 - 1]), T0) == [T0 - 2, T0 - 1, T0]
    assert RestartPolicy(window=30.0).restarts_after(ended(), T0) == []  # no maximum: nothing to count


def test_the_condition_comes_before_the_window():
    assert RestartPolicy(condition="none", max_attempts=5, window=1.0).refusal(ended(), T0) == "restart policy is none"
    assert RestartPolicy(condition="on-failure", window=1.0).refusal(ended(state="complete", exit_code=0), T0) == \
        "task completed and restart policy is on-failure"


def test_reconcile_carries_the_restart_moments_from_task_to_task():
    decision = reconcile(view([service(restart={"MaxAttempts": 2, "Window": 60 * SECOND, "Delay": 0})],
                              [ended(attempt=4, restarts=[T0 - 100, T0 - 10])]), T0, new_id=ids())
    assert [t["Shoal"] for t in creates(decision)] == [{"Attempt": 5, "Restarts": [T0 - 10, T0]}]


def test_a_slot_failing_fast_is_stopped_then_a_slow_failer_restarts_forever():
    """MaxAttempts 2 within 10 s: failures 1 s apart end the slot after two restarts; failures 20 s
    apart never do."""
    def run(gap):
        cluster = Cluster(view([service(restart={"MaxAttempts": 2, "Window": 10 * SECOND, "Delay": 0})],
                               [task("first")]))
        now = T0
        for _ in range(6):
            now += gap
            live = cluster.tasks(DesiredState="running")
            if not live:
                break
            cluster.set(live[0]["ID"], **{"Status.State": "failed"})
            cluster.settle(now)
        return cluster.tasks()

    fast = run(1.0)
    assert [t["Shoal"]["Attempt"] for t in fast] == [0, 1, 2]
    assert fast[-1]["Shoal"]["RestartRefused"] == "restart policy allows at most 2 attempts within 10s"
    slow = run(20.0)
    assert (slow[-1]["Shoal"]["Attempt"], slow[-1]["DesiredState"]) == (6, "running")


def test_a_drained_node_moves_the_task_without_counting_a_restart():
    tasks = [task("a", attempt=1)]
    tasks[0]["Shoal"]["Restarts"] = [T0 - 1]
    the_view = view([service(restart={"MaxAttempts": 1, "Window": 60 * SECOND})], tasks,
                    nodes=[{"ID": "n1", "Status": {"State": "ready"}, "Spec": {"Availability": "drain"}}])
    decision = reconcile(the_view, T0, new_id=ids())
    assert patched(decision) == {"a": {"DesiredState": "shutdown"}}
    assert [t["Shoal"] for t in creates(decision)] == [{"Attempt": 1, "Restarts": [T0 - 1]}]

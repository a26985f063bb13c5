"""Jobs in the orchestrator's pure core (replicated-job, global-job) and their service ls progress."""

import pytest

from actors.cli.service import service_row
from actors.common import jobs
from actors.common.servicestatus import service_rows
from actors.orchestrator.reconcile import reconcile
from tests.unit.test_orchestrator_core import SECOND, T0, Cluster, creates, ids, patched, service, task, view
from tests.unit.test_orchestrator_nodes import node


def replicated_job(concurrent=None, total=None, iteration=0, restart=None):
    mode = {key: value for key, value in (("MaxConcurrent", concurrent), ("TotalCompletions", total)) if value}
    the_service = service(mode={"ReplicatedJob": mode}, restart=restart)
    the_service["JobStatus"] = {"JobIteration": {"Index": iteration}}
    return the_service


def global_job(iteration=0):
    the_service = service(mode={"GlobalJob": {}})
    the_service["JobStatus"] = {"JobIteration": {"Index": iteration}}
    return the_service


def job_task(task_id, slot=1, iteration=0, state="running", exit_code=None, **fields):
    the_task = task(task_id, slot=slot, state=state, exit_code=exit_code, **fields)
    the_task["JobIteration"] = {"Index": iteration}
    return the_task


def done(task_id, slot=1, **fields):
    return job_task(task_id, slot=slot, state="complete", exit_code=0, **fields)


def finish_all_running(cluster, exit_code=0):
    for the_task in cluster.tasks(DesiredState="running"):
        if the_task["Status"]["State"] != "complete":
            cluster.set(the_task["ID"], **{"Status.State": "complete" if exit_code == 0 else "failed",
                                           "Status.ContainerStatus": {"ExitCode": exit_code}})


# -- replicated jobs -------------------------------------------------------------------------

def test_a_replicated_job_starts_max_concurrent_tasks_of_its_iteration():
    made = creates(reconcile(view([replicated_job(concurrent=2, total=5, iteration=3)]), T0, new_id=ids()))
    assert [(t["Slot"], t["JobIteration"]) for t in made] == [(1, {"Index": 3}), (2, {"Index": 3})]
    assert all(t["NodeID"] == "" and t["DesiredState"] == "running" for t in made)


def test_the_defaults_run_one_task_once():
    assert [t["Slot"] for t in creates(reconcile(view([replicated_job()]), T0, new_id=ids()))] == [1]


def test_a_completed_slot_makes_room_for_the_next_and_is_never_restarted():
    tasks = [done("a", slot=1), job_task("b", slot=2)]
    decision = reconcile(view([replicated_job(concurrent=2, total=5, restart={"Condition": "any", "Delay": 0})],
                              tasks), T0, new_id=ids())
    assert [t["Slot"] for t in creates(decision)] == [3] and patched(decision) == {}


def test_a_failed_job_task_is_retried_under_the_restart_policy():
    tasks = [job_task("a", state="failed", exit_code=1, at=T0)]
    the_view = view([replicated_job(restart={"Delay": 5 * SECOND})], tasks)
    assert reconcile(the_view, T0 + 1).wake_at == T0 + 5
    due = reconcile(the_view, T0 + 5, new_id=ids())
    assert patched(due) == {"a": {"DesiredState": "shutdown"}}
    assert [(t["Slot"], t["Shoal"]["Attempt"], t["JobIteration"]) for t in creates(due)] == [(1, 1, {"Index": 0})]


def test_a_job_slot_the_policy_gives_up_on_is_finished_and_frees_its_place():
    tasks = [job_task("a", state="failed", exit_code=1)]
    the_view = view([replicated_job(total=2, restart={"MaxAttempts": 0, "Condition": "none"})], tasks)
    cluster = Cluster(the_view)
    cluster.settle(T0)
    assert [(t["Slot"], t["DesiredState"]) for t in cluster.tasks()] == [(1, "shutdown"), (2, "running")]
    assert cluster.tasks(ID="a")[0]["Shoal"]["RestartRefused"] == "restart policy is none"


def test_a_replicated_job_runs_to_its_total_completions_and_stops():
    cluster = Cluster(view([replicated_job(concurrent=2, total=5)]))
    rounds = 0
    while True:
        cluster.settle(T0)
        if not cluster.tasks(DesiredState="running", Status__State="new"):
            break
        finish_all_running(cluster)
        rounds += 1
    assert rounds == 3
    assert sorted(t["Slot"] for t in cluster.tasks()) == [1, 2, 3, 4, 5]
    assert all(jobs.completed(t) for t in cluster.tasks())
    assert cluster.step(T0 + 3600).ops == []


def test_a_completed_job_task_stays_on_a_drained_node_and_a_running_one_moves():
    tasks = [done("a", slot=1, node="n1"), job_task("b", slot=2, node="n1")]
    decision = reconcile(view([replicated_job(concurrent=2, total=2)], tasks,
                              nodes=[node("n1", availability="drain")]), T0, new_id=ids())
    assert patched(decision) == {"b": {"DesiredState": "shutdown"}}
    assert [(t["Slot"], t["NodeID"]) for t in creates(decision)] == [(2, "")]


def test_a_new_iteration_shuts_the_old_one_down_and_starts_over():
    tasks = [done("a", slot=1), job_task("b", slot=2)]
    decision = reconcile(view([replicated_job(concurrent=2, total=2, iteration=1)], tasks), T0, new_id=ids())
    assert patched(decision) == {"a": {"DesiredState": "shutdown"}, "b": {"DesiredState": "shutdown"}}
    assert [(t["Slot"], t["JobIteration"]["Index"]) for t in creates(decision)] == [(1, 1), (2, 1)]


# -- global jobs -------------------------------------------------------------------------------

def test_a_global_job_runs_once_on_every_node_that_takes_tasks():
    nodes = [node("n1"), node("n2"), node("n3", availability="pause")]
    made = creates(reconcile(view([global_job(iteration=2)], nodes=nodes), T0, new_id=ids()))
    assert sorted((t["NodeID"], t["Slot"], t["JobIteration"]["Index"]) for t in made) == [("n1", 0, 2), ("n2", 0, 2)]


def test_a_global_job_is_not_rerun_where_it_completed_but_runs_on_a_node_that_joins():
    cluster = Cluster(view([global_job()], nodes=[node("n1")]))
    cluster.settle(T0)
    finish_all_running(cluster)
    assert cluster.step(T0).ops == []
    cluster.store.tables["nodes"]["n2"] = node("n2")
    cluster.settle(T0)
    assert sorted((t["NodeID"], t["Status"]["State"]) for t in cluster.tasks()) == [("n1", "complete"), ("n2", "new")]


def test_a_failed_global_job_task_is_retried_on_its_node():
    tasks = [job_task("a", slot=0, node="n1", state="failed", exit_code=2)]
    decision = reconcile(view([global_job()], tasks, nodes=[node("n1")]), T0 + 60, new_id=ids())
    assert [(t["NodeID"], t["Shoal"]["Attempt"]) for t in creates(decision)] == [("n1", 1)]


def test_a_global_job_task_leaves_a_drained_node_unless_it_completed():
    tasks = [job_task("a", slot=0, node="n1"), done("b", slot=0, node="n2")]
    nodes = [node("n1", availability="drain"), node("n2", availability="drain")]
    decision = reconcile(view([global_job()], tasks, nodes=nodes), T0, new_id=ids())
    assert patched(decision) == {"a": {"DesiredState": "shutdown"}} and creates(decision) == []


# -- service ls ---------------------------------------------------------------------------------

def test_service_ls_shows_a_replicated_jobs_progress():
    tasks = [done("a", slot=1), done("b", slot=2), done("c", slot=3), job_task("d", slot=4), job_task("e", slot=5),
             done("old", slot=1, iteration=0)]
    the_service = replicated_job(concurrent=2, total=10, iteration=1)
    for the_task in tasks[:5]:
        the_task["JobIteration"] = {"Index": 1}
    [row] = service_rows([the_service], tasks)
    assert (row["running"], row["desired"], row["completed"], row["total"]) == (2, 2, 3, 10)


def test_service_ls_shows_a_global_jobs_progress_and_a_global_services_nodes():
    tasks = [done("a", slot=0, node="n1"), job_task("b", slot=0, node="n2", state="pending")]
    [row] = service_rows([global_job()], tasks)
    assert (row["running"], row["desired"], row["completed"], row["total"]) == (0, 1, 1, 2)
    the_global = service(service_id="g", name="g", mode={"Global": {}})
    tasks = [task("x", slot=0, node="n1", service_id="g"),
             task("y", slot=0, node="n2", service_id="g", state="pending"),
             task("z", slot=0, node="n3", service_id="g", desired="shutdown")]
    [row] = service_rows([the_global], tasks)
    assert (row["running"], row["desired"]) == (1, 2) and "completed" not in row


@pytest.mark.parametrize("replicas", [0, 3])
def test_service_ls_rows_of_replicated_services_are_unchanged(replicas):
    rows = service_rows([service(replicas=replicas)], [task("a"), task("b", state="pending")])
    assert rows == [{"service": service(replicas=replicas), "running": 1, "desired": replicas}]


def test_the_cli_prints_a_jobs_progress_as_docker_does():
    [row] = service_rows([replicated_job(concurrent=2, total=10)],
                         [done("a", slot=1), done("b", slot=2), done("c", slot=3), job_task("d", slot=4)])
    printed = service_row(row)
    assert (printed["Mode"], printed["Replicas"]) == ("replicated job", "1/1 (3/10 completed)")
    [row] = service_rows([service(replicas=3)], [task("a")])
    assert (service_row(row)["Mode"], service_row(row)["Replicas"]) == ("replicated", "1/3")

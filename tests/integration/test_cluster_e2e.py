"""End to end: real CLI, real actor processes over CURVE ZeroMQ, real Docker containers."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.cluster import IMAGE, Cluster, containers, metric, metrics_page, running_count, tasks, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.init_manager()
        yield cluster
    finally:
        cluster.teardown()


@pytest.fixture
def manager(cluster):
    return cluster.hosts[0]


def test_init_made_a_ready_manager_that_is_also_a_worker(manager):
    nodes = manager.shoal("node", "ls").stdout
    assert "Ready" in nodes and "Active" in nodes and "Leader" in nodes
    me = manager.json("node", "inspect", "self")[0]
    assert me["ID"] == manager.node_id
    assert me["Spec"]["Role"] == "manager" and me["Status"]["State"] == "ready"
    assert me["Description"]["Hostname"]


def test_service_lifecycle_create_scale_inspect_remove(manager):
    # Killed at once when scaled down or removed: sleep, as PID 1, ignores SIGTERM until Docker's 10 s grace ends.
    out = manager.shoal("service", "create", "--name", "life", "--replicas", "3", "--env", "A=1",
                        "--label", "team=core", "--stop-grace-period", "0s", IMAGE, "sleep", "1000")
    assert "verify: Service converged" in out.stdout
    assert running_count(manager, "life") == 3
    running = containers("life")
    assert len(running) == 3
    labels = running[0].labels
    assert labels["shoal.service.name"] == "life" and labels["shoal.node.id"] == manager.node_id
    assert labels["shoal.task.id"] in {task["ID"] for task in tasks(manager, "life")}
    assert "A=1" in running[0].attrs["Config"]["Env"]

    listing = manager.shoal("service", "ls").stdout
    assert "life" in listing and "3/3" in listing
    service = manager.json("service", "inspect", "life")[0]
    assert service["Spec"]["Name"] == "life" and service["Spec"]["Labels"] == {"team": "core"}
    assert service["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == IMAGE
    assert service["Version"]["Index"] > 0 and service["CreatedAt"].endswith("Z")

    scaled = metric(manager, "orchestrator", 'shoal_service_converge_seconds_count{kind="scale"}')
    manager.shoal("service", "scale", "life=5")
    assert running_count(manager, "life") == 5
    wait_until(lambda: len(containers("life")) == 5, 20, what="5 containers")
    # The reconciliation metrics saw it: tasks by state, the scale timed once it ran, every task's wait placed.
    wait_until(lambda: metric(manager, "orchestrator", 'shoal_service_tasks{service="life",state="running"}') == 5,
               10, what="5 running tasks counted")
    assert metric(manager, "orchestrator", 'shoal_service_tasks{service="life",state="failed"}') == 0
    wait_until(lambda: metric(manager, "orchestrator", 'shoal_service_converge_seconds_count{kind="scale"}')
               == scaled + 1, 10, what="the scale timed")
    assert metric(manager, "orchestrator", 'shoal_service_converge_seconds_count{kind="create"}') >= 1
    assert metric(manager, "scheduler", 'shoal_scheduler_pending_seconds_count{controller="scheduler"}') >= 5
    assert metric(manager, "scheduler", 'shoal_scheduler_pending_tasks{controller="scheduler"}') == 0
    # The queues' peaks show the burst the scrape missed: proposals and status reports waited (the levels are
    # back to 0 by now; they were only ever 0 before).
    assert metric(manager, "raft", "shoal_raft_pending_proposals_peak") >= 1
    assert metric(manager, "dispatcher", "shoal_dispatcher_status_queue_peak") >= 1
    manager.shoal("service", "scale", "life=2")
    wait_until(lambda: len(containers("life")) == 2, 30, what="scale down to 2 containers")
    ps = manager.shoal("service", "ps", "life").stdout
    assert "life.1" in ps and "life.2" in ps

    manager.shoal("service", "rm", "life")
    wait_until(lambda: not containers("life", running_only=False), 30, what="containers removed")
    assert manager.shoal("service", "inspect", "life", check=False).returncode == 1


def test_killed_container_is_replaced_and_stays_in_history_as_failed(manager):
    manager.shoal("service", "create", "--name", "phoenix", "--replicas", "1", "--restart-delay", "0", IMAGE, "sleep", "1000")
    victim = containers("phoenix")[0]
    victim.kill()
    wait_until(lambda: any(c.id != victim.id for c in containers("phoenix")), 20, what="a replacement container")
    history = tasks(manager, "phoenix")
    states = sorted((task["DesiredState"], task["Status"]["State"]) for task in history)
    assert ("running", "running") in states
    assert ("shutdown", "failed") in states
    ps = manager.shoal("service", "ps", "phoenix").stdout
    assert "Failed" in ps and "\\_ phoenix.1" in ps
    # Counted as a failure by its reason (a kill: exit 137), and by state.
    wait_until(lambda: metric(manager, "orchestrator",
                              'shoal_task_failures_total{reason="nonzero_exit",service="phoenix"}') == 1,
               10, what="the failure counted")
    assert metric(manager, "orchestrator", 'shoal_task_failures_total{reason="rejected",service="phoenix"}') == 0
    assert metric(manager, "orchestrator", 'shoal_service_tasks{service="phoenix",state="failed"}') == 1
    manager.shoal("service", "rm", "phoenix")


def test_restart_condition_none_leaves_a_killed_task_dead(manager):
    manager.shoal("service", "create", "--name", "once", "--replicas", "1", "--restart-condition", "none", IMAGE,
                  "sh", "-c", "echo started; exec sleep 1000")
    containers("once")[0].kill()
    wait_until(lambda: any(t["Status"]["State"] == "failed" for t in tasks(manager, "once")), 20, what="failed task")
    import time
    time.sleep(1.5)
    assert len(tasks(manager, "once")) == 1 and not containers("once")
    manager.shoal("service", "rm", "once")


def test_an_image_that_does_not_exist_rejects_the_task_with_the_engines_message(manager):
    result = manager.shoal("service", "create", "--name", "ghost", "--detach", "nosuch-image:latest", "true")
    assert result.returncode == 0
    rejected = wait_until(lambda: [t for t in tasks(manager, "ghost") if t["Status"]["State"] == "rejected"], 30,
                          what="a rejected task")
    assert "nosuch-image" in rejected[0]["Status"]["Err"]
    assert "No such image" in manager.shoal("service", "ps", "ghost", "--no-trunc").stdout
    manager.shoal("service", "rm", "ghost")


@pytest.mark.parametrize("args, message", [
    (("service", "inspect", "nope"), "nope"),
    (("service", "rm", "nope"), "nope"),
    (("service", "scale", "nope=2"), "nope"),
    (("node", "inspect", "nope"), "nope"),
    (("service", "create", "--replicas", "-1", IMAGE), "replicas"),
    (("service", "create", "--restart-condition", "sometimes", IMAGE), "sometimes"),
    (("service", "create", "--restart-delay", "soon", IMAGE), "soon"),
])
def test_bad_requests_get_one_line_and_a_non_zero_exit(manager, args, message):
    result = manager.shoal(*args, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_duplicate_service_name_and_second_init_are_refused(manager):
    manager.shoal("service", "create", "--name", "dup", "--detach", IMAGE, "sleep", "1000")
    result = manager.shoal("service", "create", "--name", "dup", "--detach", IMAGE, "sleep", "1000", check=False)
    assert result.returncode == 1 and "dup" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    again = manager.shoal("swarm", "init", "--advertise-addr", f"127.0.0.1:{manager.port}", check=False)
    assert again.returncode == 1 and "already part of a swarm" in again.stderr
    manager.shoal("service", "rm", "dup")


def test_join_with_a_wrong_token_is_refused(cluster, tmp_path):
    from tests.integration.cluster import Host, free_base_port
    manager = cluster.hosts[0]
    token = manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
    forged = token[:-5] + ("aaaaa" if not token.endswith("aaaaa") else "bbbbb")
    stranger = Host(tmp_path / "stranger", free_base_port())
    result = stranger.shoal("swarm", "join", "--token", forged, "--listen-addr", f"127.0.0.1:{stranger.port}",
                            f"127.0.0.1:{manager.port}", check=False)
    assert result.returncode == 1 and "token" in result.stderr.lower()
    assert not (stranger.state_dir / "host.json").exists()


def test_every_manager_actor_and_shoald_export_metrics_that_promtool_finds_well_formed(manager):
    expected = {"raft": "shoal_raft_leader_changes_total 1.0", "orchestrator": 'shoal_nodes{availability="active",'
                'role="manager",state="ready"} 1.0', "allocator": "shoal_reconcile_passes_total",
                "scheduler": "shoal_reconcile_passes_total", "dispatcher": "shoal_dispatcher_status_queue_peak",
                "executor": "shoal_executor_heartbeats_total", "controlapi": "shoal_controlapi",
                "shoald": 'shoal_actor_restarts_total{actor="raft"} 0.0'}
    # Labelled counters whose label values are known start at 0 (the first event then shows in rate()).
    assert 'shoal_controller_proposal_errors_total{code="fenced",controller="orchestrator"} 0.0' \
        in metrics_page(manager, "orchestrator")
    assert 'shoal_executor_heartbeats_total{outcome="timeout"} 0.0' in metrics_page(manager, "executor")
    for actor, sample in expected.items():
        page = metrics_page(manager, actor)
        assert sample in page, (actor, sample)
        check = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True, text=True)
        assert check.returncode == 0, (actor, check.stdout + check.stderr)


def test_kill_9_of_every_process_then_restart_keeps_services_and_adopts_containers(manager):
    manager.shoal("service", "create", "--name", "durable", "--replicas", "2", IMAGE, "sleep", "1000")
    before = {c.id for c in containers("durable")}
    task_ids = {t["ID"] for t in tasks(manager, "durable")}
    manager.kill9()
    manager.start_daemon()
    wait_until(lambda: manager.shoal("service", "ls", check=False).returncode == 0, 30, what="the cluster to answer")
    wait_until(lambda: running_count(manager, "durable") == 2, 30, what="tasks running again")
    assert {t["ID"] for t in tasks(manager, "durable")} == task_ids
    import time
    time.sleep(2)
    assert {c.id for c in containers("durable")} == before
    manager.shoal("service", "rm", "durable")


def test_stopped_cluster_gives_a_clear_error(cluster, manager):
    manager.kill9()
    result = manager.shoal("service", "ls", check=False)
    manager.start_daemon()
    assert result.returncode == 1 and "cannot reach" in result.stderr
    wait_until(lambda: manager.shoal("service", "ls", check=False).returncode == 0, 30, what="the cluster to answer")


def test_a_port_is_published_in_ingress_mode_by_default_and_in_host_mode_when_asked(manager):
    """-p 28080:80 goes through the routing mesh (tests/integration/test_executor_cluster.py shows it answer)."""
    manager.shoal("service", "create", "--name", "h5-web80", "--detach", "-p", "28080:80",
                  "-p", "mode=host,published=28081,target=81", IMAGE, "sleep", "1000")
    ports = manager.json("service", "inspect", "h5-web80")[0]["Spec"]["EndpointSpec"]["Ports"]
    assert [(p["PublishMode"], p["PublishedPort"], p["TargetPort"]) for p in ports] == [
        ("ingress", 28080, 80), ("host", 28081, 81)]
    manager.shoal("service", "rm", "h5-web80")


def test_a_crashed_actor_is_restarted_by_shoald(manager):
    import os
    import signal

    def scheduler_pid():
        for pid in manager.pids():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if b"scheduler" in cmdline:
                return pid
        return None

    first = wait_until(scheduler_pid, 10, what="the scheduler process")
    restarts = metric(manager, "shoald", 'shoal_actor_restarts_total{actor="scheduler"}')
    os.kill(first, signal.SIGKILL)
    second = wait_until(lambda: (pid := scheduler_pid()) not in (None, first) and pid, 15, what="a new scheduler")
    assert second != first
    assert metric(manager, "shoald", 'shoal_actor_restarts_total{actor="scheduler"}') == restarts + 1
    assert metric(manager, "shoald", 'shoal_actor_up{actor="scheduler"}') == 1
    manager.shoal("service", "create", "--name", "after-crash", "--replicas", "1", IMAGE, "sleep", "1000")
    manager.shoal("service", "rm", "after-crash")

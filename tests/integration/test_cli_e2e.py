"""The CLI on three real hosts: spec flags seen in the containers, update progress, rollback, node ps,
--format, --filter, -q and --pretty, as a user runs them."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.cluster import IMAGE, containers, resolved, running_cluster, running_count, wait_until
from tests.integration.largestore import metric

# Stops at once on SIGTERM (a plain sleep as PID 1 ignores it until the grace period ends).
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    with running_cluster(tmp_path_factory.mktemp("cli")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def manager(cluster):
    return cluster.hosts[0]


@pytest.fixture(scope="module")
def flagged(manager):
    """h5-flags: two replicas made with many flags, on the workers only."""
    out = manager.shoal("service", "create", "--name", "h5-flags", "--replicas", "2", "-e", "A=1", "--label", "team=cli",
                        "--container-label", "c=1", "--constraint", "node.role==worker", "--limit-memory", "64M",
                        "--mount", "type=tmpfs,target=/scratch", "--hostname", "{{.Service.Name}}-{{.Task.Slot}}",
                        "--workdir", "/tmp", "--update-parallelism", "2", "--update-monitor", "1s",
                        "--restart-condition", "on-failure", "--host", "db:10.0.0.2", IMAGE, *SERVE).stdout
    assert out.rstrip().endswith("verify: Service converged")
    return manager.json("service", "inspect", "h5-flags")[0]


def test_create_flags_reach_the_spec_and_the_containers(manager, cluster, flagged):
    spec = flagged["Spec"]
    assert spec["Labels"] == {"team": "cli"} and spec["UpdateConfig"]["Parallelism"] == 2
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.role==worker"]
    running = containers("h5-flags")
    assert len(running) == 2
    workers = {host.node_id for host in cluster.hosts[1:]}
    assert {c.labels["shoal.node.id"] for c in running} <= workers
    for container in running:
        attrs = container.attrs
        assert "A=1" in attrs["Config"]["Env"] and attrs["Config"]["Labels"]["c"] == "1"
        assert attrs["HostConfig"]["Memory"] == 64 << 20 and attrs["Config"]["WorkingDir"] == "/tmp"
        assert "/scratch" in (attrs["HostConfig"].get("Tmpfs") or {}) or any(
            m.get("Target") == "/scratch" for m in attrs["HostConfig"].get("Mounts") or [])
        assert container.exec_run(["hostname"]).output.decode().strip().startswith("h5-flags-")
        assert "10.0.0.2\tdb" in container.exec_run(["cat", "/etc/hosts"]).output.decode()


def test_inspect_format_and_pretty(manager, flagged):
    out = manager.shoal("service", "inspect", "--format", "{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} "
                        "{{json .Spec.Labels}}", "h5-flags").stdout
    assert out.strip() == 'h5-flags 2 {"team": "cli"}'
    pretty = manager.shoal("service", "inspect", "--pretty", "h5-flags").stdout
    for line in ("Name:", "Replicas:", "Constraints:", "Memory:"):
        assert line in pretty
    assert "64MiB" in pretty and "[node.role==worker]" in pretty
    bad = manager.shoal("service", "inspect", "--format", "{{upper .Spec.Name}}", "h5-flags", check=False)
    assert bad.returncode != 0 and "unsupported action" in bad.stderr and bad.stderr.count("\n") == 1


def test_ls_and_ps_with_format_filter_and_quiet(manager, flagged):
    manager.shoal("service", "create", "--name", "h5-other", "--detach", "--replicas", "0", IMAGE, *SERVE)
    out = manager.shoal("service", "ls", "--filter", "name=h5-flags", "--format", "{{.Name}} {{.Mode}} {{.Replicas}}").stdout
    assert out.strip() == "h5-flags replicated 2/2"
    assert manager.shoal("service", "ls", "-q", "--filter", "name=h5-oth").stdout.split() == [
        manager.json("service", "inspect", "h5-other")[0]["ID"][:12]]
    assert manager.shoal("service", "ls", "-q", "--filter", "mode=global").stdout.split() == []
    assert manager.shoal("service", "ls", "--filter", "label=team=cli", "--format", "{{.Name}}").stdout.split() == ["h5-flags"]
    table = manager.shoal("service", "ps", "h5-flags", "--format", "table {{.Name}}\\t{{.DesiredState}}").stdout.splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "STATE"] and all(line.split()[-1] == "Running" for line in table[1:])
    ids = manager.shoal("service", "ps", "-q", "--filter", "desired-state=running", "h5-flags").stdout.split()
    assert len(ids) == 2 and all(len(i) == 12 for i in ids)
    refused = manager.shoal("service", "ls", "--filter", "colour=red", check=False)
    assert refused.returncode != 0 and "invalid filter 'colour'" in refused.stderr
    manager.shoal("service", "rm", "h5-other")


def test_node_ps_filters_and_labels(manager, cluster, flagged):
    worker = cluster.hosts[1]
    tasks_there = manager.shoal("node", "ps", worker.node_id, "--format", "{{.Name}} {{.Node}} {{.CurrentState}}").stdout
    names = [line.split()[0] for line in tasks_there.splitlines()]
    assert names and all(name.startswith("h5-flags.") for name in names)
    assert manager.shoal("node", "ps", "--filter", "name=h5-flags", "-q").stdout.split() == []  # none on the manager
    assert set(manager.shoal("node", "ls", "-q", "--filter", "role=worker").stdout.split()) == {
        h.node_id for h in cluster.hosts[1:]}
    manager.shoal("node", "update", "--label-add", "zone=a", "--label-add", "disk=ssd", worker.node_id)
    manager.shoal("node", "update", "--label-rm", "disk", worker.node_id)
    assert manager.shoal("node", "inspect", "-f", "{{json .Spec.Labels}}", worker.node_id).stdout.strip() == '{"zone": "a"}'
    assert manager.shoal("node", "ls", "-q", "--filter", "node.label=zone=a").stdout.split() == [worker.node_id]
    assert " - zone=a" in manager.shoal("node", "inspect", "--pretty", worker.node_id).stdout
    missing = manager.shoal("node", "update", "--label-rm", "nope", worker.node_id, check=False)
    assert missing.returncode != 0 and "key nope doesn't exist" in missing.stderr


def test_update_shows_progress_then_rollback_restores(manager, flagged):
    before = {c.id for c in containers("h5-flags")}
    out = manager.shoal("service", "update", "--env-add", "A=2", "--env-add", "B=3", "h5-flags").stdout
    lines = out.splitlines()
    assert lines[0] == "h5-flags" and "overall progress: 2 out of 2 tasks" in lines
    assert lines[-1] == "verify: Service converged"
    running = containers("h5-flags")
    assert not before & {c.id for c in running}
    assert all({"A=2", "B=3"} <= set(c.attrs["Config"]["Env"]) for c in running)
    rolled = manager.shoal("service", "rollback", "h5-flags").stdout
    assert "rolling back update: 2 out of 2 tasks" in rolled and rolled.rstrip().endswith("verify: Service converged")
    assert all("A=1" in c.attrs["Config"]["Env"] and "B=3" not in c.attrs["Config"]["Env"]
               for c in containers("h5-flags"))


def test_a_failing_update_exits_non_zero_with_the_reason(manager, flagged):
    result = manager.shoal("service", "update", "--image", "shoal-test:h5-missing", "--update-failure-action", "pause",
                           "h5-flags", check=False)
    assert result.returncode == 1 and "service update paused: update paused due to failure" in result.stderr
    status = json.loads(manager.shoal("service", "inspect", "-f", "{{json .UpdateStatus}}", "h5-flags").stdout)
    assert status["State"] == "paused"
    quiet = manager.shoal("service", "update", "-q", "--image", IMAGE, "h5-flags")
    assert quiet.stdout.strip() == "h5-flags"  # -q waits, and prints nothing but the service
    assert {c.attrs["Config"]["Image"] for c in containers("h5-flags")} == {IMAGE}


def test_restart_replaces_every_container_and_a_stepped_update_waits_for_continue(manager, flagged):
    before = {c.id for c in containers("h5-flags")}
    out = manager.shoal("service", "restart", "h5-flags").stdout
    assert out.rstrip().endswith("verify: Service converged")
    assert not before & {c.id for c in containers("h5-flags")}
    stepped = manager.shoal("service", "update", "--update-step", "--update-parallelism", "1", "--env-add", "S=1",
                            "h5-flags").stdout
    assert "update paused after one step" in stepped and "overall progress: 1 out of 2 tasks" in stepped
    assert sorted("S=1" in c.attrs["Config"]["Env"] for c in containers("h5-flags")) == [False, True]
    assert manager.shoal("service", "update", "--continue", "h5-flags").stdout.rstrip().endswith(
        "verify: Service converged")
    assert all("S=1" in c.attrs["Config"]["Env"] for c in containers("h5-flags"))


def test_swarm_update_sets_the_heartbeat_period_the_nodes_follow(manager):
    """h1: --dispatcher-heartbeat reaches the cluster's spec and the executors' pace; bad values are refused."""
    for flag, value in (("--dispatcher-heartbeat", "10ms"), ("--dispatcher-heartbeat", "5x"),
                        ("--task-history-limit", "-1")):
        refused = manager.shoal("swarm", "update", flag, value, check=False)
        assert refused.returncode != 0 and "Invalid value" in refused.stderr
    beats = lambda: metric(manager, "dispatcher", "shoal_dispatcher_heartbeats_total")  # noqa: E731
    try:
        assert manager.shoal("swarm", "update", "--dispatcher-heartbeat", "2s", "--task-history-limit", "3"
                             ).stdout.strip() == "Swarm updated."
        spec = manager.json("swarm", "inspect")[0]["Spec"]
        assert spec["Dispatcher"]["HeartbeatPeriod"] == 2_000_000_000
        assert spec["Orchestration"]["TaskHistoryRetentionLimit"] == 3
        time.sleep(0.5)  # every node's next reply hands it the new period
        first = beats()
        time.sleep(3)
        # 3 nodes at 250 ms would send 36; at 2 s (plus jitter) at most 2 each, and one in flight
        assert beats() - first <= 9
    finally:
        manager.shoal("swarm", "update", "--dispatcher-heartbeat", "250ms", "--task-history-limit", "5")


def test_networks_create_attach_inspect_and_refuse_removal_while_used(manager):
    """h1: network create/ls/inspect/rm/prune, and a service attached by name with an alias, as a user sees them."""
    front = manager.shoal("network", "create", "h1-front").stdout.strip()
    manager.shoal("network", "create", "--subnet", "10.66.0.0/24", "--label", "team=h1", "h1-back")
    clash = manager.shoal("network", "create", "--subnet", "10.66.0.128/25", "h1-clash", check=False)
    assert clash.returncode != 0 and "overlaps subnet 10.66.0.0/24 of network h1-back" in clash.stderr
    assert clash.stderr.count("\n") == 1
    rows = manager.shoal("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout.split("\n")
    assert {"h1-front overlay swarm", "h1-back overlay swarm", "ingress overlay swarm"} <= set(rows)
    assert manager.shoal("network", "ls", "-q", "--filter", "label=team=h1").stdout.split() == [
        manager.json("network", "inspect", "h1-back")[0]["ID"][:12]]
    out = manager.shoal("service", "create", "--name", "h1-netsvc", "--replicas", "2", "--network", "h1-front",
                        "--network", "name=h1-back,alias=h1-db", IMAGE, *SERVE).stdout
    assert out.rstrip().endswith("verify: Service converged")
    service = manager.json("service", "inspect", "h1-netsvc")[0]
    back = manager.json("network", "inspect", "h1-back")[0]
    assert [n["Target"] for n in service["Spec"]["TaskTemplate"]["Networks"]] == [front, back["ID"]]
    vips = {vip["NetworkID"]: vip["Addr"] for vip in service["Endpoint"]["VirtualIPs"]}
    assert set(vips) == {front, back["ID"]} and vips[back["ID"]].startswith("10.66.0.")
    attached = back["Services"]["h1-netsvc"]
    assert attached["VIP"] == vips[back["ID"]].split("/")[0]
    addresses = {task["ID"]: task["EndpointIP"] for task in attached["Tasks"]}
    assert len(addresses) == 2 == len(set(addresses.values())) and all(a.startswith("10.66.0.") for a in addresses.values())
    running = {c.labels["shoal.task.id"]: c for c in containers("h1-netsvc")}
    assert set(running) == set(addresses)
    for task_id, container in running.items():  # each container has the address it was given, and reaches the other's
        assert f"inet {addresses[task_id]}/24" in container.exec_run(["ip", "-4", "addr"]).output.decode()
        other = next(address for other_id, address in addresses.items() if other_id != task_id)
        assert container.exec_run(["ping", "-c", "1", "-W", "2", other]).exit_code == 0
    pretty = [line.split() for line in manager.shoal("service", "inspect", "--pretty", "h1-netsvc").stdout.splitlines()]
    assert ["Networks:", "h1-front", "h1-back"] in pretty and ["Endpoint", "Mode:", "vip"] in pretty
    busy = manager.shoal("network", "rm", "h1-back", check=False)
    assert busy.returncode != 0 and "network h1-back is in use by service h1-netsvc" in busy.stderr
    manager.shoal("service", "rm", "h1-netsvc")
    deadline = time.monotonic() + 20
    while manager.shoal("network", "rm", "h1-back", check=False).returncode != 0:  # until its tasks have ended
        assert time.monotonic() < deadline, "h1-back still in use 20 s after its service was removed"
        time.sleep(0.5)
    assert manager.shoal("network", "prune", "--force").stdout.split() == ["Deleted", "Networks:", "h1-front"]
    assert not {"h1-front", "h1-back"} & set(manager.shoal("network", "ls", "--format", "{{.Name}}").stdout.split())


def running_on(attached: dict) -> list[str]:
    """The addresses of the running tasks in a service's entry of ``network inspect``'s Services, sorted."""
    return sorted(task["EndpointIP"] for task in attached["Tasks"] if task["State"] == "running")


def test_h4_a_task_finds_services_by_name_vip_and_dnsrr_and_the_answer_follows_a_scale(manager):
    """h4: from inside a task, NAME -> the VIP (vip) or the tasks (dnsrr), tasks.NAME and an alias
    resolve on the network they share; a scale shows in the answer within a couple of seconds."""
    manager.shoal("network", "create", "h4-net")
    try:
        for name, extra in (("h4-vip", ["--network", "h4-net", "--replicas", "2"]),
                            ("h4-rr", ["--network", "h4-net", "--endpoint-mode", "dnsrr", "--replicas", "2"]),
                            ("h4-client", ["--network", "name=h4-net,alias=h4-alias", "--replicas", "1"])):
            manager.shoal("service", "create", "--detach", "--name", name, *extra, IMAGE, *SERVE)
        wait_until(lambda: [running_count(manager, name) for name in ("h4-vip", "h4-rr", "h4-client")] == [2, 2, 1],
                   60, what="h4 services running")
        client = containers("h4-client")[0]
        attached = manager.json("network", "inspect", "h4-net")[0]["Services"]
        some_task = attached["h4-rr"]["Tasks"][0]
        expected = {"h4-vip": [attached["h4-vip"]["VIP"]], "tasks.h4-vip": running_on(attached["h4-vip"]),
                    "h4-rr": running_on(attached["h4-rr"]), "tasks.h4-rr": running_on(attached["h4-rr"]),
                    "h4-alias": [attached["h4-client"]["VIP"]],  # the client's own VIP, by its alias
                    some_task["Name"]: [some_task["EndpointIP"]]}  # a task by its own (container's) name
        # each host is told of the last task running a moment after the store says so
        wait_until(lambda: resolved(client, *expected) == expected, 10, what=f"the answers {expected}")
        manager.shoal("service", "scale", "h4-rr=3")
        started = time.monotonic()
        wait_until(lambda: len(resolved(client, "h4-rr")["h4-rr"]) == 3, 30, what="h4-rr resolving to 3 tasks")
        print(f"h4-rr answered with 3 tasks {time.monotonic() - started:.2f} s after scale returned")
        rr = manager.json("network", "inspect", "h4-net")[0]["Services"]["h4-rr"]
        assert resolved(client, "h4-rr")["h4-rr"] == running_on(rr)
    finally:
        for name in ("h4-client", "h4-rr", "h4-vip"):
            manager.shoal("service", "rm", name, check=False)
        wait_until(lambda: manager.shoal("network", "rm", "h4-net", check=False).returncode == 0, 20,
                   what="h4-net removed once its tasks have ended")

"""Simulated nodes (bin/shoal-simnodes) in a real cluster: they join, run, fail and die as nodes do.

A real manager (drained, so every task lands on simulated nodes) and two
simnodes processes of SIM_NODES nodes each.
"""

from __future__ import annotations

import collections
import json
import pathlib
import signal
import subprocess
import sys

import pytest

from actors.common.supervisor import reload_daemon
from actors.executor import tmpfs
from actors.executor.membership import affinity
from actors.simnodes import hosts
from tests.integration.cluster import IMAGE, REPO, SHOAL, Cluster, containers, tasks, wait_until

SIM_NODES = 10  # per process; two processes
REPLICAS = 100


def start_simnodes(cluster: Cluster, name: str, count: int) -> subprocess.Popen:
    """A shoal-simnodes process of ``count`` nodes joined through the manager, logging under the cluster."""
    manager = cluster.hosts[0]
    token = manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
    log = open(cluster.root / f"{name}.log", "ab")
    return subprocess.Popen([sys.executable, str(REPO / "bin" / "shoal-simnodes"), "--state-dir", str(cluster.root / name),
                             "--join", token, f"127.0.0.1:{manager.port}", "--count", str(count), "--start-delay", "0.05"],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        process.wait(20)


@pytest.fixture(scope="module")
def sim_cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("simnodes"))
    processes = []
    try:
        manager = cluster.init_manager()
        manager.shoal("node", "update", "--availability", "drain", manager.node_id)
        processes.extend(start_simnodes(cluster, name, SIM_NODES) for name in ("sim-a", "sim-b"))
        wait_until(lambda: manager.shoal("node", "ls").stdout.count("Ready") == 2 * SIM_NODES + 1, 60,
                   what=f"{2 * SIM_NODES} simulated nodes ready")
        yield cluster, processes
    finally:
        for process in processes:
            stop(process, signal.SIGKILL)
        cluster.teardown()


def nodes(manager) -> list[dict]:
    ids = manager.shoal("node", "ls", "-q").stdout.split()
    return manager.json("node", "inspect", *ids)


def running_by_node(manager, service: str) -> collections.Counter:
    return collections.Counter(task["NodeID"] for task in tasks(manager, service)
                               if task["DesiredState"] == "running" and task["Status"]["State"] == "running")


def test_simulated_nodes_are_ordinary_ready_workers(sim_cluster):
    cluster, _ = sim_cluster
    simulated = [node for node in nodes(cluster.hosts[0]) if node["Description"]["Hostname"].startswith("sim-")]
    assert len(simulated) == 2 * SIM_NODES
    assert len({node["Shoal"]["PublicKey"] for node in simulated}) == 2 * SIM_NODES  # an identity each
    assert {(node["Spec"]["Role"], node["Status"]["State"]) for node in simulated} == {("worker", "ready")}
    assert all(node["Description"]["Resources"]["NanoCPUs"] > 0 for node in simulated)


def test_a_service_of_100_replicas_runs_on_the_simulated_nodes(sim_cluster):
    cluster, _ = sim_cluster
    manager = cluster.hosts[0]
    manager.shoal("service", "create", "--name", "simweb", "--replicas", str(REPLICAS), "--quiet", IMAGE,
                  "sleep", "1000", timeout=120)
    placed = running_by_node(manager, "simweb")
    assert sum(placed.values()) == REPLICAS
    assert manager.node_id not in placed and len(placed) == 2 * SIM_NODES  # spread over every simulated node
    assert containers("simweb", running_only=False) == []  # nothing ran in the real engine


def set_dispatchers(host, count: int) -> None:
    """Write ``"dispatchers": count`` into the host's host.json and have its shoald act on it."""
    path = host.state_dir / "host.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "dispatchers": count}, indent=2))
    assert reload_daemon(host.state_dir)


def dispatcher_of_node(manager) -> dict[str, str]:
    """The dispatcher each ready simulated node is in session with, by node id."""
    return {node["ID"]: node["Shoal"]["Dispatcher"] for node in nodes(manager)
            if node["Description"]["Hostname"].startswith("sim-") and node["Status"]["State"] == "ready"}


def test_a_second_dispatcher_process_takes_half_the_nodes_and_gives_them_back_when_stopped(sim_cluster):
    cluster, _ = sim_cluster
    manager = cluster.hosts[0]
    own, further = manager.node_id, f"{manager.node_id}/1"
    sim_ids = list(dispatcher_of_node(manager))
    assert len(sim_ids) == 2 * SIM_NODES
    preferred = {node_id: max((own, further), key=lambda name: affinity(node_id, name)) for node_id in sim_ids}
    assert min(collections.Counter(preferred.values()).values()) >= 3  # a hash of each node's id: about half each
    set_dispatchers(manager, 2)
    wait_until(lambda: dispatcher_of_node(manager) == preferred, 30,
               what="each simulated node in session with the dispatcher process it prefers")
    running = running_tasks(manager, "simweb")
    set_dispatchers(manager, 1)
    wait_until(lambda: dispatcher_of_node(manager) == dict.fromkeys(sim_ids, own), 30,
               what="every simulated node back in session with the manager's one dispatcher")
    assert running_tasks(manager, "simweb") == running  # no node was taken for down: no task was replaced


def running_tasks(manager, service: str) -> set[str]:
    return {task["ID"] for task in tasks(manager, service)
            if task["DesiredState"] == "running" and task["Status"]["State"] == "running"}


def test_tasks_the_simulated_engine_fails_are_retried(sim_cluster):
    cluster, _ = sim_cluster
    manager = cluster.hosts[0]
    manager.shoal("service", "create", "--name", "simfail", "--replicas", "2", "--detach", "--restart-delay", "100ms",
                  "-e", "SHOAL_SIM_FAIL=start", IMAGE)
    manager.shoal("service", "create", "--name", "simcrash", "--replicas", "2", "--detach", "--restart-delay", "100ms",
                  "-e", "SHOAL_SIM_EXIT_AFTER=0.2", "-e", "SHOAL_SIM_EXIT_CODE=3", IMAGE)

    def ended(service, state):
        return [task for task in tasks(manager, service) if task["Status"]["State"] == state]
    rejected = wait_until(lambda: len(ended("simfail", "rejected")) >= 4 and ended("simfail", "rejected"), 30,
                          what="simfail's tasks rejected and retried")
    assert "simulated start failure" in rejected[0]["Status"]["Err"]
    failed = wait_until(lambda: len(ended("simcrash", "failed")) >= 4 and ended("simcrash", "failed"), 30,
                        what="simcrash's tasks failed and retried")
    assert failed[0]["Status"]["Err"] == "task: non-zero exit (3)"
    manager.shoal("service", "rm", "simfail", "simcrash")


def test_simulated_nodes_get_their_tasks_secrets_and_configs_in_memory_only(sim_cluster):
    """Each simulated node fetches the data of its own tasks (task_data) before creating their containers,
    as a real node does, and keeps it in memory: no directory under /run/shoal for any simulated node."""
    cluster, _ = sim_cluster
    manager = cluster.hosts[0]
    for noun in ("secret", "config"):
        made = subprocess.run(SHOAL + ["--state-dir", str(manager.state_dir), noun, "create", f"sim-{noun}", "-"],
                              input=b"sim-data", capture_output=True, timeout=60)
        assert made.returncode == 0, made.stderr
    manager.shoal("service", "create", "--name", "simdata", "--replicas", "20", "--detach", "--secret", "sim-secret",
                  "--config", "source=sim-config,target=/etc/sim.conf", IMAGE)
    wait_until(lambda: len(running_tasks(manager, "simdata")) == 20, 30, what="20 tasks with data running")
    simulated = {task["NodeID"] for task in tasks(manager, "simdata")}
    assert not any(pathlib.Path(tmpfs.ROOT, node_id).exists() for node_id in simulated)
    manager.shoal("service", "rm", "simdata")
    manager.shoal("secret", "rm", "sim-secret")
    manager.shoal("config", "rm", "sim-config")


def test_killing_a_simnodes_process_gets_its_tasks_replaced(sim_cluster):
    cluster, (sim_a, _) = sim_cluster
    manager = cluster.hosts[0]
    killed = {config.node_id for config in hosts.joined(cluster.root / "sim-a")}
    assert killed <= set(running_by_node(manager, "simweb"))  # each of them runs some of simweb before the kill
    stop(sim_a, signal.SIGKILL)

    def replaced():
        placed = running_by_node(manager, "simweb")
        return placed if sum(placed.values()) == REPLICAS and not killed & set(placed) else None
    survivors = wait_until(replaced, 60, what="simweb's 100 replicas running on the surviving simulated nodes")
    assert len(survivors) == SIM_NODES
    states = {node["ID"]: node["Status"]["State"] for node in nodes(manager)}
    assert {states[node_id] for node_id in killed} == {"down"}


def test_a_restarted_simnodes_process_brings_back_the_same_nodes(sim_cluster):
    cluster, processes = sim_cluster
    manager = cluster.hosts[0]
    before = {node["ID"] for node in nodes(manager)}
    log = open(cluster.root / "sim-a-again.log", "ab")
    processes.append(subprocess.Popen([sys.executable, str(REPO / "bin" / "shoal-simnodes"), "--state-dir",
                                       str(cluster.root / "sim-a"), "--count", str(SIM_NODES)],
                                      stdout=log, stderr=log, stdin=subprocess.DEVNULL))
    back = {config.node_id for config in hosts.joined(cluster.root / "sim-a")}
    wait_until(lambda: {node["ID"] for node in nodes(manager) if node["Status"]["State"] == "ready"} >= back, 30,
               what="the restarted process's nodes ready again")
    assert {node["ID"] for node in nodes(manager)} == before  # the same nodes, none joined anew

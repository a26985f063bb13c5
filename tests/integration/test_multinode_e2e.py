"""Two hosts on one engine: spreading, a worker that dies, a worker that leaves."""

from __future__ import annotations

import collections
import time

import docker
import pytest

from tests.integration.cluster import IMAGE, Cluster, containers, running_count, tasks, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("multinode"))
    try:
        cluster.init_manager()
        cluster.join_worker("worker1")
        yield cluster
    finally:
        cluster.teardown()


def bridge_networks() -> list:
    """The engine's bridge networks made for the test's ``leaver`` network (10.0.77.0/24)."""
    return [network for network in docker.from_env().networks.list()
            if any(config.get("Subnet") == "10.0.77.0/24" for config in network.attrs["IPAM"]["Config"] or [])]


def nodes_by_hostname_status(manager):
    return {node["ID"]: node["Status"]["State"] for node in manager.json("node", "inspect", *node_ids(manager))}


def node_ids(manager):
    return [line.split()[0] for line in manager.shoal("node", "ls", "-q").stdout.split()]


def placement(manager, service):
    return collections.Counter(task["NodeID"] for task in tasks(manager, service)
                               if task["DesiredState"] == "running" and task["Status"]["State"] == "running")


def test_worker_joins_and_is_ready(cluster):
    manager, worker = cluster.hosts
    wait_until(lambda: nodes_by_hostname_status(manager).get(worker.node_id) == "ready", 20, what="worker ready")
    listing = manager.shoal("node", "ls").stdout
    assert listing.count("Ready") == 2


def test_replicas_spread_across_nodes(cluster):
    manager, worker = cluster.hosts
    manager.shoal("service", "create", "--name", "spread", "--replicas", "4", IMAGE, "sleep", "1000")
    assert placement(manager, "spread") == {manager.node_id: 2, worker.node_id: 2}
    manager.shoal("service", "rm", "spread")


def test_tasks_of_a_killed_worker_are_replaced_on_the_survivor(cluster):
    manager, worker = cluster.hosts
    manager.shoal("service", "create", "--name", "survive", "--replicas", "4", IMAGE, "sleep", "1000")
    assert placement(manager, "survive")[worker.node_id] == 2
    worker.kill9()
    killed_at = time.monotonic()
    wait_until(lambda: placement(manager, "survive") == {manager.node_id: 4}, 30, what="all 4 tasks on the manager")
    elapsed = time.monotonic() - killed_at
    assert nodes_by_hostname_status(manager)[worker.node_id] == "down"
    assert "Down" in manager.shoal("node", "ls").stdout
    print(f"worker kill -9 to 4/4 running elsewhere: {elapsed:.2f}s")
    worker.start_daemon()
    wait_until(lambda: nodes_by_hostname_status(manager)[worker.node_id] == "ready", 20, what="worker back")
    assert running_count(manager, "survive") == 4
    # Back, the worker stops the containers of the tasks that were replaced while it was away.
    wait_until(lambda: len(containers("survive")) == 4, 20, what="only the 4 replacement containers running")
    wait_until(lambda: all(t["Status"]["State"] != "running" for t in tasks(manager, "survive")
                           if t["DesiredState"] != "running"), 20, what="the replaced tasks reported stopped")
    manager.shoal("service", "rm", "survive")


def test_worker_leave_stops_its_processes_and_marks_it_down(cluster):
    manager, worker = cluster.hosts
    wait_until(lambda: nodes_by_hostname_status(manager).get(worker.node_id) == "ready", 20, what="worker ready")
    node_id = worker.node_id
    # A task of the worker's on a network of its own: leaving removes the engine's bridge network too,
    # which would otherwise hold the subnet on the engine for good.
    manager.shoal("network", "create", "--subnet", "10.0.77.0/24", "leaver")
    manager.shoal("service", "create", "--name", "leaver", "--network", "leaver", "--constraint",
                  f"node.id=={node_id}", "--quiet", IMAGE, "sleep", "1000", timeout=120)
    assert [network.name for network in bridge_networks()]  # made by the worker's host for its task
    worker.shoal("swarm", "leave")
    assert bridge_networks() == []
    assert worker.pids() == []
    assert not (worker.state_dir / "host.json").exists()
    assert nodes_by_hostname_status(manager)[node_id] == "down"
    assert manager.shoal("node", "rm", node_id).returncode == 0
    assert node_id not in manager.shoal("node", "ls", "-q").stdout
    manager.shoal("service", "rm", "leaver")

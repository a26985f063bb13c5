"""Placement on three real hosts: constraints, a label added later, reservations, replicas per node, spread.

Services are created through the control API with the specs the checks need
(as `shoal service create` sends them), and every check looks at where the
engine's containers run and what `shoal service ps --format json` tells a user.
"""

from __future__ import annotations

import collections

import docker
import pytest

from actors.common.hostconfig import HostConfig
from tests.integration.cluster import IMAGE, call_as, containers, running_cluster, tasks, wait_until
from transport.rpc import RpcError


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    with running_cluster(tmp_path_factory.mktemp("placement")) as cluster:
        yield cluster


def create(cluster, name, replicas=1, placement=None, resources=None, update_config=None, rebalance=True):
    """Create service ``name`` through the control API; the reply, or the RpcError it answered."""
    manager = cluster.hosts[0]
    template = {"ContainerSpec": {"Image": IMAGE, "Args": ["sleep", "1000"], "StopGracePeriod": 10 ** 9},
                "Placement": placement or {}, "Resources": resources or {}}
    spec = {"Name": name, "TaskTemplate": template, "Mode": {"Replicated": {"Replicas": replicas}},
            "UpdateConfig": update_config or {}, "Shoal": {"Rebalance": rebalance}}
    return call_as(HostConfig.load(manager.state_dir).admin_keys(), manager, "control", "service_create", {"spec": spec})


def running_on(name) -> collections.Counter:
    """Node id -> running containers of service ``name``, as the engine has them."""
    return collections.Counter(container.labels["shoal.node.id"] for container in containers(name))


def pending_reasons(manager, name) -> list[str]:
    """The ``Status.Err`` of the service's tasks waiting for a node."""
    return sorted(task["Status"].get("Err", "") for task in tasks(manager, name)
                  if task["DesiredState"] == "running" and task["Status"]["State"] == "pending")


def remove(manager, name):
    manager.shoal("service", "rm", name)
    wait_until(lambda: not running_on(name), 30, what=f"containers of {name} to go")


def test_a_constraint_no_node_meets_waits_with_its_reason_until_a_node_gets_the_label(cluster):
    manager, _, worker2 = cluster.hosts
    create(cluster, "h2-later", placement={"Constraints": ["node.labels.h2gpu==yes"]})
    wait_until(lambda: pending_reasons(manager, "h2-later") == [
        "no suitable node (scheduling constraints not satisfied on 3 nodes)"], 15, what="the pending reason")
    [waiting] = tasks(manager, "h2-later")
    assert waiting["Status"]["Message"] == "pending task scheduling" and not running_on("h2-later")
    listing = manager.shoal("service", "ps", "--no-trunc", "h2-later").stdout
    assert "Pending" in listing and '"no suitable node (scheduling constraints not satisfied on 3 nodes)"' in listing
    manager.shoal("node", "update", "--label-add", "h2gpu=yes", worker2.node_id)
    assert wait_until(lambda: running_on("h2-later"), 20, what="the task to start") == {worker2.node_id: 1}
    remove(manager, "h2-later")


def test_node_role_manager_keeps_every_replica_on_the_manager(cluster):
    manager = cluster.hosts[0]
    create(cluster, "h2-managers", replicas=3, placement={"Constraints": ["node.role==manager"]})
    wait_until(lambda: sum(running_on("h2-managers").values()) == 3, 30, what="three replicas")
    assert running_on("h2-managers") == {manager.node_id: 3}
    remove(manager, "h2-managers")


def test_a_malformed_constraint_is_refused_with_dockers_message(cluster):
    reply = create(cluster, "h2-typo", placement={"Constraints": ["node.role=manager"]})
    assert isinstance(reply, RpcError) and reply.code == "invalid"
    assert reply.message == "constraint expected one operator from ==, !="
    assert "h2-typo" not in cluster.hosts[0].shoal("service", "ls").stdout


def test_the_cli_flags_reach_the_scheduler_and_a_bad_constraint_is_refused_in_one_line(cluster):
    manager, worker1, worker2 = cluster.hosts
    bad = manager.shoal("service", "create", "--detach", "--name", "h2-clibad", "--constraint", "node.role=manager",
                        IMAGE, check=False)
    assert bad.returncode != 0 and "constraint expected one operator from ==, !=" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    manager.shoal("service", "create", "--detach", "--name", "h2-cli", "--replicas", "3", "--stop-grace-period", "1s",
                  "--constraint", "node.role!=manager", "--replicas-max-per-node", "1", IMAGE, "sleep", "1000")
    wait_until(lambda: sum(running_on("h2-cli").values()) == 2, 30, what="one replica on each worker")
    assert running_on("h2-cli") == {worker1.node_id: 1, worker2.node_id: 1}
    assert wait_until(lambda: pending_reasons(manager, "h2-cli"), 10, what="the third to wait") == [
        "no suitable node (max replicas per node limit exceed; scheduling constraints not satisfied on 1 node)"]
    remove(manager, "h2-cli")


def test_reservations_never_over_commit_a_node_and_an_impossible_one_waits(cluster):
    manager = cluster.hosts[0]
    cpus = docker.from_env().info()["NCPU"]
    # Each replica reserves every CPU a node reports: one per node, the fourth waits.
    create(cluster, "h2-cpu", replicas=4, resources={"Reservations": {"NanoCPUs": cpus * 10 ** 9}})
    wait_until(lambda: sum(running_on("h2-cpu").values()) == 3, 30, what="three replicas")
    assert set(running_on("h2-cpu").values()) == {1}
    assert wait_until(lambda: pending_reasons(manager, "h2-cpu"), 10, what="the fourth to wait") == [
        "no suitable node (insufficient resources on 3 nodes)"]
    remove(manager, "h2-cpu")
    create(cluster, "h2-huge", resources={"Reservations": {"MemoryBytes": 1 << 49}})
    assert wait_until(lambda: pending_reasons(manager, "h2-huge"), 10, what="the pending reason") == [
        "no suitable node (insufficient resources on 3 nodes)"]
    assert not running_on("h2-huge")
    remove(manager, "h2-huge")


def test_max_replicas_per_node(cluster):
    manager = cluster.hosts[0]
    create(cluster, "h2-max", replicas=5, placement={"MaxReplicas": 1})
    wait_until(lambda: sum(running_on("h2-max").values()) == 3, 30, what="one replica per node")
    assert set(running_on("h2-max").values()) == {1} and len(running_on("h2-max")) == 3
    assert wait_until(lambda: pending_reasons(manager, "h2-max"), 10, what="the extra two to wait") == [
        "no suitable node (max replicas per node limit exceed)"] * 2
    remove(manager, "h2-max")


def test_spread_over_a_label_evens_out_its_values(cluster):
    manager, worker1, worker2 = cluster.hosts
    for host, zone in ((manager, "a"), (worker1, "a"), (worker2, "b")):
        manager.shoal("node", "update", "--label-add", f"h2zone={zone}", host.node_id)
    create(cluster, "h2-spread", replicas=4,
           placement={"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.h2zone"}}]})
    wait_until(lambda: sum(running_on("h2-spread").values()) == 4, 30, what="four replicas")
    # Zone b's one node takes half the replicas; zone a's two nodes one each.
    assert running_on("h2-spread") == {worker2.node_id: 2, manager.node_id: 1, worker1.node_id: 1}
    remove(manager, "h2-spread")


def test_a_node_turning_active_gets_its_share_without_the_service_dropping_below_its_replicas(cluster):
    manager, worker1, worker2 = cluster.hosts
    manager.shoal("node", "update", "--availability", "pause", worker2.node_id)
    create(cluster, "h2-even", replicas=6, placement={}, update_config={"Parallelism": 1})
    create(cluster, "h2-still", replicas=4, rebalance=False)
    wait_until(lambda: sum(running_on("h2-even").values()) == 6 and sum(running_on("h2-still").values()) == 4,
               40, what="both services running")
    assert running_on("h2-even") == {manager.node_id: 3, worker1.node_id: 3}
    still = running_on("h2-still")
    manager.shoal("node", "update", "--availability", "active", worker2.node_id)
    lowest = 6

    def even():
        nonlocal lowest
        lowest = min(lowest, sum(1 for task in tasks(manager, "h2-even")
                                 if task["Status"]["State"] == "running" and task["DesiredState"] == "running"))
        return running_on("h2-even") == {manager.node_id: 2, worker1.node_id: 2, worker2.node_id: 2}
    wait_until(even, 45, interval=0.2, what="h2-even to spread over the three nodes")
    assert lowest >= 6, f"h2-even dropped to {lowest} running tasks while moving"
    assert running_on("h2-still") == still  # Spec.Shoal.Rebalance false: left where it was
    remove(manager, "h2-even")
    remove(manager, "h2-still")


def test_a_joining_node_gets_its_share(cluster):
    manager = cluster.hosts[0]
    create(cluster, "h2-join", replicas=6, update_config={"Parallelism": 2})
    wait_until(lambda: sorted(running_on("h2-join").values()) == [2, 2, 2], 40, what="two replicas per node")
    joined = cluster.join_worker("worker3")
    # Two moves give 2-2-1-1; a third would only shuffle (runs last: the module's other tests expect three nodes).
    wait_until(lambda: running_on("h2-join").get(joined.node_id) == 1 and sum(running_on("h2-join").values()) == 6
               and sorted(running_on("h2-join").values()) == [1, 1, 2, 2], 45, what="the joined node's share")
    remove(manager, "h2-join")

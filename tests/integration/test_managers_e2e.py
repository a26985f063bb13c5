"""Three managers and a worker: joining, MANAGER STATUS, the leader's kill -9, quorum-safe demotion, promotion."""

from __future__ import annotations

import json
import time

import pytest

from actors.common import datakey
from tests.integration.cluster import (IMAGE, Cluster, call_as, leader_host, metrics_page, running_count, settled,
                                       tasks, wait_until)
from transport import keys
from transport.rpc import RpcError


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("managers"))
    try:
        cluster.init_manager()
        cluster.join("manager2", "manager")
        cluster.join("manager3", "manager")
        cluster.join("worker1", "worker")
        yield cluster
    finally:
        cluster.teardown()


def test_managers_join_and_node_ls_shows_their_status(cluster):
    m1, m2, m3, worker = cluster.hosts
    expected = {m1.node_id: "Leader", m2.node_id: "Reachable", m3.node_id: "Reachable", worker.node_id: ""}
    wait_until(lambda: settled(m1, expected), 30, what="two more voters, reachable")
    # A manager that joined answers the CLI itself; its view agrees.
    wait_until(lambda: settled(m3, expected), 10, what="the same view from a joined manager")
    assert json.loads((m3.state_dir / "host.json").read_text())["role"] == "manager"
    assert worker.shoal("node", "ls", check=False).returncode == 1
    # Every manager holds the cluster's one data key (from the join reply), wrapped by a kek of its own; a worker none.
    cluster_id = json.loads((m1.state_dir / "host.json").read_text())["cluster_id"]
    assert datakey.load(m1.state_dir, cluster_id) == datakey.load(m2.state_dir, cluster_id) == \
        datakey.load(m3.state_dir, cluster_id)
    assert datakey.wrapped_by(worker.state_dir) is None


def test_a_follower_accepts_writes_and_services_converge(cluster):
    m1, m2, m3, worker = cluster.hosts
    m2.shoal("service", "create", "--detach", "--name", "ha", "--replicas", "4", IMAGE, "sleep", "1000")
    # Reads are linearizable on every manager: the write just made through m2 is visible on m3 at once.
    assert m3.json("service", "inspect", "ha")[0]["Spec"]["Mode"]["Replicated"]["Replicas"] == 4
    wait_until(lambda: running_count(m1, "ha") == 4, 30, what="4 tasks running")


def away_from(host, dead, replicas: int) -> bool:
    """True when ``service ps ha`` on ``host`` shows ``replicas`` tasks running and none meant to run on ``dead``."""
    result = host.shoal("service", "ps", "ha", "--format", "json", check=False)
    if result.returncode != 0:
        return False  # no leader yet
    wanted = [t for t in json.loads(result.stdout) if t["DesiredState"] == "running"]
    return (all(t["NodeID"] != dead.node_id for t in wanted)
            and sum(t["Status"]["State"] == "running" for t in wanted) == replicas)


def test_killing_the_leader_elects_another_and_services_keep_converging(cluster):
    managers = cluster.hosts[:3]
    leader = leader_host(cluster, managers)
    survivors = [h for h in managers if h is not leader]
    assert any(t["NodeID"] == leader.node_id for t in tasks(leader, "ha") if t["DesiredState"] == "running")
    killed_at = time.monotonic()
    leader.kill9()
    # The leader's controllers, its dispatcher and its node are recognised as gone as soon as the new leader
    # publishes the dead member unreachable, not after their leases lapse (issue 9's goal is 2 s; CI is slower).
    wait_until(lambda: away_from(survivors[0], leader, 4), 10, interval=0.05,
               what="the dead leader's task replaced, 4 running")
    converged = time.monotonic() - killed_at
    new_leader = wait_until(lambda: (found := leader_host(cluster, survivors)) in survivors and found, 20,
                            what="a new leader")
    survivors[0].shoal("service", "scale", "ha=5")
    wait_until(lambda: all(t["NodeID"] != leader.node_id for t in tasks(new_leader, "ha")
                           if t["DesiredState"] == "running")
               and running_count(new_leader, "ha") == 5, 60, what="5 tasks running away from the dead leader")
    print(f"leader host kill -9: service converged after {converged:.2f}s")
    wait_until(lambda: settled(new_leader, {leader.node_id: "Unreachable"}), 10, what="the old leader unreachable")
    leader.start_daemon()
    wait_until(lambda: settled(new_leader, {h.node_id: "Reachable" for h in survivors if h is not new_leader} |
                               {leader.node_id: "Reachable"}), 30, what="the old leader back as a follower")
    wait_until(lambda: all(t["Status"]["State"] != "running" for t in tasks(new_leader, "ha")
                           if t["DesiredState"] != "running"), 30, what="the old leader's replaced tasks reported stopped")
    # Only the orchestrator holding the lease (on the leader's node) exports the service's gauges: no stale copy.
    exporting = lambda: [h for h in managers if 'shoal_service_desired_tasks{service="ha"} 5.0'  # noqa: E731
                         in metrics_page(h, "orchestrator")]
    wait_until(lambda: exporting() == [new_leader], 10, what="the service's gauges exported by the new leader alone")
    assert not any("shoal_service_tasks{" in metrics_page(h, "orchestrator") for h in managers if h is not new_leader)


def test_a_node_marked_down_while_its_session_lives_is_ready_again(cluster):
    """A dispatcher may take another for gone while it still serves its nodes (its Raft member stalled past
    the unreachable mark): the node it marked down answers its next heartbeat with a new session, and is
    ready again."""
    manager, worker = leader_host(cluster, cluster.hosts[:3]), cluster.hosts[3]
    own = keys.load(manager.state_dir / "keys", "host")
    state = lambda: manager.json("node", "inspect", worker.node_id)[0]["Status"]["State"]  # noqa: E731
    wait_until(lambda: state() == "ready", 20, what="the worker ready, in session")
    reply = call_as(own, manager, "raft_api", "propose", {"ops": [
        {"op": "patch", "table": "nodes", "id": worker.node_id, "set": {"Status.State": "down"}}]})
    assert not isinstance(reply, RpcError), reply
    wait_until(lambda: state() == "ready", 10, what="the worker ready again")


def test_a_demotion_that_would_lose_quorum_is_refused(cluster):
    managers = cluster.hosts[:3]
    leader = leader_host(cluster, managers)
    followers = [h for h in managers if h is not leader]
    followers[1].kill9()
    wait_until(lambda: settled(leader, {followers[1].node_id: "Unreachable"}), 10, what="the follower unreachable")
    refused = leader.shoal("node", "demote", followers[0].node_id, check=False)
    assert refused.returncode == 1 and "loss of quorum" in refused.stderr
    assert settled(leader, {followers[0].node_id: "Reachable"})
    followers[1].start_daemon()
    wait_until(lambda: settled(leader, {followers[1].node_id: "Reachable"}), 30, what="the follower back")


def test_demote_then_promote_a_manager(cluster):
    managers = cluster.hosts[:3]
    leader = leader_host(cluster, managers)
    target = next(h for h in managers if h is not leader)
    assert "demoted" in leader.shoal("node", "demote", target.node_id).stdout
    wait_until(lambda: settled(leader, {target.node_id: ""}), 20, what="the demoted manager out of Raft")
    wait_until(lambda: json.loads((target.state_dir / "host.json").read_text())["role"] == "worker", 10,
               what="the demoted host to switch to worker")
    wait_until(lambda: not (target.state_dir / "raft").exists(), 10, what="its Raft state to be gone")
    assert "promoted" in leader.shoal("node", "promote", target.node_id).stdout
    wait_until(lambda: settled(leader, {target.node_id: "Reachable"}), 40, what="the promoted worker to vote again")
    wait_until(lambda: target.shoal("node", "ls", check=False).returncode == 0, 20, what="its CLI to work again")
    wait_until(lambda: running_count(leader, "ha") == 5, 30, what="5 tasks running")


def test_a_manager_that_leaves_with_force_is_taken_out_of_raft_first(cluster):
    leader = leader_host(cluster, cluster.hosts[:3])
    extra = cluster.join("manager4", "manager")
    node_id = extra.node_id
    wait_until(lambda: settled(leader, {node_id: "Reachable"}), 30, what="the fourth manager voting")
    left = extra.shoal("swarm", "leave", "--force")
    assert "Node left the swarm." in left.stdout and "warning" not in left.stderr, left.stderr
    assert settled(leader, {node_id: ""}), "the manager that left is still a Raft member"


def test_lost_quorum_refuses_writes_then_force_new_cluster_keeps_the_state(cluster):
    managers = cluster.hosts[:3]
    survivor = leader_host(cluster, managers)
    lost = [h for h in managers if h is not survivor]
    for host in lost:
        host.kill9()
    refused = survivor.shoal("service", "scale", "ha=3", check=False, timeout=60)
    assert refused.returncode == 1 and "no leader" in refused.stderr, refused.stderr
    recovered = survivor.shoal("swarm", "init", "--force-new-cluster")
    assert "only manager" in recovered.stdout
    assert settled(survivor, {survivor.node_id: "Leader"} | {h.node_id: "" for h in lost})
    assert "ha" in survivor.shoal("service", "ls").stdout
    survivor.shoal("service", "scale", "ha=3")
    assert running_count(survivor, "ha") == 3

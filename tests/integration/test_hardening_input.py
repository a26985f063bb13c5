"""Issue 7, findings 2, 6 and 7, in real processes: what a worker's own key, a stranger holding a join
token and an admin send is checked at the door; nothing malformed is stored, no actor restarts, and the
cluster still converges a new service afterwards."""

from __future__ import annotations

import pytest

from actors.common.hostconfig import HostConfig
from tests.integration.cluster import IMAGE, Cluster, call_as, tasks, wait_until
from transport import keys, limits
from transport.rpc import RpcError


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("hardening"))
    try:
        manager = cluster.init_manager()
        worker = cluster.join_worker("worker1")
        wait_until(lambda: manager.json("node", "inspect", worker.node_id)[0]["Status"]["State"] == "ready", 20,
                   what="the worker ready")
        yield cluster
    finally:
        cluster.teardown()


def converges_a_new_service(manager, name: str) -> None:
    """A new two-replica service reaches running on the cluster (the CLI waits for convergence)."""
    out = manager.shoal("service", "create", "--name", name, "--replicas", "2", IMAGE, "sleep", "1000").stdout
    assert "verify: Service converged" in out
    manager.shoal("service", "rm", name)


def refused(reply, code: str, text: str) -> None:
    assert isinstance(reply, RpcError), reply
    assert reply.code == code and text in reply.message and "\n" not in reply.message, (reply.code, reply.message)


def test_malformed_status_reports_and_descriptions_are_refused_and_nothing_restarts(cluster):
    """Finding 2: a worker's own key sends garbage statuses for its own task and a string Description."""
    manager, worker = cluster.hosts[0], cluster.hosts[1]
    manager.shoal("service", "create", "--name", "victim", "--replicas", "2", IMAGE, "sleep", "1000")
    own = wait_until(lambda: [t for t in tasks(manager, "victim") if t["NodeID"] == worker.node_id
                              and t["Status"]["State"] == "running"], 30, what="a running task on the worker")[0]
    pids = set(manager.pids())
    worker_key = HostConfig.load(worker.state_dir).host_keys()

    def status(updates):
        return call_as(worker_key, manager, "dispatcher", "status", {"node_id": worker.node_id, "updates": updates})

    refused(status("not-a-dict"), "invalid", "updates: must map task ids to statuses")
    refused(status({f"t{n}": {} for n in range(limits.BATCH_OPS + 1)}), "invalid", "more than the limit")
    reply = status({own["ID"]: "not-a-dict"})
    assert reply["accepted"] == 0 and "must be a map" in reply["refused"][0]
    reply = status({own["ID"]: {"State": "pwned"}})
    assert reply["accepted"] == 0 and "Status.State: invalid value 'pwned'" in reply["refused"][0]
    reply = status({own["ID"]: {"State": "failed", "Timestamp": "garbage"}})
    assert reply["accepted"] == 0 and "invalid time 'garbage'" in reply["refused"][0]
    reply = status({own["ID"]: {"State": "running", "Message": "x" * (limits.STATUS_MESSAGE_CHARS + 1)}})
    assert reply["accepted"] == 0 and "Message" in reply["refused"][0]
    refused(call_as(worker_key, manager, "dispatcher", "session",
                    {"node_id": worker.node_id, "description": "a string", "addr": "127.0.0.1"}),
            "invalid", "description: must be a map")
    refused(call_as(worker_key, manager, "dispatcher", "session",
                    {"node_id": worker.node_id, "description": {}, "addr": "not an address"}),
            "invalid", "invalid address")

    stored = [t for t in tasks(manager, "victim") if t["ID"] == own["ID"]][0]
    assert stored["Status"]["State"] == "running" and stored["Status"]["Timestamp"] == own["Status"]["Timestamp"]
    assert "Error" not in manager.shoal("service", "ps", "victim").stderr
    assert worker.node_id in manager.shoal("node", "ls").stdout
    converges_a_new_service(manager, "after-reports")
    assert set(manager.pids()) == pids, "an actor restarted"
    manager.shoal("service", "rm", "victim")


def test_join_fields_are_checked_before_they_are_stored(cluster):
    """Finding 6: a stranger with the worker token joins with a bad address, port or hostname."""
    manager = cluster.hosts[0]
    token = manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
    pids = set(manager.pids())
    nodes_before = manager.shoal("node", "ls", "-q").stdout.split()
    stranger = keys.generate()

    def join(**fields):
        body = {"token": token, "public_key": stranger.public_text, "hostname": "h", "addr": "127.0.0.1", "port": 30000}
        return call_as(stranger, manager, "join", "join", {**body, **fields})

    refused(join(addr="not an address"), "invalid", "invalid addr: invalid address 'not an address'")
    refused(join(addr=["127.0.0.1"]), "invalid", "addr: must be a string")
    refused(join(port=65530), "invalid", f"port: 65530 is out of range 1..{65535 - limits.HOST_PORT_SPAN}")
    refused(join(port="2377"), "invalid", "port: must be a whole number")
    refused(join(hostname="\x1b]0;owned\x07" + "h" * 1000), "invalid", "hostname: ")
    refused(join(hostname="evil\x1b[2J"), "invalid", "unprintable character")
    assert manager.shoal("node", "ls", "-q").stdout.split() == nodes_before
    converges_a_new_service(manager, "after-joins")
    assert set(manager.pids()) == pids, "an actor restarted"


def test_spec_gaps_are_closed(cluster):
    """Finding 7: labels that are not a map, a list for Mode, a billion replicas, a 23-digit --replicas."""
    manager = cluster.hosts[0]
    pids = set(manager.pids())
    admin = HostConfig.load(manager.state_dir).admin_keys()

    def spec(**changes):
        base = {"Name": "gap", "TaskTemplate": {"ContainerSpec": {"Image": IMAGE, "Args": ["sleep", "1000"]}},
                "Mode": {"Replicated": {"Replicas": 1}}}
        return {**base, **changes}

    def create(**changes):
        return call_as(admin, manager, "control", "service_create", {"spec": spec(**changes)})

    refused(create(TaskTemplate={"ContainerSpec": {"Image": IMAGE, "Labels": [1]}}), "invalid",
            "spec.TaskTemplate.ContainerSpec.Labels: must be a map of strings to strings, not a list")
    refused(create(Mode=[]), "invalid", "spec.Mode: must hold exactly one of Replicated, Global")
    refused(create(Mode={"Global": {"Replicas": 2}}), "invalid", "replicas can only be used with replicated or replicated-job mode")
    refused(create(Mode={"Replicated": {"Replicas": 10 ** 9}}), "invalid", "at most 100000 replicas")
    manager.shoal("service", "create", "-d", "--name", "small", IMAGE, "sleep", "1000")
    refused(call_as(admin, manager, "control", "service_scale", {"ref": "small", "replicas": 10 ** 9}),
            "invalid", "invalid replicas value 1000000000: a service may have at most 100000 replicas")
    for args, message in ((("service", "scale", "small=1000000000"), "at most 100000 replicas"),
                          (("service", "create", "--replicas", "99999999999999999999999", IMAGE), "not in the range"),
                          (("service", "scale", "small=abc"), "invalid scale specifier"),
                          (("service", "create", "--name", "evil\x1b[2J", IMAGE), "invalid service name 'evil\\x1b[2J'"),
                          (("service", "create", "--label", "k=\x1b]0;owned\x07", IMAGE), "unprintable character")):
        result = manager.shoal(*args, check=False)
        assert result.returncode != 0 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    manager.shoal("service", "rm", "small")
    converges_a_new_service(manager, "after-specs")
    assert set(manager.pids()) == pids, "an actor restarted"

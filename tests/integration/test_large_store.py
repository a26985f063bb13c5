"""Finding 1 in real processes: a store larger than every single-message limit (about 24 MB): views
load it, the CLI lists it, a batch larger than a message is published, the member compacts it, a new
manager catches up, and the Raft loop never stalls for an election timeout (benchmarks/large_store.py
runs the same at 100 MB); and a node's huge status report is refused while the cluster carries on."""

from __future__ import annotations

import asyncio

import pytest
import zmq
import zmq.asyncio

from actors.common.hostconfig import HostConfig
from actors.raft.member import ELECTION_TICKS, TICK_SECONDS
from tests.integration import largestore
from tests.integration.cluster import IMAGE, Cluster, running_count, tasks, wait_until
from transport import codec, limits, sockets
from transport.rpc import RpcClient

MEGABYTES = 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOAL_RAFT_SNAPSHOT_EVERY", "10")  # compact often: every few proposals
        cluster = Cluster(tmp_path_factory.mktemp("large"))
        try:
            cluster.init_manager()
            yield cluster
        finally:
            cluster.teardown()


def test_a_store_larger_than_any_message_keeps_every_door_working(cluster):
    manager = cluster.hosts[0]
    ids = largestore.fill(manager, MEGABYTES)
    assert len(ids) * largestore.SERVICE_BYTES > codec.MAX_MESSAGE_BYTES
    assert largestore.service_count(manager) == len(ids) + 1  # + the template
    assert manager.node_id[:12] in manager.shoal("node", "ls").stdout
    assert manager.shoal("service", "ps", "template").returncode == 0

    # One batch whose changes are larger than a message: published in parts, every view applies it.
    index = largestore.touch_more_than_a_message(manager, ids)
    assert index > 0
    assert '"touched": "1"' in manager.shoal("service", "inspect", ids[0][:12]).stdout

    # A view loaded from scratch: the control API restarted reads the whole store as a snapshot.
    largestore.restart_actor(manager, "controlapi")
    assert wait_until(lambda: largestore.service_count(manager) == len(ids) + 1, 60, what="service ls after restart")

    # The member compacted its log into a snapshot file bigger than a message.
    assert wait_until(lambda: largestore.snapshot_bytes(manager) > codec.MAX_MESSAGE_BYTES, 30, what="a snapshot")

    # A new manager catches up from that snapshot and serves the same list.
    follower = cluster.join("manager2", "manager")
    wait_until(lambda: largestore.service_count(follower) == len(ids) + 1, 120, what="the new manager's service ls")

    # Nothing above held either member's loop for an election timeout: judged by the CPU time the loop
    # thread spent within a stall, since on this shared machine waiting for a CPU stalls it as well.
    election_timeout = ELECTION_TICKS * TICK_SECONDS
    for host in (manager, follower):
        stall = largestore.metric(host, "raft", "shoal_raft_loop_stall_cpu_max_seconds")
        assert stall < election_timeout, f"{host.state_dir.name}: work held the Raft loop {stall:.3f}s"


def test_a_worker_reporting_a_huge_status_is_refused_and_the_cluster_keeps_converging(cluster):
    """Finding 1: a node's status for its own task padded to fill the store's messages. The dispatcher
    refuses it, the Raft member keeps publishing, and a new service still converges."""
    manager = cluster.hosts[0]
    manager.shoal("service", "create", "--name", "victim", "--replicas", "1", IMAGE, "sleep", "1000")
    task = next(t for t in tasks(manager, "victim") if t["DesiredState"] == "running")
    config = HostConfig.load(manager.state_dir)
    padded = {**task["Status"], "Message": "x" * (limits.DISPATCHER_MESSAGE_BYTES - 64 * 1024)}

    async def report():
        context = zmq.asyncio.Context()
        try:
            address = config.local_manager()
            rpc = RpcClient(sockets.client_socket(context, zmq.DEALER, address.endpoint("dispatcher"),
                                                  config.host_keys(), address.public_key.encode()), "dispatcher")
            return await rpc.call("status", {"node_id": config.node_id, "updates": {task["ID"]: padded}}, timeout=10)
        finally:
            context.destroy(linger=0)
    reply = asyncio.run(report())
    assert reply["accepted"] == 0 and "Message" in reply["refused"][0]

    stored = next(t for t in tasks(manager, "victim") if t["ID"] == task["ID"])
    assert len(stored["Status"].get("Message", "")) <= limits.STATUS_MESSAGE_CHARS
    manager.shoal("service", "create", "--name", "after-huge-status", "--replicas", "1", IMAGE, "sleep", "1000")
    assert running_count(manager, "after-huge-status") == 1
    assert "CodecError" not in (manager.state_dir / "logs" / "raft.log").read_text()
    manager.shoal("service", "rm", "victim", "after-huge-status")

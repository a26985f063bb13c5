"""A store larger than every single-message limit (about 24 MB, in real processes): views load it,
the CLI lists it, a batch larger than a message is published, the member compacts it, a new manager
catches up, and the Raft loop never stalls for an election timeout. benchmarks/large_store.py
runs the same at 100 MB."""

from __future__ import annotations

import pytest

from actors.raft.member import ELECTION_TICKS, TICK_SECONDS
from tests.integration import largestore
from tests.integration.cluster import Cluster, wait_until
from transport import codec

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

    # Nothing above held either member's loop for an election timeout.
    election_timeout = ELECTION_TICKS * TICK_SECONDS
    for host in (manager, follower):
        stall = largestore.metric(host, "raft", "shoal_raft_loop_stall_max_seconds")
        assert stall < election_timeout, f"{host.state_dir.name}: the Raft loop stalled {stall:.3f}s"

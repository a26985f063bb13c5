"""A node whose assignment set is larger than any one message may be: 42 tasks of ~420 KB each
(about 17.6 MB, above the 16 MiB a client accepts in one message). The orchestrator's proposals, the
change stream, the dispatcher's assignment push and the executor's status batches all go in bounded
parts, and the service runs in real containers."""

from __future__ import annotations

import pytest

from tests.integration.cluster import IMAGE, Cluster, containers, running_count, wait_until
from transport import limits

REPLICAS = 42
LABELS = 105  # of LABEL_VALUE_CHARS - 96 characters each: about 420 KB per task, under SPEC_BYTES


@pytest.fixture
def manager(tmp_path, docker_engine):
    cluster = Cluster(tmp_path)
    try:
        yield cluster.init_manager()
    finally:
        cluster.teardown()


def test_an_assignment_set_above_the_message_limit_reaches_the_node_in_pages(manager):
    value = "v" * (limits.LABEL_VALUE_CHARS - 96)
    assert REPLICAS * LABELS * len(value) > limits.REPLY_MESSAGE_BYTES
    labels = [arg for number in range(LABELS) for arg in ("--container-label", f"big{number}={value}")]
    # Killed at once when scaled to 0: sleep, as PID 1, ignores SIGTERM until Docker's 10 s grace ends.
    manager.shoal("service", "create", "--name", "heavy", "--replicas", str(REPLICAS), "--detach", *labels,
                  "--stop-grace-period", "0s", IMAGE, "sleep", "1000")
    # Waits on service ls (its RUNNING column counts what running_count counts, in a few bytes) rather
    # than on service ps, whose 17.6 MB of tasks each poll would take CPU from the cluster under test.
    wait_until(lambda: f"{REPLICAS}/{REPLICAS}" in manager.shoal("service", "ls", check=False).stdout, 240,
               interval=1, what="every heavy task running")
    assert running_count(manager, "heavy") == REPLICAS  # and every task, in pages, as service ps has them
    running = containers("heavy")
    assert len(running) == REPLICAS
    assert running[0].labels["big0"] == value
    manager.shoal("service", "scale", "heavy=0", "--detach")  # 42 patches of 420 KB tasks: several proposals
    wait_until(lambda: not containers("heavy"), 120, interval=1, what="the heavy containers to stop")
    assert running_count(manager, "heavy") == 0

"""The cluster's data key on real hosts: made at init, handed to managers that join or are promoted, never to
workers; one module-scoped cluster."""

from __future__ import annotations

import json
import stat

import pytest

from actors.common import datakey
from tests.integration.cluster import Cluster, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("keys"))
    try:
        cluster.init_manager()
        cluster.join("manager2", "manager")
        cluster.join("worker1", "worker")
        yield cluster
    finally:
        cluster.teardown()


def _cluster_id(host) -> str:
    return json.loads((host.state_dir / "host.json").read_text())["cluster_id"]


def _data_key(host) -> datakey.DataKey:
    return datakey.load(host.state_dir, _cluster_id(host))


def test_init_makes_a_private_data_key_that_a_joining_manager_gets_and_a_worker_does_not(cluster):
    manager, manager2, worker = cluster.hosts
    assert _data_key(manager) == _data_key(manager2)
    for host in (manager, manager2):
        for parts in (datakey.DATA_KEY_FILE, datakey.KEK_FILE):
            assert stat.S_IMODE(host.state_dir.joinpath(*parts).stat().st_mode) == 0o600
    assert datakey.wrapped_by(worker.state_dir) is None and not worker.state_dir.joinpath(*datakey.KEK_FILE).exists()


def test_a_promoted_worker_gets_the_data_key_and_a_demoted_manager_loses_it(cluster):
    manager, _, worker = cluster.hosts
    manager.shoal("node", "promote", worker.node_id)
    wait_until(lambda: datakey.wrapped_by(worker.state_dir) is not None, 20, what="the promoted worker's data key")
    assert _data_key(worker) == _data_key(manager)
    wait_until(lambda: worker.shoal("node", "ls", check=False).returncode == 0, 30, what="its CLI to work as a manager's")
    manager.shoal("node", "demote", worker.node_id)
    wait_until(lambda: json.loads((worker.state_dir / "host.json").read_text())["role"] == "worker", 20,
               what="the demoted host to switch to worker")
    wait_until(lambda: datakey.wrapped_by(worker.state_dir) is None, 10, what="its data key to be gone")

"""An image whose own HEALTHCHECK fails, rolled out with `shoal service update` on three real hosts: the
update policy rolls it back with nobody's help, and the CLI says so with a non-zero exit.
(test_rolling_update.py covers the policies through the control API with spec health checks.)"""

from __future__ import annotations

import subprocess

import docker
import pytest

from tests.integration.cluster import IMAGE, running_cluster, wait_until

SICK_IMAGE = "shoal-test:lead-sick"
# Stops at once on SIGTERM (a plain sleep as PID 1 ignores it until the grace period ends).
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]


def sick_image() -> None:
    """SICK_IMAGE: the test image with a HEALTHCHECK of its own that always fails (made with docker commit)."""
    client = docker.from_env()
    container = client.containers.create(IMAGE, ["true"])
    try:
        container.commit(repository="shoal-test", tag="lead-sick",
                         changes=["HEALTHCHECK --interval=500ms --timeout=2s --retries=1 CMD false"])
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def manager(tmp_path_factory, docker_engine):
    sick_image()
    try:
        with running_cluster(tmp_path_factory.mktemp("update-health")) as cluster:
            yield cluster.hosts[0]
    finally:
        subprocess.run(["docker", "rmi", SICK_IMAGE], capture_output=True)


def test_an_image_whose_healthcheck_fails_is_rolled_back_by_the_policy(manager):
    client = docker.from_env()
    manager.shoal("service", "create", "--name", "lead-rb", "--replicas", "2", "--stop-grace-period", "1s",
                  "--update-failure-action", "rollback", "--update-monitor", "10s", IMAGE, *SERVE)
    wait_until(lambda: len(client.api.containers(filters={"label": "shoal.service.name=lead-rb"})) == 2, 60,
               what="2 running replicas")
    update = manager.shoal("service", "update", "--image", SICK_IMAGE, "lead-rb", check=False, timeout=180)
    assert update.returncode != 0, update.stdout  # docker exits non-zero when its update was rolled back
    wait_until(lambda: manager.json("service", "inspect", "lead-rb")[0].get("UpdateStatus", {}).get("State")
               == "rollback_completed", 120, what="the rollback to complete")
    inspected = manager.json("service", "inspect", "lead-rb")[0]
    assert inspected["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == IMAGE
    wait_until(lambda: {c["Image"] for c in client.api.containers(filters={"label": "shoal.service.name=lead-rb"})}
               == {IMAGE} and len(client.api.containers(filters={"label": "shoal.service.name=lead-rb"})) == 2,
               60, what="2 replicas of the old image running again")
    manager.shoal("service", "rm", "lead-rb")

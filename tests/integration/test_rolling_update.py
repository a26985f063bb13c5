"""Rolling updates and rollback on three real hosts: the containers the engine runs, watched while they change.

Requests go to the control API directly (service_update/rollback as the CLI sends them: the full new spec
and the version it read)."""

from __future__ import annotations

import copy
import subprocess
import threading
import time

import pytest

from actors.common.hostconfig import HostConfig
from tests.integration.cluster import IMAGE, Cluster, call_as, containers, wait_until
from transport.rpc import RpcError

NEW_IMAGE = "shoal-test:h1-v2"
# Stops at once on SIGTERM (a plain sleep as PID 1 ignores it until the grace period ends).
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
MS = 1_000_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    subprocess.run(["docker", "tag", IMAGE, NEW_IMAGE], check=True, capture_output=True)
    cluster = Cluster(tmp_path_factory.mktemp("rolling"))
    try:
        cluster.init_manager()
        cluster.join_worker("worker1")
        cluster.join_worker("worker2")
        manager = cluster.hosts[0]
        wait_until(lambda: manager.shoal("node", "ls").stdout.count("Ready") == 3, 30, what="3 ready nodes")
        yield cluster
    finally:
        cluster.teardown()
        subprocess.run(["docker", "rmi", NEW_IMAGE], capture_output=True)


@pytest.fixture(scope="module")
def api(cluster):
    manager = cluster.hosts[0]
    admin = HostConfig.load(manager.state_dir).admin_keys()

    def call(kind, body):
        reply = call_as(admin, manager, "control", kind, body, timeout=10.0)
        if isinstance(reply, RpcError):
            raise reply
        return reply
    return call


def spec(name, replicas, image=IMAGE, args=SERVE, **update):
    return {"Name": name, "Mode": {"Replicated": {"Replicas": replicas}},
            "TaskTemplate": {"ContainerSpec": {"Image": image, "Args": list(args)}, "RestartPolicy": {"Delay": 0}},
            "UpdateConfig": {"Monitor": 1000 * MS, **update}}


def update(api, name, **changes):
    """Send the service's spec with ``changes`` to its ContainerSpec, as read (version included)."""
    service = api("service_inspect", {"ref": name})
    new = copy.deepcopy(service["Spec"])
    new["TaskTemplate"]["ContainerSpec"].update(changes)
    return api("service_update", {"ref": name, "version": service["Version"]["Index"], "spec": new})


def status(api, name):
    return api("service_inspect", {"ref": name}).get("UpdateStatus") or {}


def images(name):
    """Image -> how many of the service's containers run it now."""
    counts = {}
    for container in containers(name):
        image = container.attrs["Config"]["Image"]
        counts[image] = counts.get(image, 0) + 1
    return counts


def converged(api, name, replicas, image):
    wait_until(lambda: images(name) == {image: replicas}, 60, what=f"{replicas} containers of {image}")


class Watcher(threading.Thread):
    """Polls the engine while an update runs: the fewest containers running at once, and when each
    container of the new image first appeared."""

    def __init__(self, name, image):
        super().__init__(daemon=True)
        self.name, self.image = name, image
        self.fewest, self.appeared, self.done = None, {}, threading.Event()

    def run(self):
        while not self.done.is_set():
            running = containers(self.name)
            self.fewest = len(running) if self.fewest is None else min(self.fewest, len(running))
            for container in running:
                if container.attrs["Config"]["Image"] == self.image:
                    self.appeared.setdefault(container.id, time.monotonic())
            time.sleep(0.05)


def test_a_rolling_update_goes_two_tasks_at_a_time_with_the_delay_between(api):
    api("service_create", {"spec": spec("h1-roll", 6, Parallelism=2, Delay=1500 * MS)})
    converged(api, "h1-roll", 6, IMAGE)
    watcher = Watcher("h1-roll", NEW_IMAGE)
    watcher.start()
    try:
        update(api, "h1-roll", Image=NEW_IMAGE)
        converged(api, "h1-roll", 6, NEW_IMAGE)
        wait_until(lambda: status(api, "h1-roll").get("State") == "completed", 20, what="update completed")
    finally:
        watcher.done.set()
        watcher.join()
    assert watcher.fewest >= 4, "never more than 2 old tasks down at once"
    times = sorted(watcher.appeared.values())
    assert len(times) == 6
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert sum(gap >= 1.4 for gap in gaps) >= 2, f"three batches of two, 1.5 s apart: {gaps}"
    final = status(api, "h1-roll")
    assert final["Message"] == "update completed" and final["CompletedAt"] >= final["StartedAt"]
    service = api("service_inspect", {"ref": "h1-roll"})
    assert service["SpecVersion"] == {"Index": 2} and service["PreviousSpecVersion"] == {"Index": 1}


def test_an_update_from_a_stale_read_is_refused(api):
    service = api("service_inspect", {"ref": "h1-roll"})
    stale = service["Version"]["Index"]
    new = copy.deepcopy(service["Spec"])
    new["Labels"] = {"h1": "first"}
    api("service_update", {"ref": "h1-roll", "version": stale, "spec": new})
    new["Labels"] = {"h1": "second"}
    with pytest.raises(RpcError, match="^update out of sequence$") as refused:
        api("service_update", {"ref": "h1-roll", "version": stale, "spec": new})
    assert refused.value.code == "out_of_sequence"
    assert api("service_inspect", {"ref": "h1-roll"})["Spec"]["Labels"] == {"h1": "first"}


def test_rollback_restores_the_previous_image(api):
    update(api, "h1-roll", Image=IMAGE)  # the previous spec now has the new image: roll back to it
    converged(api, "h1-roll", 6, IMAGE)
    service = api("service_inspect", {"ref": "h1-roll"})
    api("service_rollback", {"ref": "h1-roll", "version": service["Version"]["Index"]})
    assert status(api, "h1-roll")["Message"] == "manually requested rollback"
    converged(api, "h1-roll", 6, NEW_IMAGE)
    wait_until(lambda: status(api, "h1-roll").get("State") == "rollback_completed", 20, what="rollback completed")
    api("service_rm", {"ref": "h1-roll"})


def test_a_stepped_update_runs_one_batch_per_continue_and_resume_finishes_it(api):
    api("service_create", {"spec": spec("h1-step", 3)})
    converged(api, "h1-step", 3, IMAGE)
    service = api("service_inspect", {"ref": "h1-step"})
    new = copy.deepcopy(service["Spec"])
    new["TaskTemplate"]["ContainerSpec"]["Image"] = NEW_IMAGE
    api("service_update", {"ref": "h1-step", "version": service["Version"]["Index"], "spec": new, "step": True})

    def paused_with(count):
        return (status(api, "h1-step").get("State") == "paused" and images("h1-step") == {IMAGE: 3 - count, NEW_IMAGE: count})
    wait_until(lambda: paused_with(1), 30, what="paused after the first batch")
    assert status(api, "h1-step")["Message"].startswith("update paused after one step")
    version = api("service_inspect", {"ref": "h1-step"})["Version"]["Index"]
    api("service_update", {"ref": "h1-step", "version": version, "resume": "step"})
    wait_until(lambda: paused_with(2), 30, what="paused after the second batch")
    version = api("service_inspect", {"ref": "h1-step"})["Version"]["Index"]
    api("service_update", {"ref": "h1-step", "version": version, "resume": "all"})
    converged(api, "h1-step", 3, NEW_IMAGE)
    wait_until(lambda: status(api, "h1-step").get("State") == "completed", 20, what="update completed")


def test_restart_replaces_every_task_within_the_update_policy(api):
    before = {c.id for c in containers("h1-step")}
    api("service_restart", {"ref": "h1-step"})
    wait_until(lambda: len({c.id for c in containers("h1-step")} - before) == 3, 40, what="3 new containers")
    wait_until(lambda: status(api, "h1-step").get("State") == "completed", 20, what="restart completed")
    assert api("service_inspect", {"ref": "h1-step"})["Spec"]["TaskTemplate"]["ForceUpdate"] == 1
    api("service_rm", {"ref": "h1-step"})


def failing(name):
    """Containers of ``name`` running the original command (the failing ones exit at once)."""
    return [c for c in containers(name) if c.attrs["Config"]["Cmd"][-1] == SERVE[-1]]


def test_an_update_whose_new_tasks_fail_pauses_and_keeps_the_rest(api):
    api("service_create", {"spec": spec("h1-pause", 3)})
    converged(api, "h1-pause", 3, IMAGE)
    update(api, "h1-pause", Args=["sh", "-c", "exit 1"])
    paused = wait_until(lambda: status(api, "h1-pause").get("State") == "paused" and status(api, "h1-pause"), 30,
                        what="update paused")
    assert paused["Message"].startswith("update paused due to failure or early termination of task ")
    time.sleep(2)  # the pause holds: no further slot is touched
    assert len(failing("h1-pause")) == 2
    api("service_rm", {"ref": "h1-pause"})


def test_an_update_whose_new_tasks_fail_rolls_back_by_itself(api):
    api("service_create", {"spec": spec("h1-back", 3, FailureAction="rollback")})
    converged(api, "h1-back", 3, IMAGE)
    update(api, "h1-back", Args=["sh", "-c", "exit 1"])
    wait_until(lambda: status(api, "h1-back").get("State") == "rollback_completed", 40, what="rolled back")
    service = api("service_inspect", {"ref": "h1-back"})
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == SERVE
    assert service["UpdateStatus"]["Message"] == "rollback completed"
    wait_until(lambda: len(failing("h1-back")) == 3, 20, what="3 containers of the original spec")
    api("service_rm", {"ref": "h1-back"})


# -- health checks: start-first keeps the replica count healthy; an unhealthy update rolls back -------------

HEALTHY_LATER = ["sh", "-c", "sleep 1; touch /tmp/ok; exec sleep 1000"]
CHECK_OK = {"Test": ["CMD-SHELL", "test -e /tmp/ok"], "Interval": 200 * MS, "Retries": 1, "StartPeriod": 20_000 * MS}


def checked_spec(name, replicas, **update):
    result = spec(name, replicas, args=HEALTHY_LATER, **update)
    result["TaskTemplate"]["ContainerSpec"].update({"Healthcheck": CHECK_OK, "StopGracePeriod": 0})
    return result


def healthy(name):
    """The service's containers the engine reports healthy."""
    return [c for c in containers(name) if (c.attrs["State"].get("Health") or {}).get("Status") == "healthy"]


def test_a_start_first_update_with_a_health_check_never_drops_below_the_replica_count(api):
    api("service_create", {"spec": checked_spec("h1-start", 3, Order="start-first")})
    wait_until(lambda: len(healthy("h1-start")) == 3, 30, what="3 healthy containers")
    fewest = [3]
    done = threading.Event()

    def watch():
        while not done.is_set():
            fewest[0] = min(fewest[0], len(healthy("h1-start")))
            time.sleep(0.05)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        update(api, "h1-start", Env=["V=2"])
        wait_until(lambda: status(api, "h1-start").get("State") == "completed", 45, what="update completed")
    finally:
        done.set()
        watcher.join()
    assert all("V=2" in c.attrs["Config"]["Env"] for c in healthy("h1-start")) and len(healthy("h1-start")) == 3
    assert fewest[0] >= 3, "start-first with a health check keeps the replica count healthy throughout"
    api("service_rm", {"ref": "h1-start"})


def test_an_update_whose_new_tasks_fail_their_health_check_rolls_back_by_itself(api):
    api("service_create", {"spec": checked_spec("h1-sick", 2, FailureAction="rollback")})
    wait_until(lambda: len(healthy("h1-sick")) == 2, 30, what="2 healthy containers")
    update(api, "h1-sick", Healthcheck={"Test": ["CMD", "false"], "Interval": 200 * MS, "Retries": 1})
    back = wait_until(lambda: status(api, "h1-sick").get("State") == "rollback_completed" and status(api, "h1-sick"),
                      45, what="rolled back")
    assert back["Message"] == "rollback completed"
    assert api("service_inspect", {"ref": "h1-sick"})["Spec"]["TaskTemplate"]["ContainerSpec"]["Healthcheck"] == CHECK_OK
    wait_until(lambda: len(healthy("h1-sick")) == 2, 20, what="2 healthy containers of the original spec")
    assert all(c.attrs["Config"]["Healthcheck"]["Test"] == CHECK_OK["Test"] for c in containers("h1-sick"))
    api("service_rm", {"ref": "h1-sick"})

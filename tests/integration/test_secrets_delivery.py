"""Delivery of secrets and configs to the tasks that need them, on a real manager and worker (one module
cluster): the files are in each container with the spec's owner and mode as ``stat`` shows them there,
read-only; each task's files sit in a tmpfs of its own on the host, gone once the service is removed; a
worker asking, with its real host key over CURVE, for the data of a task that is not its own is refused;
and the canary (contract 5): not one copy of the secret's bytes, plain, base64 or hex, under any host's
state directory, in ``docker inspect`` of any container or in the engine's files of those containers."""

from __future__ import annotations

import base64
import json
import pathlib
import re
import secrets
import subprocess

import docker
import pytest

from actors.executor import taskfiles, tmpfs
from tests.integration.cluster import IMAGE, SHOAL, call_as, containers, running_cluster, tasks, wait_until
from tests.integration.largestore import metric, restart_actor
from transport import keys

SERVICE = "s2-app"
CANARY = f"s2-canary-{secrets.token_hex(16)}".encode()
CONFIG = b"listen 8080;\n"
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    """A manager and a worker running one task each (global mode) of a service that mounts the canary secret
    twice (its default target, and /run/secrets/db.pw as 1000:1001 0400) and a config at /etc/app.conf (0440)."""
    with running_cluster(tmp_path_factory.mktemp("s2-delivery"), workers=1) as made:
        manager = made.hosts[0]
        for noun, name, data in (("secret", "s2-canary", CANARY), ("config", "s2-conf", CONFIG)):
            created = subprocess.run(SHOAL + ["--state-dir", str(manager.state_dir), noun, "create", name, "-"],
                                     input=data, capture_output=True, timeout=60)
            assert created.returncode == 0, created.stderr
        manager.shoal("service", "create", "--detach", "--name", SERVICE, "--mode", "global",
                      "--secret", "s2-canary",
                      "--secret", "source=s2-canary,target=db.pw,uid=1000,gid=1001,mode=0400",
                      "--config", "source=s2-conf,target=/etc/app.conf,mode=0440", IMAGE, *SERVE)
        wait_until(lambda: len(running(manager)) == 2, 40, what="a running task on each node")
        yield made


def running(manager) -> list[dict]:
    return [t for t in tasks(manager, SERVICE) if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]


def in_container(container, script: str) -> tuple[int, str]:
    result = container.exec_run(["sh", "-c", script])
    return result.exit_code, result.output.decode()


def test_each_container_sees_the_files_with_their_owner_mode_and_data(cluster):
    found = containers(SERVICE)
    assert len(found) == 2
    for container in found:
        assert in_container(container, "stat -c '%u %g %a' /run/secrets/s2-canary /run/secrets/db.pw /etc/app.conf") \
            == (0, "0 0 444\n1000 1001 400\n0 0 440\n")
        assert in_container(container, "cat /run/secrets/s2-canary /run/secrets/db.pw /etc/app.conf") \
            == (0, (CANARY + CANARY + CONFIG).decode())


def test_secrets_and_configs_are_read_only_in_the_container(cluster):
    for container in containers(SERVICE):
        for path in ("/etc/app.conf", "/run/secrets/s2-canary"):
            code, output = in_container(container, f"echo changed > {path}")
            assert code != 0 and "Read-only file system" in output, output
        assert in_container(container, "cat /etc/app.conf")[1] == CONFIG.decode()


def mounts_under(path: str) -> list[tuple[str, str]]:
    """(mount point, file system type) of every mount at or below ``path`` on this host."""
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            if fields[4] == path or fields[4].startswith(path + "/"):
                found.append((fields[4], fields[fields.index("-") + 1]))
    return found


def test_each_tasks_files_are_in_a_tmpfs_of_its_own_on_its_host(cluster):
    for task in running(cluster.hosts[0]):
        directory = taskfiles.task_directory(tmpfs.ROOT, task["NodeID"], task["ID"])
        assert mounts_under(directory) == [(directory, "tmpfs")]
        assert sorted(p.name for p in pathlib.Path(directory).iterdir()) == ["config-0", "secret-0", "secret-1"]
    for host in cluster.hosts:  # each executor fetched its task's data (its metric counts it)
        assert metric(host, "executor", 'shoal_executor_task_data_fetches_total{outcome="ok"}') >= 1


def test_a_restarted_executor_drops_leftovers_and_keeps_only_its_running_tasks_files(cluster):
    """What an executor that crashed left (a tmpfs whose task is gone, a directory never mounted) goes
    once the next one runs; the one tmpfs left on the worker is its running task's (the same task, or
    its replacement when the restart took long enough for the node to be marked down)."""
    manager, worker = cluster.hosts
    root = taskfiles.tasks_directory(tmpfs.ROOT, worker.node_id)
    mounted_leftover, bare_leftover = f"{root}/s2-leftover", f"{root}/s2-halfmade"
    for directory in (mounted_leftover, bare_leftover):
        pathlib.Path(directory).mkdir(mode=0o700)
    tmpfs.mount_tmpfs(mounted_leftover, 4096)

    def settled():
        ours = [t["ID"] for t in running(manager) if t["NodeID"] == worker.node_id]
        return len(ours) == 1 and mounts_under(root) == [(f"{root}/{ours[0]}", "tmpfs")] \
            and sorted(p.name for p in pathlib.Path(root).iterdir()) == ours
    try:
        restart_actor(worker, "executor")
        wait_until(settled, 30, what="only the running task's tmpfs on the worker")
    finally:
        for directory in (mounted_leftover, bare_leftover):
            tmpfs.unmount(directory)
            if pathlib.Path(directory).exists():
                pathlib.Path(directory).rmdir()


def live_session(host) -> str:
    """The session id the host's executor opened last (its log says so)."""
    log = (host.state_dir / "logs" / "executor.log").read_text()
    return re.findall(r'msg="session opened" node=\S+ session=(\S+)', log)[-1]


def test_a_worker_is_refused_the_data_of_a_task_that_is_not_its_own(cluster):
    manager, worker = cluster.hosts
    by_node = {t["NodeID"]: t["ID"] for t in running(manager)}
    worker_key = keys.load(worker.state_dir / "keys", "host")

    def ask(task_id):
        return call_as(worker_key, manager, "dispatcher", "task_data",
                       {"node_id": worker.node_id, "session_id": live_session(worker), "task_id": task_id})
    refused = ask(by_node[manager.node_id])
    assert (refused.code, str(refused)) == ("permission_denied",
                                            f"task {by_node[manager.node_id]} is not assigned to this node")
    # The same key, connection and session get their own task's data: the refusal is the rule, not a broken call.
    own = ask(by_node[worker.node_id])
    assert [(s["Name"], s["Data"]) for s in own["secrets"]] == [("s2-canary", CANARY)]
    assert [(c["Name"], c["Data"]) for c in own["configs"]] == [("s2-conf", CONFIG)]


def encodings(data: bytes) -> list[bytes]:
    """``data`` as it could be written: plain, hex (both cases), and base64 at each of the three alignments
    it may start at inside a longer encoded value (the characters that depend on neighbours left out)."""
    found = [data, data.hex().encode(), data.hex().upper().encode()]
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        found.append(encoded[4 if offset else 0:-4])  # the quantum touching neighbours on either side dropped
    return found


def occurrences(root: pathlib.Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            hits.extend(f"{path}: {needle[:12]!r}..." for needle in needles if needle in content)
    return hits


def test_canary_no_copy_of_the_secret_in_state_directories_or_the_engine(cluster):
    manager = cluster.hosts[0]
    needles = encodings(CANARY)
    # The data IS in each container at its target, so a search finding nothing means something.
    for container in containers(SERVICE):
        assert in_container(container, "cat /run/secrets/s2-canary")[1].encode() == CANARY
    manager.shoal("secret", "ls")  # one more request through the control API before looking
    hits = [hit for host in cluster.hosts for hit in occurrences(host.state_dir, needles)]
    client = docker.from_env()
    engine_root = pathlib.Path(client.info()["DockerRootDir"])
    node_ids = [host.node_id for host in cluster.hosts]
    engine_containers = [c for node_id in node_ids
                         for c in client.containers.list(all=True, filters={"label": f"shoal.node.id={node_id}"})]
    assert len(engine_containers) >= 2
    for container in engine_containers:
        inspected = json.dumps(client.api.inspect_container(container.id)).encode()
        hits.extend(f"docker inspect {container.name}" for needle in needles if needle in inspected)
        hits.extend(occurrences(engine_root / "containers" / container.id, needles))
    assert hits == []


def test_the_tmpfs_is_gone_once_the_service_is_removed(cluster):
    manager = cluster.hosts[0]
    manager.shoal("service", "rm", SERVICE)
    roots = [taskfiles.tasks_directory(tmpfs.ROOT, host.node_id) for host in cluster.hosts]
    wait_until(lambda: not containers(SERVICE, running_only=False), 30, what="the service's containers removed")
    wait_until(lambda: not any(mounts_under(root) for root in roots), 10, what="every task tmpfs unmounted")
    assert all(not pathlib.Path(root).exists() or not any(pathlib.Path(root).iterdir()) for root in roots)

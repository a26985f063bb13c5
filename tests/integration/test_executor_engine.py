"""The Docker adapter against the real engine, with the shoal-test:latest image (never skipped)."""

import concurrent.futures
import socket
import threading
import time

import pytest

from actors.executor import core
from actors.executor.engine import DockerEngine, EngineError, EngineUnavailable
from transport import schema

IMAGE = "shoal-test:latest"


def make_task(args=("sleep", "100"), image=IMAGE, command=None, slot=1, ports=()):
    container_spec = {"Image": image, "Args": list(args), "Env": ["GREETING=hello"], "Labels": {"extra": "1"}}
    if command:
        container_spec["Command"] = list(command)
    return {"ID": schema.new_id(), "ServiceID": "svc-id", "Slot": slot, "NodeID": "",
            "ServiceAnnotations": {"Name": "enginetest"}, "Spec": {"ContainerSpec": container_spec},
            "DesiredState": "running", "Status": {"State": "assigned"}, "Endpoint": {"Ports": list(ports)}}


@pytest.fixture
def node_ids(docker_client):
    """Fresh node ids for a test; their containers are removed afterwards."""
    made = []

    def new_node_id():
        made.append("enginetest-" + schema.new_id()[:10])
        return made[-1]

    yield new_node_id
    for node_id in made:
        for container in docker_client.containers.list(all=True, filters={"label": f"shoal.node.id={node_id}"}):
            container.remove(force=True)


@pytest.fixture
def engine(node_ids, docker_client):
    return DockerEngine(node_ids(), docker_client)


def run(engine, task):
    container_id = engine.create(task)
    engine.start(container_id)
    return container_id


def wait_for(predicate, seconds=10.0, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_create_names_and_labels_the_container_like_swarm(engine, docker_client):
    task = make_task()
    container = docker_client.containers.get(engine.create(task))
    assert container.name == f"enginetest.1.{task['ID']}"
    assert container.labels == {"shoal.node.id": engine.node_id, "shoal.service.id": "svc-id",
                                "shoal.service.name": "enginetest", "shoal.task.id": task["ID"],
                                "shoal.task.name": "enginetest.1", "extra": "1"}
    assert "GREETING=hello" in container.attrs["Config"]["Env"]
    assert container.attrs["Config"]["Cmd"] == ["sleep", "100"]


def test_a_global_task_is_named_after_its_node(engine, docker_client):
    task = dict(make_task(slot=0), NodeID=engine.node_id)
    assert docker_client.containers.get(engine.create(task)).name == f"enginetest.{engine.node_id}.{task['ID']}"


def test_command_replaces_the_entrypoint_and_args_follow(engine):
    container_id = run(engine, make_task(command=["sh", "-c"], args=["exit $((40 + 2))"]))
    assert wait_for(lambda: engine.inspect(container_id).state == "exited", what="exit")
    assert engine.inspect(container_id).exit_code == 42


def test_inspect_reports_pid_times_and_task_of_a_running_container(engine):
    task = make_task()
    before = time.time()
    observed = engine.inspect(run(engine, task))
    assert (observed.task_id, observed.state, observed.exit_code, observed.error) == (task["ID"], "running", 0, "")
    assert observed.pid > 0 and before - 1 < observed.started_at < time.time() + 1 and observed.finished_at == 0.0


def test_list_shows_only_this_nodes_containers_in_every_state(engine, node_ids, docker_client):
    other = DockerEngine(node_ids(), docker_client)
    running, created, other_task = make_task(), make_task(), make_task()
    run(engine, running)
    engine.create(created)
    run(other, other_task)
    states = {c.task_id: c.state for c in engine.list_containers()}
    assert states == {running["ID"]: "running", created["ID"]: "created"}
    assert [c.task_id for c in other.list_containers()] == [other_task["ID"]]


def test_list_notices_state_changes_of_remembered_containers(engine):
    container_id = run(engine, make_task())
    assert engine.list_containers()[0].state == "running"
    engine.stop(container_id, timeout=0)
    stopped = engine.list_containers()[0]
    assert stopped.state == "exited" and stopped.exit_code == 137 and stopped.pid == 0 and stopped.finished_at > 0


def test_stop_then_remove_and_removing_twice_is_fine(engine):
    container_id = run(engine, make_task())
    engine.stop(container_id, timeout=1)
    assert engine.inspect(container_id).state == "exited"
    engine.remove(container_id)
    engine.remove(container_id)
    assert engine.list_containers() == []


def test_remove_kills_a_running_container(engine):
    engine.remove(run(engine, make_task()))
    assert engine.list_containers() == []


def test_a_missing_image_is_an_engine_error_in_the_engines_words(engine):
    with pytest.raises(EngineError, match="^No such image: nosuch-image:latest$"):
        engine.create(make_task(image="nosuch-image:latest"))


def test_a_bad_command_fails_the_start_and_leaves_the_error_on_the_container(engine):
    container_id = engine.create(make_task(args=["nosuchcmd"]))
    with pytest.raises(EngineError, match="nosuchcmd"):
        engine.start(container_id)
    observed = engine.list_containers()[0]
    assert observed.state == "created" and "nosuchcmd" in observed.error


def test_operations_on_a_missing_container_are_engine_errors(engine):
    for operation in (engine.start, engine.inspect, lambda cid: engine.stop(cid, 1)):
        with pytest.raises(EngineError, match="No such container"):
            operation("0" * 64)


def test_host_mode_ports_are_published(engine, docker_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    ports = [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": free_port, "PublishMode": "host"},
             {"Protocol": "tcp", "TargetPort": 81, "PublishedPort": 30081, "PublishMode": "ingress"}]
    container_id = run(engine, make_task(args=["httpd", "-f", "-p", "80", "-h", "/www"], ports=ports))
    bindings = docker_client.containers.get(container_id).attrs["HostConfig"]["PortBindings"]
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": str(free_port)}]}


def test_events_of_this_node_arrive_within_moments(engine, node_ids, docker_client):
    other = DockerEngine(node_ids(), docker_client)
    seen, stop = [], threading.Event()
    watcher = threading.Thread(target=engine.watch_events, args=(seen.append, stop), daemon=True)
    watcher.start()
    try:
        time.sleep(0.3)
        mine, theirs = make_task(args=["true"]), make_task(args=["true"])
        run(other, theirs)
        started = time.monotonic()
        container_id = run(engine, mine)
        wait_for(lambda: seen.count(mine["ID"]) >= 2, what="start and die events")
        assert time.monotonic() - started < 2.0
        engine.remove(container_id)
        wait_for(lambda: seen.count(mine["ID"]) >= 3, what="destroy event")
        assert theirs["ID"] not in seen
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert not watcher.is_alive()


def test_the_engine_can_be_used_from_a_thread_pool(engine):
    tasks = [make_task() for _ in range(12)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda task: run(engine, task), tasks))
        listings = list(pool.map(lambda _: engine.list_containers(), range(6)))
    assert all({c.task_id for c in listing} == {t["ID"] for t in tasks} for listing in listings)


def test_description_has_dockers_node_shape(engine):
    description = engine.engine_description()
    assert description["Hostname"] and description["Engine"]["EngineVersion"]
    assert description["Platform"]["OS"] == "linux" and description["Platform"]["Architecture"]
    assert description["Resources"]["NanoCPUs"] >= 1_000_000_000 and description["Resources"]["MemoryBytes"] > 0


def test_the_core_drives_the_real_engine_through_a_lifecycle(engine):
    """Core plus adapter, as the actor runs them: run, adopt after a restart, shut down, remove."""
    task = make_task()
    task["Spec"]["ContainerSpec"]["StopGracePeriod"] = 1_000_000_000  # sleep, as PID 1, ignores SIGTERM
    reported: dict = {}

    def run_pass(tasks):
        actions = core.decide(tasks, engine.list_containers(), reported, time.time())
        for action in actions:
            outcome = [action] if isinstance(action, core.Report) else core.perform(action, engine, time.time())
            reported.update({report.task_id: report.status for report in outcome})
        return actions

    run_pass([task])
    assert reported[task["ID"]]["State"] == "running"
    reported.clear()  # an executor restart: the store says accepted, the container runs
    assert [type(a) for a in run_pass([dict(task, Status={"State": "accepted"})])] == [core.Report]
    assert len(engine.list_containers()) == 1
    stopping = dict(task, DesiredState="shutdown", Status={"State": "running"})
    assert [type(a) for a in run_pass([stopping])] == [core.Stop]
    assert reported[task["ID"]]["State"] == "shutdown"  # the Stop itself reported it
    assert run_pass([stopping]) == []
    assert [type(a) for a in run_pass([dict(stopping, DesiredState="remove")])] == [core.Remove]
    assert engine.list_containers() == []


def test_an_engine_that_cannot_be_reached_is_unavailable_not_a_refusal(tmp_path, monkeypatch):
    """With DOCKER_HOST naming a socket nobody listens on, the adapter is still made (its client is made
    on first use) and every request raises EngineUnavailable, which the executor waits out instead of
    rejecting tasks; a refusal by a live engine stays a plain EngineError."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    absent = DockerEngine("enginetest-absent")
    for request in (absent.list_containers, absent.engine_description, lambda: absent.create(make_task())):
        with pytest.raises(EngineUnavailable):
            request()


def test_a_refusal_by_the_engine_is_not_unavailability(engine):
    with pytest.raises(EngineError) as refused:
        engine.create(make_task(image="nosuch:latest"))
    assert not isinstance(refused.value, EngineUnavailable)

"""The Docker adapter against the real engine."""

import threading
import time

import pytest

from actors.executor.engine import DockerEngine, EngineError
from transport import schema

IMAGE = "shoal-test:latest"


def make_task(image=IMAGE, args=("sleep", "100")):
    return {"ID": schema.new_id(), "ServiceID": "svc", "Slot": 1, "ServiceAnnotations": {"Name": "enginetest"},
            "Spec": {"ContainerSpec": {"Image": image, "Args": list(args), "Env": ["K=V"], "Labels": {"extra": "1"}}}}


@pytest.fixture
def engine(docker_engine):
    node_id = "enginetest-" + schema.new_id()[:8]
    engine = DockerEngine(node_id)
    yield engine
    for container in docker_engine.containers.list(all=True, filters={"label": f"shoal.node.id={node_id}"}):
        container.remove(force=True)


def test_create_start_observe_stop_remove(engine, docker_engine):
    task = make_task()
    container_id = engine.create(task)
    engine.start(container_id)
    observed = engine.observe(container_id)
    assert observed.state == "running" and observed.task_id == task["ID"] and observed.pid > 0
    labels = docker_engine.containers.get(container_id).labels
    assert labels["shoal.task.name"] == "enginetest.1" and labels["extra"] == "1"
    assert [c.task_id for c in engine.list_containers()] == [task["ID"]]
    engine.stop(container_id, timeout=1)
    stopped = engine.list_containers()[0]
    assert stopped.state == "exited" and stopped.exit_code is not None
    engine.remove(container_id)
    engine.remove(container_id)  # already gone: fine
    assert engine.list_containers() == []


def test_a_missing_image_is_an_engine_error_with_the_engines_words(engine):
    with pytest.raises(EngineError, match="No such image"):
        engine.create(make_task(image="nosuch-image:latest"))


def test_exit_codes_are_read_from_the_container_list(engine):
    container_id = engine.create(make_task(args=("sh", "-c", "exit 3")))
    engine.start(container_id)
    deadline = time.monotonic() + 10
    while engine.list_containers()[0].state != "exited" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.list_containers()[0].exit_code == 3


def test_events_arrive_for_this_nodes_containers(engine):
    seen, stop = [], threading.Event()
    watcher = threading.Thread(target=engine.watch_events, args=(seen.append, stop), daemon=True)
    watcher.start()
    time.sleep(0.3)
    task = make_task(args=("true",))
    engine.start(engine.create(task))
    deadline = time.monotonic() + 10
    while task["ID"] not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    assert task["ID"] in seen


def test_description_has_dockers_shape(engine):
    description = engine.engine_description()
    assert description["Hostname"] and description["Engine"]["EngineVersion"]
    assert description["Resources"]["NanoCPUs"] > 0

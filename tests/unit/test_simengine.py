"""The simulated engine: containers as records, starts that take time, failures a task's spec asks for."""

import threading
import time

import pytest

from actors.executor import core
from actors.executor.engine import EngineError
from actors.executor.simengine import SimEngine


class Clock:
    """A clock the test moves; sleeping moves it too."""

    def __init__(self):
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def task(task_id="t1", env=None, healthcheck=None, name="web"):
    spec = {"Image": "busybox", "Env": env or []}
    if healthcheck:
        spec["Healthcheck"] = healthcheck
    return {"ID": task_id, "ServiceID": "s", "Slot": 1, "NodeID": "n1", "DesiredState": "running",
            "ServiceAnnotations": {"Name": name}, "Spec": {"ContainerSpec": spec}, "Status": {"State": "assigned"}}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(clock):
    return SimEngine("n1", "sim-1", start_delay=0.5, clock=clock, sleep=clock.sleep)


def test_a_created_container_runs_after_the_start_delay(engine, clock):
    container_id = engine.create(task())
    assert engine.inspect(container_id).state == "created"
    engine.start(container_id)
    seen = engine.inspect(container_id)
    assert clock.slept == [0.5]
    assert (seen.state, seen.task_id, seen.started_at) == ("running", "t1", clock.now)
    assert [c.container_id for c in engine.list_containers()] == [container_id]


def test_the_executor_core_reports_a_simulated_container_running(engine, clock):
    reports = core.perform(core.Create(task()), engine, clock.now)
    assert [r.status["State"] for r in reports] == ["running"]


def test_a_container_name_is_used_once(engine):
    engine.create(task())
    with pytest.raises(EngineError, match="already in use"):
        engine.create(task())


def test_fail_create_refuses_the_create_as_a_missing_image(engine, clock):
    with pytest.raises(EngineError, match="No such image: busybox"):
        engine.create(task(env=["SHOAL_SIM_FAIL=create"]))
    reports = core.failure_reports(core.Create(task()), "No such image: busybox", clock.now)
    assert reports[0].status["State"] == "rejected"
    assert engine.list_containers() == []


def test_fail_start_leaves_the_container_created_with_the_error(engine):
    container_id = engine.create(task(env=["SHOAL_SIM_FAIL=start"]))
    with pytest.raises(EngineError, match="simulated start failure"):
        engine.start(container_id)
    seen = engine.inspect(container_id)
    assert seen.state == "created" and "simulated start failure" in seen.error
    assert core.observed_status(seen, 0.0)["State"] == "rejected"


def test_a_container_exits_when_its_environment_says(engine, clock):
    container_id = engine.create(task(env=["SHOAL_SIM_EXIT_AFTER=3", "SHOAL_SIM_EXIT_CODE=2"]))
    engine.start(container_id)
    started = clock.now
    clock.now += 2.9
    assert engine.inspect(container_id).state == "running"
    clock.now += 0.2
    seen = engine.inspect(container_id)
    assert (seen.state, seen.exit_code, seen.finished_at) == ("exited", 2, started + 3)
    assert core.observed_status(seen, clock.now)["State"] == "failed"


def test_exit_settings_come_through_templates(engine, clock):
    container_id = engine.create(task(env=["SHOAL_SIM_EXIT_AFTER={{.Task.Slot}}"]))
    engine.start(container_id)
    clock.now += 1
    assert engine.inspect(container_id).exit_code == 0 and engine.inspect(container_id).state == "exited"


def test_an_exit_setting_that_is_not_a_number_is_refused(engine):
    with pytest.raises(EngineError, match="SHOAL_SIM_EXIT_AFTER"):
        engine.create(task(env=["SHOAL_SIM_EXIT_AFTER=soon"]))


def test_a_bad_template_is_refused_as_the_real_engine_refuses_it(engine):
    with pytest.raises(EngineError, match="template"):
        engine.create(task(env=["A={{.Nope}}"]))


def test_stop_then_remove(engine):
    container_id = engine.create(task())
    engine.start(container_id)
    engine.stop(container_id, 10)
    seen = engine.inspect(container_id)
    assert (seen.state, seen.exit_code) == ("exited", 143)
    engine.remove(container_id)
    engine.remove(container_id)  # already gone is fine
    assert engine.list_containers() == []
    with pytest.raises(EngineError, match="No such container"):
        engine.inspect(container_id)


def test_a_health_checked_container_is_healthy_once_running(engine):
    container_id = engine.create(task(healthcheck={"Test": ["CMD", "true"]}))
    assert engine.inspect(container_id).health == ""
    engine.start(container_id)
    assert engine.inspect(container_id).health == "healthy"
    other = engine.create(task("t2", healthcheck={"Test": ["NONE"]}))
    engine.start(other)
    assert engine.inspect(other).health == ""


def test_the_description_has_dockers_shape(engine):
    description = engine.engine_description()
    assert description["Hostname"] == "sim-1"
    assert description["Resources"] == {"NanoCPUs": 4_000_000_000, "MemoryBytes": 8 << 30}
    assert description["Platform"]["OS"] == "linux"


def test_watch_events_reports_starts_exits_and_removals(clock):
    engine = SimEngine("n1", "sim-1", clock=clock, sleep=clock.sleep)
    seen, stop = [], threading.Event()
    watcher = threading.Thread(target=engine.watch_events, args=(seen.append, stop))
    watcher.start()
    try:
        container_id = engine.create(task(env=["SHOAL_SIM_EXIT_AFTER=1"]))
        engine.start(container_id)
        clock.now += 1
        engine.list_containers()  # the exit is noticed
        engine.remove(container_id)
        for _ in range(100):
            if len(seen) == 3:
                break
            time.sleep(0.02)
    finally:
        stop.set()
        watcher.join(5)  # the watcher notices the stop within EVENT_WINDOW
    assert seen == ["t1", "t1", "t1"]
    assert not watcher.is_alive()

"""The executor core, with fake containers (a core test: no Docker)."""

from actors.executor import core
from actors.executor.core import ObservedContainer, Prepare, Remove, Report, Start, Stop


def task(task_id="t1", state="assigned", desired="running"):
    return {"ID": task_id, "ServiceID": "s", "Slot": 1, "NodeID": "n", "DesiredState": desired,
            "Spec": {"ContainerSpec": {"Image": "img"}}, "Status": {"State": state}}


def container(task_id="t1", state="running", exit_code=None):
    return ObservedContainer(task_id=task_id, container_id="c-" + task_id, state=state, exit_code=exit_code)


def states(actions):
    return [(type(a).__name__, a.status["State"] if isinstance(a, Report) else None) for a in actions]


def test_an_assigned_task_without_a_container_is_prepared():
    assert states(core.decide([task()], [], {}, 1.0)) == [("Prepare", None)]


def test_a_running_container_is_adopted_not_duplicated():
    actions = core.decide([task(state="assigned")], [container()], {}, 1.0)
    assert states(actions) == [("Report", "running")]
    assert actions[0].status["ContainerStatus"]["ContainerID"] == "c-t1"


def test_nothing_more_once_reported():
    reported = {"t1": {"State": "running"}}
    assert core.decide([task(state="assigned")], [container()], reported, 1.0) == []
    assert core.decide([task(state="running")], [container()], {}, 1.0) == []


def test_exit_codes_decide_complete_or_failed():
    done = core.decide([task(state="running")], [container(state="exited", exit_code=0)], {}, 1.0)
    failed = core.decide([task(state="running")], [container(state="exited", exit_code=137)], {}, 1.0)
    assert states(done) == [("Report", "complete")]
    assert states(failed) == [("Report", "failed")] and failed[0].status["Err"] == "task: non-zero exit (137)"


def test_a_created_but_never_started_container_is_started():
    assert states(core.decide([task()], [container(state="created")], {}, 1.0)) == [("Start", None)]


def test_terminal_states_are_final():
    assert core.decide([task(state="failed")], [container(state="exited", exit_code=1)], {}, 1.0) == []
    assert core.decide([task(state="failed")], [], {}, 1.0) == []


def test_desired_shutdown_stops_a_running_container_then_reports_shutdown():
    assert states(core.decide([task(state="running", desired="shutdown")], [container()], {}, 1.0)) == [("Stop", None)]
    after = core.decide([task(state="running", desired="shutdown")], [container(state="exited", exit_code=143)], {}, 1.0)
    assert states(after) == [("Report", "shutdown")]


def test_desired_remove_removes_the_stopped_container():
    actions = core.decide([task(state="shutdown", desired="remove")], [container(state="exited", exit_code=0)], {}, 1.0)
    assert [type(a) for a in actions] == [Remove]


def test_containers_of_unassigned_tasks_are_removed():
    actions = core.decide([], [container("gone")], {}, 1.0)
    assert actions == [Remove("gone", "c-gone")]


def test_a_started_task_whose_container_vanished_fails():
    assert states(core.decide([task(state="running")], [], {}, 1.0)) == [("Report", "failed")]


def test_failure_of_prepare_or_start_rejects_with_the_engine_message():
    for action in (Prepare(task()), Start("t1", "c")):
        report = core.failure_reports(action, "No such image: nosuch:latest", 1.0)[0]
        assert report.status["State"] == "rejected" and report.status["Err"] == "No such image: nosuch:latest"
    assert core.failure_reports(Stop("t1", "c"), "boom", 1.0) == []


class FakeEngine:
    """A recording stand-in for DockerEngine (core test only)."""

    def __init__(self):
        self.calls = []

    def create(self, task):
        self.calls.append(("create", task["ID"]))
        return "cid"

    def start(self, container_id):
        self.calls.append(("start", container_id))

    def stop(self, container_id, timeout):
        self.calls.append(("stop", container_id))

    def remove(self, container_id):
        self.calls.append(("remove", container_id))

    def observe(self, container_id):
        return ObservedContainer("t1", container_id, "running", pid=42)


def test_perform_with_a_fake_engine_creates_starts_and_reports_running():
    engine = FakeEngine()
    reports = core.perform(Prepare(task()), engine, 1.0)
    assert engine.calls == [("create", "t1"), ("start", "cid")]
    assert reports[0].status["State"] == "running" and reports[0].status["ContainerStatus"]["PID"] == 42
    assert core.perform(Remove("t1", "cid"), engine, 1.0) == []

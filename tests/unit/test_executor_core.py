"""The executor core: decisions from tasks, observed containers and reported statuses (no Docker, no clock)."""

import dataclasses

import pytest

from actors.executor import core
from actors.executor.core import Create, ObservedContainer, Remove, Report, Start, Stop
from transport import schema

NOW = 1_700_000_000.0


def task(task_id="t1", state="assigned", desired="running", image="img"):
    return {"ID": task_id, "ServiceID": "s", "Slot": 1, "NodeID": "n", "DesiredState": desired,
            "ServiceAnnotations": {"Name": "web"}, "Spec": {"ContainerSpec": {"Image": image}},
            "Status": {"State": state}}


def container(task_id="t1", state="running", exit_code=0, error="", started_at=0.0, finished_at=0.0, pid=0,
              health="", stop_timeout=None):
    return ObservedContainer(task_id=task_id, container_id="c-" + task_id, state=state, exit_code=exit_code,
                             error=error, started_at=started_at, finished_at=finished_at, pid=pid, health=health,
                             stop_timeout=stop_timeout)


def kinds(actions):
    """Actions as (type, reported state or None) pairs, for compact assertions."""
    return [(type(a).__name__, a.status["State"] if isinstance(a, Report) else None) for a in actions]


def decide_one(the_task, the_container=None, reported=None):
    return core.decide([the_task], [the_container] if the_container else [], reported or {}, NOW)


# -- new tasks -------------------------------------------------------------------

def test_an_assigned_task_without_a_container_is_accepted_and_created():
    actions = decide_one(task())
    assert kinds(actions) == [("Report", "accepted"), ("Create", None)]
    assert actions[0].status == schema.task_status("accepted", "accepted", NOW)
    assert actions[1] == Create(task()) and actions[1].task_id == "t1"


def test_an_accepted_task_is_created_again_without_reporting_accepted_twice():
    assert kinds(decide_one(task(), reported={"t1": {"State": "accepted"}})) == [("Create", None)]
    assert kinds(decide_one(task(state="accepted"))) == [("Create", None)]


def test_a_running_container_is_reported_running_with_its_container_status():
    actions = decide_one(task(state="accepted"), container(started_at=NOW - 5, pid=42))
    assert actions == [Report("t1", {"Timestamp": schema.format_time(NOW - 5), "State": "running", "Message": "started",
                                     "ContainerStatus": {"ContainerID": "c-t1", "PID": 42, "ExitCode": 0}})]


def test_a_status_without_an_engine_time_is_stamped_now():
    assert decide_one(task(state="accepted"), container())[0].status["Timestamp"] == schema.format_time(NOW)


# -- adoption after an executor restart ----------------------------------------------

@pytest.mark.parametrize("store_state", ["assigned", "accepted", "preparing", "starting"])
def test_a_running_container_is_adopted_not_duplicated(store_state):
    assert kinds(decide_one(task(state=store_state), container())) == [("Report", "running")]


def test_an_adopted_exited_container_reports_complete_on_exit_code_zero():
    actions = decide_one(task(state="running"), container(state="exited", exit_code=0, finished_at=NOW - 1))
    assert actions[0].status == schema.task_status("complete", "finished", NOW - 1, ContainerStatus={
        "ContainerID": "c-t1", "PID": 0, "ExitCode": 0})


def test_an_adopted_exited_container_reports_failed_with_the_exit_code():
    status = decide_one(task(state="starting"), container(state="exited", exit_code=137))[0].status
    assert (status["State"], status["Message"], status["Err"]) == (
        "failed", "task exited with non-zero code 137", "task: non-zero exit (137)")
    assert status["ContainerStatus"]["ExitCode"] == 137


def test_a_dead_container_is_a_failure():
    assert kinds(decide_one(task(state="running"), container(state="dead", exit_code=1))) == [("Report", "failed")]


def test_a_created_never_started_container_is_started_not_recreated():
    actions = decide_one(task(state="accepted"), container(state="created"))
    assert kinds(actions) == [("Report", "starting"), ("Start", None)]
    assert actions[1] == Start("t1", "c-t1")


def test_starting_a_created_container_never_reports_a_state_behind_the_known_one():
    assert decide_one(task(state="running"), container(state="created")) == [Start("t1", "c-t1")]


def test_a_container_whose_start_failed_rejects_the_task_with_the_engines_error():
    error = 'exec: "nosuchcmd": executable file not found in $PATH'
    actions = decide_one(task(state="starting"), container(state="created", exit_code=127, error=error))
    assert kinds(actions) == [("Report", "rejected")]
    assert actions[0].status["Err"] == error


@pytest.mark.parametrize("state", ["paused", "restarting", "removing"])
def test_transient_engine_states_say_nothing_new(state):
    assert decide_one(task(state="running"), container(state=state)) == []


def test_a_started_task_whose_container_vanished_fails():
    for state in ("starting", "running"):
        actions = decide_one(task(state=state))
        assert kinds(actions) == [("Report", "failed")] and actions[0].status["Err"] == "task: container was removed"


# -- reports only on change, states only forward ------------------------------------

def test_nothing_is_reported_twice():
    assert decide_one(task(state="accepted"), container(), reported={"t1": {"State": "running"}}) == []
    assert decide_one(task(state="running"), container()) == []


def test_the_furthest_of_store_and_reported_state_counts():
    assert core.known_state(task(state="running"), {"t1": {"State": "accepted"}}) == "running"
    assert core.known_state(task(state="accepted"), {"t1": {"State": "running"}}) == "running"
    assert core.known_state(task(state="accepted"), {}) == "accepted"


def test_terminal_states_are_final():
    for state in ("complete", "failed", "rejected", "shutdown"):
        assert decide_one(task(state=state), container(state="exited", exit_code=1)) == []
        assert decide_one(task(state=state)) == []
        assert decide_one(task(state=state), container(state="running")) == []
    assert decide_one(task(state="running"), container(state="exited", exit_code=1),
                      reported={"t1": {"State": "complete"}}) == []


def test_deciding_twice_on_the_same_view_gives_the_same_actions():
    tasks = [task("a"), task("b", state="running"), task("c", state="running", desired="shutdown")]
    observed = [container("b", state="exited", exit_code=2), container("c"), container("gone")]
    assert core.decide(tasks, observed, {}, NOW) == core.decide(tasks, observed, {}, NOW)


# -- desired shutdown and remove ---------------------------------------------------

def test_desired_shutdown_stops_a_live_container_first():
    for state in ("running", "paused", "restarting"):
        assert decide_one(task(state="running", desired="shutdown"), container(state=state)) == [Stop("t1", "c-t1", reports=True)]


def test_desired_shutdown_reports_shutdown_once_the_container_stopped():
    stopped = container(state="exited", exit_code=137, finished_at=NOW - 2)
    actions = decide_one(task(state="running", desired="shutdown"), stopped)
    assert actions == [Report("t1", schema.task_status("shutdown", "shutdown", NOW - 2, ContainerStatus={
        "ContainerID": "c-t1", "PID": 0, "ExitCode": 137}))]
    assert decide_one(task(state="running", desired="shutdown"), stopped, reported={"t1": actions[0].status}) == []


def test_desired_shutdown_of_a_task_never_started_reports_shutdown_without_a_container():
    actions = decide_one(task(state="assigned", desired="shutdown"))
    assert actions == [Report("t1", schema.task_status("shutdown", "shutdown", NOW))]


def test_desired_shutdown_of_a_finished_task_reports_nothing():
    assert decide_one(task(state="complete", desired="shutdown"), container(state="exited")) == []


def test_desired_shutdown_keeps_the_stopped_container():
    actions = decide_one(task(state="shutdown", desired="shutdown"), container(state="exited", exit_code=143))
    assert actions == []


def on_network(the_task):
    the_task["NetworksAttachments"] = [{"Network": {"ID": "net"}, "Addresses": ["10.0.1.5/24"]}]
    return the_task


def test_a_task_on_a_network_drains_before_its_stop_and_one_without_stops_at_once():
    tasks = [on_network(task("t1", state="running", desired="shutdown")), task("t2", state="running", desired="shutdown"),
             on_network(task("t3", state="running"))]
    since = core.stopping_since(tasks, {}, 50.0)
    assert since == {"t1": 50.0}  # t2 is on no network, t3 not stopping
    observed = [container("t1"), container("t2"), container("t3")]
    held = core.draining(since, 50.0 + core.DRAIN_SECONDS - 0.01)
    assert core.decide(tasks, observed, {}, NOW, held) == [Stop("t2", "c-t2", reports=True)]
    later = core.stopping_since(tasks, since, 50.0 + core.DRAIN_SECONDS)
    assert later == since  # first seen is kept
    assert core.decide(tasks, observed, {}, NOW, core.draining(later, 50.0 + core.DRAIN_SECONDS)) == [
        Stop("t1", "c-t1", reports=True), Stop("t2", "c-t2", reports=True)]


def test_a_draining_task_whose_container_exited_meanwhile_is_reported_at_once():
    the_task = on_network(task(state="running", desired="shutdown"))
    held = core.draining(core.stopping_since([the_task], {}, 50.0), 50.0)
    assert kinds(core.decide([the_task], [container(state="exited")], {}, NOW, held)) == [("Report", "shutdown")]


def test_a_task_no_longer_desired_to_stop_is_forgotten():
    assert core.stopping_since([on_network(task(state="running"))], {"t1": 50.0}, 60.0) == {}


def test_desired_remove_stops_then_reports_and_removes():
    assert decide_one(task(state="running", desired="remove"), container()) == [Stop("t1", "c-t1", reports=True)]
    actions = decide_one(task(state="running", desired="remove"), container(state="exited", exit_code=143))
    assert kinds(actions) == [("Report", "shutdown"), ("Remove", None)] and actions[1] == Remove("t1", "c-t1")


def test_desired_remove_of_a_terminal_task_only_removes_its_container():
    assert decide_one(task(state="failed", desired="remove"), container(state="exited", exit_code=1)) == [
        Remove("t1", "c-t1")]
    assert decide_one(task(state="failed", desired="remove"), container(state="removing")) == []
    assert decide_one(task(state="failed", desired="remove")) == []


# -- containers of tasks no longer assigned --------------------------------------------

@pytest.mark.parametrize("state, expected", [
    ("running", [Stop("gone", "c-gone")]), ("paused", [Stop("gone", "c-gone")]),
    ("exited", [Remove("gone", "c-gone")]), ("created", [Remove("gone", "c-gone")]),
    ("dead", [Remove("gone", "c-gone")]), ("removing", [])])
def test_containers_of_unassigned_tasks_are_stopped_then_removed(state, expected):
    assert core.decide([], [container("gone", state=state)], {}, NOW) == expected


def test_unassigned_containers_do_not_disturb_assigned_tasks():
    actions = core.decide([task("t1", state="running")], [container("t1"), container("old", state="exited")], {}, NOW)
    assert actions == [Remove("old", "c-old")]


# -- health checks ----------------------------------------------------------------

def test_a_running_container_whose_health_is_starting_reports_the_task_starting():
    actions = decide_one(task(state="accepted"), container(health="starting", started_at=NOW - 1))
    assert kinds(actions) == [("Report", "starting")]
    assert actions[0].status["Message"] == "starting" and actions[0].status["Health"] == "starting"


def test_a_healthy_container_reports_the_task_running_once():
    actions = decide_one(task(state="starting"), container(health="healthy"))
    assert kinds(actions) == [("Report", "running")] and actions[0].status["Health"] == "healthy"
    assert decide_one(task(state="running"), container(health="healthy")) == []


def test_a_container_still_starting_its_health_says_nothing_new_to_a_starting_task():
    assert decide_one(task(state="starting"), container(health="starting")) == []


def test_a_healthy_task_runs_from_when_it_was_seen_healthy_not_from_the_container_start():
    # An update's Delay and Monitor windows start when the task can serve.
    actions = decide_one(task(state="starting"), container(health="healthy", started_at=NOW - 30))
    assert actions[0].status["Timestamp"] == schema.format_time(NOW)
    plain = decide_one(task(state="starting"), container(started_at=NOW - 30))
    assert plain[0].status["Timestamp"] == schema.format_time(NOW - 30)


@pytest.mark.parametrize("known", ["starting", "running"])
def test_an_unhealthy_container_fails_its_task_with_dockers_error(known):
    actions = decide_one(task(state=known), container(health="unhealthy"))
    assert kinds(actions) == [("Report", "failed")]
    assert actions[0].status["Err"] == core.UNHEALTHY_ERR and actions[0].status["Health"] == "unhealthy"
    assert actions[0].status["Timestamp"] == schema.format_time(NOW)


def test_a_failed_unhealthy_task_is_left_alone_until_its_desired_state_moves():
    assert decide_one(task(state="failed"), container(health="unhealthy")) == []
    assert decide_one(task(state="failed", desired="shutdown"), container(health="unhealthy")) == \
        [Stop("t1", "c-t1")]


def test_a_container_without_a_health_check_reports_no_health():
    assert "Health" not in decide_one(task(state="accepted"), container())[0].status


# -- stop grace period ----------------------------------------------------------------

def test_a_stop_uses_the_grace_period_the_container_was_created_with():
    assert decide_one(task(state="running", desired="shutdown"), container(stop_timeout=3)) == [Stop("t1", "c-t1", 3, True)]
    assert decide_one(task(state="running", desired="shutdown"), container(stop_timeout=0)) == [Stop("t1", "c-t1", 0, True)]
    assert core.decide([], [container("gone", stop_timeout=30)], {}, NOW) == [Stop("gone", "c-gone", 30)]


def test_a_stop_without_a_recorded_grace_period_uses_dockers_ten_seconds():
    assert decide_one(task(state="running", desired="shutdown"), container()) == [Stop("t1", "c-t1", 10, True)]


@pytest.mark.parametrize("grace, seconds", [(None, 10), (0, 0), (1_500_000_000, 1), (30_000_000_000, 30),
                                            (999_999_999, 0)])
def test_stop_grace_seconds_truncates_the_specs_nanoseconds_as_swarm(grace, seconds):
    the_task = task()
    if grace is not None:
        the_task["Spec"]["ContainerSpec"]["StopGracePeriod"] = grace
    assert core.stop_grace_seconds(the_task) == seconds


# -- scheduling engine actions -------------------------------------------------------

def test_stops_and_removes_wait_in_their_own_lane_apart_from_creates_and_starts():
    assert {core.lane(Stop("t", "c")), core.lane(Remove("t", "c"))} == {core.STOPS}
    assert {core.lane(Create(task())), core.lane(Start("t", "c"))} == {core.STARTS}


def test_startable_leaves_out_every_decision_about_a_busy_task():
    actions = core.decide([task("a"), task("b"), task("c", state="running", desired="shutdown")],
                          [container("c")], {}, NOW)
    reports, engine_actions = core.startable(actions, busy={"b", "c"})
    assert kinds(reports) == [("Report", "accepted")] and reports[0].task_id == "a"
    assert engine_actions == [Create(task("a"))]


def test_startable_without_busy_tasks_keeps_everything_in_order():
    actions = core.decide([task("a"), task("b")], [], {}, NOW)
    reports, engine_actions = core.startable(actions, busy=set())
    assert [r.task_id for r in reports] == ["a", "b"] and [a.task_id for a in engine_actions] == ["a", "b"]


# -- performing actions -------------------------------------------------------------

class FakeEngineError(Exception):
    """What the fake engine raises (the real adapter raises EngineError)."""


class FakeEngine:
    """An in-memory engine with Docker's rules that matter here: one container per name
    (the name holds the task id), a failed start leaves a created container with an error."""

    def __init__(self):
        self.containers: dict[str, ObservedContainer] = {}
        self.calls: list[tuple] = []
        self.exit_on_start: dict[str, int] = {}  # task id -> exit code of a container that ends at once
        self.files: dict[str, tuple] = {}  # task id -> its secret and config files
        self.mounts: dict[str, list] = {}  # container id -> the file mounts it was created with

    def list_containers(self):
        return list(self.containers.values())

    def put_task_files(self, task_id, files):
        self.calls.append(("put_task_files", task_id))
        self.files[task_id] = files
        return [{"Type": "bind", "Source": f"/fake/{task_id}/{file.name}", "Target": file.target, "ReadOnly": True}
                for file in files]

    def drop_task_files(self, task_id):
        self.calls.append(("drop_task_files", task_id))
        self.files.pop(task_id, None)

    def create(self, the_task, file_mounts=()):
        self.calls.append(("create", the_task["ID"]))
        self.mounts["c-" + the_task["ID"]] = list(file_mounts)
        image = the_task["Spec"]["ContainerSpec"]["Image"]
        if image == "nosuch":
            raise FakeEngineError("No such image: nosuch:latest")
        container_id = "c-" + the_task["ID"]
        if container_id in self.containers:
            raise FakeEngineError(f"Conflict. The container name is already in use by {container_id}")
        self.containers[container_id] = ObservedContainer(the_task["ID"], container_id, "created")
        return container_id

    def start(self, container_id):
        self.calls.append(("start", container_id))
        current = self.containers[container_id]
        if current.task_id.startswith("badcmd"):
            self.containers[container_id] = dataclasses.replace(current, exit_code=127, error="exec: bad")
            raise FakeEngineError("exec: bad")
        code = self.exit_on_start.get(current.task_id)
        state = "running" if code is None else "exited"
        self.containers[container_id] = dataclasses.replace(current, state=state, exit_code=code or 0, pid=7,
                                                            started_at=NOW - 1)

    def stop(self, container_id, timeout):
        self.calls.append(("stop", container_id, timeout))
        self.exit(container_id, 143)

    def remove(self, container_id):
        self.calls.append(("remove", container_id))
        self.containers.pop(container_id, None)

    def inspect(self, container_id):
        return self.containers[container_id]

    def exit(self, container_id, code):
        """The container's process ends by itself with ``code``."""
        self.containers[container_id] = dataclasses.replace(self.containers[container_id], state="exited",
                                                            exit_code=code, pid=0, finished_at=NOW)


def test_create_makes_starts_and_reports_the_started_container():
    engine = FakeEngine()
    reports = core.perform(Create(task()), engine, NOW)
    assert engine.calls == [("create", "t1"), ("start", "c-t1")]
    assert kinds(reports) == [("Report", "running")] and reports[0].status["ContainerStatus"]["PID"] == 7


def test_create_of_a_container_that_ends_at_once_reports_how_it_ended():
    engine = FakeEngine()
    engine.exit_on_start["t1"] = 0
    assert kinds(core.perform(Create(task()), engine, NOW)) == [("Report", "complete")]


def test_start_starts_and_reports():
    engine = FakeEngine()
    engine.create(task())
    assert kinds(core.perform(Start("t1", "c-t1"), engine, NOW)) == [("Report", "running")]


def test_stop_uses_the_grace_period_and_leaves_the_report_to_the_next_observation():
    engine = FakeEngine()
    core.perform(Create(task()), engine, NOW)
    assert core.perform(Stop("t1", "c-t1", 4), engine, NOW) == []
    assert engine.calls[-1] == ("stop", "c-t1", 4)


def test_a_stop_that_reports_says_shutdown_as_soon_as_the_container_stopped():
    engine = FakeEngine()
    core.perform(Create(task()), engine, NOW)
    assert kinds(core.perform(Stop("t1", "c-t1", 4, reports=True), engine, NOW)) == [("Report", "shutdown")]


def test_remove_reports_nothing():
    engine = FakeEngine()
    engine.create(task())
    assert core.perform(Remove("t1", "c-t1"), engine, NOW) == [] and engine.containers == {}


def test_only_engine_actions_can_be_performed():
    with pytest.raises(TypeError):
        core.perform(Report("t1", {}), FakeEngine(), NOW)


def test_engine_errors_propagate_from_perform():
    with pytest.raises(FakeEngineError, match="No such image"):
        core.perform(Create(task(image="nosuch")), FakeEngine(), NOW)


def test_a_refused_create_or_start_rejects_the_task_with_the_engines_message():
    created = core.failure_reports(Create(task()), "No such image: nosuch:latest", NOW)
    started = core.failure_reports(Start("t1", "c"), "exec: bad", NOW)
    assert created == [Report("t1", schema.task_status("rejected", "preparing failed", NOW,
                                                       err="No such image: nosuch:latest"))]
    assert kinds(started) == [("Report", "rejected")] and started[0].status["Err"] == "exec: bad"


def test_a_failed_stop_or_remove_reports_nothing_and_is_decided_again():
    assert core.failure_reports(Stop("t1", "c"), "boom", NOW) == []
    assert core.failure_reports(Remove("t1", "c"), "boom", NOW) == []


# -- whole lifecycles, as the actor drives them ------------------------------------

class Executor:
    """The actor's loop without IO: decide on the engine's view, perform, remember what was reported."""

    def __init__(self, engine):
        self.engine = engine
        self.reported: dict[str, dict] = {}

    def run_pass(self, tasks):
        actions = core.decide(tasks, self.engine.list_containers(), self.reported, NOW)
        for action in actions:
            for report in self._outcome(action):
                self.reported[report.task_id] = report.status
        return actions

    def _outcome(self, action):
        if isinstance(action, Report):
            return [action]
        try:
            return core.perform(action, self.engine, NOW)
        except FakeEngineError as exc:
            return core.failure_reports(action, str(exc), NOW)

    def settle(self, tasks, limit=5):
        """Run passes until one decides nothing; returns the passes' actions."""
        history = []
        while len(history) < limit:
            actions = self.run_pass(tasks)
            if not actions:
                return history
            history.append(actions)
        raise AssertionError(f"no fixed point after {limit} passes: {history}")


def test_a_new_task_runs_in_one_pass_and_the_next_pass_does_nothing():
    executor = Executor(FakeEngine())
    history = executor.settle([task()])
    assert len(history) == 1 and executor.reported["t1"]["State"] == "running"
    assert executor.engine.calls == [("create", "t1"), ("start", "c-t1")]


def test_a_task_that_exits_fails_and_stays_failed():
    executor = Executor(FakeEngine())
    executor.settle([task()])
    executor.engine.exit("c-t1", 3)
    history = executor.settle([task()])
    assert kinds(history[0]) == [("Report", "failed")] and executor.reported["t1"]["Err"] == "task: non-zero exit (3)"


def test_a_missing_image_rejects_the_task_once():
    executor = Executor(FakeEngine())
    executor.settle([task(image="nosuch")])
    assert executor.reported["t1"]["State"] == "rejected"
    assert executor.reported["t1"]["Err"] == "No such image: nosuch:latest"
    assert executor.engine.calls == [("create", "t1")]


def test_a_bad_command_rejects_the_task_and_a_restarted_executor_agrees():
    executor = Executor(FakeEngine())
    executor.settle([task("badcmd")])
    assert executor.reported["badcmd"]["State"] == "rejected" and executor.reported["badcmd"]["Err"] == "exec: bad"
    restarted = Executor(executor.engine)
    restarted.settle([task("badcmd", state="accepted")])
    assert restarted.reported["badcmd"]["State"] == "rejected"
    assert [call[0] for call in executor.engine.calls] == ["create", "start"]


def test_an_executor_restarted_mid_lifecycle_adopts_and_never_duplicates():
    engine = FakeEngine()
    Executor(engine).settle([task()])  # its reports were lost: the store still says accepted
    restarted = Executor(engine)
    history = restarted.settle([task(state="accepted")])
    assert kinds(history[0]) == [("Report", "running")]
    assert [call[0] for call in engine.calls] == ["create", "start"]


def test_an_executor_that_died_between_create_and_start_starts_the_container():
    engine = FakeEngine()
    engine.create(task())
    restarted = Executor(engine)
    restarted.settle([task(state="accepted")])
    assert restarted.reported["t1"]["State"] == "running" and [c[0] for c in engine.calls] == ["create", "start"]


def test_shutdown_then_remove_then_forget():
    executor = Executor(FakeEngine())
    executor.settle([task()])
    shutdown = executor.settle([task(state="running", desired="shutdown")])
    assert [kinds(actions) for actions in shutdown] == [[("Stop", None)]]  # the Stop reports the shutdown
    assert executor.reported["t1"]["State"] == "shutdown" and executor.engine.containers["c-t1"].state == "exited"
    removal = executor.settle([task(state="shutdown", desired="remove")])
    assert removal == [[Remove("t1", "c-t1")]] and executor.engine.containers == {}
    assert executor.settle([]) == []


def test_a_running_container_whose_task_disappeared_is_stopped_then_removed():
    executor = Executor(FakeEngine())
    executor.settle([task()])
    assert executor.settle([]) == [[Stop("t1", "c-t1")], [Remove("t1", "c-t1")]]
    assert executor.engine.containers == {}


def test_many_tasks_converge_together():
    executor = Executor(FakeEngine())
    tasks = [task(f"t{i}") for i in range(20)]
    assert len(executor.settle(tasks)) == 1
    assert {status["State"] for status in executor.reported.values()} == {"running"}

"""A task's secret and config files on the executor: where each goes (taskfiles.py), when the core fetches
them, creates with them and drops them (core.py), and the simulated engine keeping them in memory."""

import pytest

from actors.executor import core, taskfiles
from actors.executor.core import Create, DropFiles, Fetch, ObservedContainer, Remove, Report
from actors.executor.simengine import SimEngine
from actors.executor.taskfiles import TaskFile
from tests.unit.test_executor_core import NOW, FakeEngine, kinds

REPLY = {"secrets": [{"ID": "s1", "Name": "db", "Data": b"hunter2"}],
         "configs": [{"ID": "c1", "Name": "app.conf", "Data": b"port=80"}]}


def task(task_id="t1", state="assigned", desired="running", secrets=None, configs=None):
    spec = {"Image": "img"}
    if secrets is not None:
        spec["Secrets"] = secrets
    if configs is not None:
        spec["Configs"] = configs
    return {"ID": task_id, "ServiceID": "s", "Slot": 1, "NodeID": "n", "DesiredState": desired,
            "ServiceAnnotations": {"Name": "web"}, "Spec": {"ContainerSpec": spec}, "Status": {"State": state}}


def secret_ref(target="db", uid="0", gid="0", mode=0o444, secret_id="s1"):
    return {"File": {"Name": target, "UID": uid, "GID": gid, "Mode": mode}, "SecretID": secret_id, "SecretName": "db"}


def config_ref(target="app.conf", mode=0o444):
    return {"File": {"Name": target, "UID": "0", "GID": "0", "Mode": mode}, "ConfigID": "c1", "ConfigName": "app.conf"}


WITH_DATA = task(secrets=[secret_ref()], configs=[config_ref()])
FILES = taskfiles.files(WITH_DATA, REPLY)


def container(task_id="t1", state="running", error=""):
    return ObservedContainer(task_id=task_id, container_id="c-" + task_id, state=state, error=error)


# -- files from references -----------------------------------------------------------

def test_relative_targets_go_under_run_secrets_and_the_root_with_dockers_default_owner_and_mode():
    assert FILES == (TaskFile("secret-0", "/run/secrets/db", 0, 0, 0o444, b"hunter2"),
                     TaskFile("config-0", "/app.conf", 0, 0, 0o444, b"port=80"))


def test_absolute_targets_owner_and_mode_are_taken_as_given():
    the_task = task(secrets=[secret_ref("/etc/app/db.pw", uid="1000", gid="", mode=0o400)],
                    configs=[config_ref("/etc/app/../app/conf", mode=0o440)])
    made = taskfiles.files(the_task, REPLY)
    assert [(f.target, f.uid, f.gid, f.mode) for f in made] == [("/etc/app/db.pw", 1000, 0, 0o400),
                                                                  ("/etc/app/conf", 0, 0, 0o440)]


def test_one_secret_at_two_targets_makes_two_files():
    made = taskfiles.files(task(secrets=[secret_ref("a"), secret_ref("b")]), REPLY)
    assert [(f.name, f.target, f.data) for f in made] == [("secret-0", "/run/secrets/a", b"hunter2"),
                                                          ("secret-1", "/run/secrets/b", b"hunter2")]


def test_a_named_owner_is_refused_as_docker_does():
    with pytest.raises(taskfiles.FilesError, match="uid 'www-data' is not a number"):
        taskfiles.files(task(secrets=[secret_ref(uid="www-data")]), REPLY)


def test_a_reply_without_a_referenced_value_is_refused():
    with pytest.raises(taskfiles.FilesError, match="no data for secret s9"):
        taskfiles.files(task(secrets=[secret_ref(secret_id="s9")]), REPLY)


def test_a_files_repr_never_shows_its_data():
    assert "hunter2" not in repr(FILES) and "hunter2" not in repr(Create(WITH_DATA, FILES))


def test_each_file_is_bind_mounted_read_only_from_the_tasks_directory():
    directory = taskfiles.task_directory("/run/shoal", "n1", "t1")
    assert directory == "/run/shoal/n1/tasks/t1"
    assert taskfiles.bind_mounts(FILES, directory) == [
        {"Type": "bind", "Source": "/run/shoal/n1/tasks/t1/secret-0", "Target": "/run/secrets/db", "ReadOnly": True},
        {"Type": "bind", "Source": "/run/shoal/n1/tasks/t1/config-0", "Target": "/app.conf", "ReadOnly": True}]


def test_the_tmpfs_is_sized_in_whole_pages_per_file_plus_one():
    big = TaskFile("secret-0", "/x", 0, 0, 0o400, b"x" * 5000)
    empty = TaskFile("secret-1", "/y", 0, 0, 0o400, b"")
    assert taskfiles.tmpfs_bytes((big, empty)) == 4096 * 4


# -- the core: fetch, create with the files, drop them ---------------------------------------

def test_a_task_with_secrets_or_configs_is_fetched_before_its_container_is_created():
    assert kinds(core.decide([WITH_DATA], [], {}, NOW)) == [("Report", "accepted"), ("Fetch", None)]
    assert core.decide([WITH_DATA], [], {"t1": {"State": "accepted"}}, NOW) == [Fetch(WITH_DATA)]


def test_once_fetched_the_create_carries_the_files():
    actions = core.decide([WITH_DATA], [], {"t1": {"State": "accepted"}}, NOW, fetched={"t1": FILES})
    assert actions == [Create(WITH_DATA, FILES)]


def test_a_task_without_secrets_or_configs_is_created_at_once_with_no_files():
    assert core.decide([task()], [], {"t1": {"State": "accepted"}}, NOW) == [Create(task())]


@pytest.mark.parametrize("state", ["running", "created", "paused"])
def test_files_stay_while_the_container_may_use_them(state):
    assert core.decide([WITH_DATA], [container(state=state)], {}, NOW, with_files=frozenset({"t1"})) \
        == core.decide([WITH_DATA], [container(state=state)], {}, NOW)


def test_files_of_an_exited_container_are_dropped_before_it_is_removed():
    done = task(state="complete", secrets=[secret_ref()])
    assert core.decide([done], [container(state="exited")], {}, NOW, with_files=frozenset({"t1"})) \
        == [DropFiles("t1")]


def test_files_of_a_created_container_that_failed_to_start_are_dropped():
    actions = core.decide([task(state="rejected", secrets=[secret_ref()])], [container(state="created", error="bad")],
                          {}, NOW, with_files=frozenset({"t1"}))
    assert actions == [DropFiles("t1")]


def test_files_wait_while_their_container_is_being_removed_in_the_same_pass():
    gone = task(state="shutdown", desired="remove", secrets=[secret_ref()])
    decided = core.decide([gone], [container(state="exited")], {}, NOW, with_files=frozenset({"t1"}))
    assert decided == [Remove("t1", "c-t1")]
    assert core.decide([gone], [], {}, NOW, with_files=frozenset({"t1"})) == [DropFiles("t1")]


def test_leftover_files_of_a_task_no_longer_assigned_are_dropped():
    assert core.decide([], [], {}, NOW, with_files=frozenset({"gone"})) == [DropFiles("gone")]


def test_files_of_a_task_about_to_be_created_are_kept():
    # an executor that crashed between putting the files and creating the container: the Create replaces them
    decided = core.decide([WITH_DATA], [], {"t1": {"State": "accepted"}}, NOW, fetched={"t1": FILES},
                          with_files=frozenset({"t1"}))
    assert decided == [Create(WITH_DATA, FILES)]


def test_files_of_a_task_stopped_before_its_container_was_made_are_dropped():
    stopped = task(state="shutdown", desired="shutdown", secrets=[secret_ref()])
    assert core.decide([stopped], [], {}, NOW, with_files=frozenset({"t1"})) == [DropFiles("t1")]


def test_fetched_data_is_forgotten_once_its_task_is_gone_or_told_to_stop():
    stopping = task("t2", desired="shutdown", secrets=[secret_ref()])
    fetched = {"t1": FILES, "t2": FILES, "gone": FILES}
    assert core.fetched_kept(fetched, {"t1": WITH_DATA, "t2": stopping}) == {"t1": FILES}


def test_dropping_files_waits_in_the_stop_lane():
    assert core.lane(DropFiles("t1")) == core.STOPS


@pytest.mark.parametrize("code", sorted(core.FETCH_RETRIED))
def test_a_fetch_that_may_succeed_later_reports_nothing(code):
    assert core.fetch_failure_reports("t1", code, "later", NOW) == []


@pytest.mark.parametrize("code", ["permission_denied", "missing_data", "too_large", "invalid"])
def test_a_refused_fetch_rejects_the_task_with_the_dispatchers_words(code):
    reports = core.fetch_failure_reports("t1", code, "task t1 is not assigned to this node", NOW)
    assert reports == [Report("t1", core.rejected_status("preparing failed", "task t1 is not assigned to this node",
                                                         NOW))]


def test_fake_engine_create_puts_the_files_first_and_mounts_them():
    engine = FakeEngine()
    assert kinds(core.perform(Create(WITH_DATA, FILES), engine, NOW)) == [("Report", "running")]
    assert engine.calls[:2] == [("put_task_files", "t1"), ("create", "t1")]
    assert [m["Target"] for m in engine.mounts["c-t1"]] == ["/run/secrets/db", "/app.conf"]


def test_fake_engine_drop_files_drops_them_and_reports_nothing():
    engine = FakeEngine()
    core.perform(Create(WITH_DATA, FILES), engine, NOW)
    assert core.perform(DropFiles("t1"), engine, NOW) == [] and engine.files == {}


# -- the simulated engine keeps files in memory ---------------------------------------------

def test_the_simulated_engine_holds_files_in_memory_and_its_container_mounts_them():
    engine = SimEngine("n1", "sim-1")
    core.perform(Create(WITH_DATA, FILES), engine, NOW)
    assert engine.task_files() == frozenset({"t1"})
    assert engine.file_at("t1", "/run/secrets/db").data == b"hunter2"
    engine.drop_task_files("t1")
    assert engine.task_files() == frozenset() and engine.file_at("t1", "/run/secrets/db") is None


def test_the_simulated_engine_refuses_mounts_of_files_it_does_not_hold():
    engine = SimEngine("n1", "sim-1")
    mounts = engine.put_task_files("t1", FILES)
    engine.drop_task_files("t1")
    with pytest.raises(Exception, match="not in place"):
        engine.create(WITH_DATA, mounts)

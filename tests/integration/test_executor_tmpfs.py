"""A task's tmpfs on the host (actors/executor/tmpfs.py), for real: mounted, its files owned and moded as
the spec says, replaced on a second put, unmounted and removed on drop. Needs root (mounts)."""

import os
import stat

import pytest

from actors.executor.taskfiles import TaskFile
from actors.executor.tmpfs import TaskTmpfs

FILES = (TaskFile("secret-0", "/run/secrets/db", 1000, 1001, 0o400, b"hunter2"),
         TaskFile("config-0", "/app.conf", 0, 0, 0o444, b"port=80"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def mount_of(path: str) -> dict | None:
    """The mountinfo entry at ``path`` (fstype, mount options), None when nothing is mounted there."""
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            if fields[4] == path:
                after = fields[fields.index("-") + 1:]
                return {"fstype": after[0], "options": set(fields[5].split(",")) | set(after[2].split(","))}
    return None


@pytest.fixture
def tmpfs(tmp_path):
    made = TaskTmpfs("s2-node", root=str(tmp_path))
    yield made
    for task_id in made.listed():
        made.drop(task_id)


def test_a_tasks_files_are_in_a_private_tmpfs_with_their_owner_and_mode(tmpfs):
    mounts = tmpfs.put("t1", FILES)
    directory = tmpfs.directory("t1")
    mounted = mount_of(directory)
    assert mounted["fstype"] == "tmpfs" and {"nosuid", "nodev", "noexec", "mode=700"} <= mounted["options"]
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for file in FILES:
        info = os.stat(os.path.join(directory, file.name))
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (file.uid, file.gid, file.mode)
        with open(os.path.join(directory, file.name), "rb") as written:
            assert written.read() == file.data
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in mounts] == [
        (os.path.join(directory, "secret-0"), "/run/secrets/db", True),
        (os.path.join(directory, "config-0"), "/app.conf", True)]
    assert tmpfs.listed() == frozenset({"t1"})


def test_a_second_put_replaces_the_first(tmpfs):
    tmpfs.put("t1", FILES)
    tmpfs.put("t1", FILES[1:])
    assert sorted(os.listdir(tmpfs.directory("t1"))) == ["config-0"]
    with open("/proc/self/mountinfo") as info:
        assert sum(line.split()[4] == tmpfs.directory("t1") for line in info) == 1


def test_drop_unmounts_and_removes_the_directory_and_tolerates_leftovers(tmpfs):
    tmpfs.put("t1", FILES)
    os.makedirs(tmpfs.directory("half-made"))  # a crash between the directory and its mount
    for task_id in ("t1", "half-made", "never-there"):
        tmpfs.drop(task_id)
    assert mount_of(tmpfs.directory("t1")) is None
    assert tmpfs.listed() == frozenset()


def test_drop_all_unmounts_every_task_and_removes_the_nodes_directories(tmpfs, tmp_path):
    # What swarm leave does once the host's processes stopped: a worker left with running tasks kept their
    # tmpfs (the secrets in host memory) mounted under /run/shoal/<node>/tasks/.
    tmpfs.put("t1", FILES)
    tmpfs.put("t2", FILES[:1])
    directories = [tmpfs.directory("t1"), tmpfs.directory("t2")]
    tmpfs.drop_all()
    assert all(mount_of(directory) is None for directory in directories)
    assert not (tmp_path / "s2-node").exists() and tmpfs.listed() == frozenset()
    tmpfs.drop_all()  # nothing there: fine

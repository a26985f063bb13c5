"""Per-task tmpfs mounts on the host, holding a task's secret and config files while it needs them.

Each task of node N that has files gets its own tmpfs at
``/run/shoal/N/tasks/<task id>/`` (mode 0700, nosuid, nodev, noexec, sized to
its files), and each file is written into it owned by its uid and gid with
its mode (taskfiles.TaskFile); the container bind-mounts the files read-only.
The data is only ever in memory: tmpfs pages, never a disk (the host has no
swap by Shoal's assumption, as for Docker's own secrets). :meth:`TaskTmpfs.drop`
unmounts a task's tmpfs and removes its directory; :meth:`TaskTmpfs.listed`
names the task directories there, so the executor's core can drop those no
container needs any more (after a crash, too). Mounting needs CAP_SYS_ADMIN.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

from actors.executor import taskfiles

ROOT = "/run/shoal"
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MNT_DETACH = 2
STACKED = 16  # mounts unmounted at one path at most (one is usual; a crash mid-put may leave two)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str, path: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what} {path}: {os.strerror(code)}")


def mount_tmpfs(path: str, size: int) -> None:
    """Mount a fresh tmpfs of ``size`` bytes at ``path`` (root only may enter it)."""
    options = f"size={size},mode=0700".encode()
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options),
           "cannot mount a tmpfs at", path)


def unmount(path: str) -> None:
    """Detach every mount at ``path`` (lazily: a reader still holding one keeps it until done);
    nothing mounted there is fine."""
    for _ in range(STACKED):
        if _libc.umount2(path.encode(), MNT_DETACH) != 0:
            if ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
                _check(-1, "cannot unmount", path)
            return


def write_file(directory: str, file: taskfiles.TaskFile) -> None:
    """Write ``file`` into ``directory`` as a new file owned by its uid:gid with its mode."""
    fd = os.open(os.path.join(directory, file.name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(file.data)
        while view:
            view = view[os.write(fd, view):]
        os.fchown(fd, file.uid, file.gid)
        os.fchmod(fd, file.mode)
    finally:
        os.close(fd)


class TaskTmpfs:
    """The task directories of node ``node_id`` under ``root``."""

    def __init__(self, node_id: str, root: str = ROOT):
        self.node_id = node_id
        self.root = root

    def directory(self, task_id: str) -> str:
        """The host directory of ``task_id``'s files."""
        return taskfiles.task_directory(self.root, self.node_id, task_id)

    def put(self, task_id: str, task_files: tuple[taskfiles.TaskFile, ...]) -> list[dict]:
        """Mount a fresh tmpfs for ``task_id`` (replacing one left by an earlier attempt) holding
        ``task_files``; returns the bind mounts that put them in its container. OSError when the host
        refuses (the tmpfs is then dropped)."""
        directory = self.directory(task_id)
        self.drop(task_id)
        os.makedirs(directory, mode=0o700)
        try:
            mount_tmpfs(directory, taskfiles.tmpfs_bytes(task_files))
            for file in task_files:
                write_file(directory, file)
        except OSError:
            self.drop(task_id)
            raise
        return taskfiles.bind_mounts(task_files, directory)

    def drop(self, task_id: str) -> None:
        """Unmount ``task_id``'s tmpfs and remove its directory; one that is not there is fine."""
        directory = self.directory(task_id)
        unmount(directory)
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass

    def drop_all(self) -> None:
        """Drop every task's tmpfs of this node and remove the node's directories (a node that leaves, or
        whose processes died: its executor can no longer drop them)."""
        for task_id in self.listed():
            self.drop(task_id)
        for directory in (taskfiles.tasks_directory(self.root, self.node_id), os.path.join(self.root, self.node_id)):
            try:
                os.rmdir(directory)
            except OSError:  # never made, or holding something else
                pass

    def listed(self) -> frozenset[str]:
        """The ids of the tasks that have a directory here (mounted or left half-made by a crash)."""
        try:
            return frozenset(os.listdir(taskfiles.tasks_directory(self.root, self.node_id)))
        except FileNotFoundError:
            return frozenset()

"""Which of the Shoal hosts sharing one network namespace programs a cluster's routing mesh there.

Several hosts may share one namespace (the demo and most tests run them all
on one machine), and the namespace has one set of published ports. Each host
holds a :class:`NamespaceLock`, its files named by the namespace's inode
(``/proc/self/ns/net``), so hosts in other namespaces never contend, and by
the cluster, so clusters sharing a namespace keep apart:

- every host holds a shared flock on the namespace's ``members`` file and
  on its cluster's, for its life;
- the owner also holds the exclusive flock on its cluster's ``owner`` file.
  Whoever asks first gets it (:meth:`NamespaceLock.own`); the kernel drops
  it when its holder exits, however it exits, and the next host to ask
  takes over.

:meth:`NamespaceLock.leave` tells the one leaving last (when what it set up
should go with it) from one leaving others behind (who keep it and take it
over); :func:`if_abandoned` finds a cluster whose hosts were all killed.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os

LOCK_DIR = "/run/shoal"


def _members_path(directory: str, cluster_id: str) -> str:
    return os.path.join(directory, f"netns-{namespace_id()}-{cluster_id}.members")


def if_abandoned(cluster_id: str, action, directory: str = LOCK_DIR) -> bool:
    """Run ``action()`` if no host of cluster ``cluster_id`` is left in this namespace (a host killed
    before it could clean up), holding its members' flock meanwhile so none joins; True if it ran."""
    fd = _open(_members_path(directory, cluster_id))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        action()
    finally:
        os.close(fd)
    return True


def namespace_id() -> int:
    """The inode of this process's network namespace: the same for every process that shares it."""
    return os.stat("/proc/self/ns/net").st_ino


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _last(fd: int) -> bool:
    """Close ``fd`` (a shared flock); True when no other process held the flock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        last = True
    except BlockingIOError:
        last = False
    os.close(fd)
    return last


@dataclasses.dataclass(frozen=True)
class Leaving:
    """What a host leaving a namespace was: the last of its cluster there, the last host at all."""

    last_of_cluster: bool
    last_in_namespace: bool


class NamespaceLock:
    """Membership of this process's network namespace and ownership of cluster ``cluster_id``'s mesh there."""

    def __init__(self, cluster_id: str, directory: str = LOCK_DIR):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        prefix = os.path.join(directory, f"netns-{namespace_id()}")
        self._members = _open(prefix + ".members")
        self._cluster_members = _open(_members_path(directory, cluster_id))
        for fd in (self._members, self._cluster_members):
            fcntl.flock(fd, fcntl.LOCK_SH)
        self._owner_path = f"{prefix}-{cluster_id}.owner"
        self._owner: int | None = None

    @property
    def owned(self) -> bool:
        """True while this host owns its cluster's mesh in the namespace."""
        return self._owner is not None

    def own(self) -> bool:
        """Take ownership if no other host holds it; True when this host is (now) the owner."""
        if self._owner is None:
            fd = _open(self._owner_path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._owner = fd
        return True

    def leave(self) -> Leaving:
        """Give up ownership and membership, saying whether others are left."""
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None
        return Leaving(last_of_cluster=_last(self._cluster_members), last_in_namespace=_last(self._members))

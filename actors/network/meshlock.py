"""Which of the Shoal hosts sharing one network namespace programs its routing mesh.

Several hosts may share one namespace (the demo and most tests run them all
on one machine), and the namespace has one set of published ports. Each host
holds a :class:`NamespaceLock` for that namespace, named by the namespace's
inode (``/proc/self/ns/net``) so hosts in other namespaces never contend:

- every host holds a shared flock on the ``members`` file for its life;
- the owner also holds the exclusive flock on the ``owner`` file. Whoever
  asks first gets it (:meth:`NamespaceLock.own`); the kernel drops it when
  its holder exits, however it exits, and the next host to ask takes over.

:meth:`NamespaceLock.leave` tells the one leaving last (when the mesh table
should go with it) from one leaving others behind (who keep the table and
take it over).
"""

from __future__ import annotations

import fcntl
import os

LOCK_DIR = "/run/shoal"


def namespace_id() -> int:
    """The inode of this process's network namespace: the same for every process that shares it."""
    return os.stat("/proc/self/ns/net").st_ino


class NamespaceLock:
    """Membership and ownership of this process's network namespace, for the mesh table."""

    def __init__(self, directory: str = LOCK_DIR):
        os.makedirs(directory, exist_ok=True)
        prefix = os.path.join(directory, f"netns-{namespace_id()}")
        self._members = os.open(prefix + ".members", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._members, fcntl.LOCK_SH)
        self._owner_path = prefix + ".owner"
        self._owner: int | None = None

    @property
    def owned(self) -> bool:
        """True while this host owns the namespace's mesh."""
        return self._owner is not None

    def own(self) -> bool:
        """Take ownership if no other host holds it; True when this host is (now) the owner."""
        if self._owner is None:
            fd = os.open(self._owner_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._owner = fd
        return True

    def leave(self) -> bool:
        """Give up ownership and membership; True when no other host is left in the namespace."""
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None
        try:
            fcntl.flock(self._members, fcntl.LOCK_EX | fcntl.LOCK_NB)
            last = True
        except BlockingIOError:
            last = False
        os.close(self._members)
        return last

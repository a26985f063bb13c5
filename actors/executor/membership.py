"""What a host learns from its dispatcher about the cluster's managers, as pure decisions.

Every heartbeat answer says where the managers are and which role the
cluster wants this host to have. From that the executor picks which
dispatcher to talk to (its own host's first, then the others in an order
drawn from the host's id, so the workers spread over every dispatcher
process of every manager and each fails over to a live one by itself, and
moves to a dispatcher started since when it would have picked it) and when the host must switch
role: a worker that was promoted becomes a manager at once (its Raft member
starts empty and is added as a learner); a manager that was demoted becomes a
worker only once the Raft leader has removed it from the configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib

from actors.common.hostconfig import ManagerAddress, dispatcher_name, dispatcher_socket


@dataclasses.dataclass(frozen=True)
class Dispatcher:
    """One dispatcher process a host can talk to: instance ``instance`` of ``manager``."""

    manager: ManagerAddress
    instance: int

    @property
    def name(self) -> str:
        """Its name in the store (``hostconfig.dispatcher_name``)."""
        return dispatcher_name(self.manager.node_id, self.instance)

    def endpoint(self) -> str:
        """Where its socket listens."""
        return self.manager.endpoint(dispatcher_socket(self.instance))


def dispatcher_order(managers: list[ManagerAddress], own_id: str) -> list[Dispatcher]:
    """The dispatchers to try, in order: this host's own (when it is a manager: instance 0 first, whose
    loss means the host's), then the others by :func:`affinity` with ``own_id`` (highest first), so
    hosts spread evenly over every dispatcher process, each host keeps its order while the dispatchers
    stay the same, and a dispatcher added or removed moves only the hosts it wins or held."""
    every = [Dispatcher(manager, instance) for manager in managers for instance in manager.dispatchers or [0]]
    return sorted(every, key=lambda one: (one.manager.node_id != own_id, one.instance if one.manager.node_id == own_id
                                          else 0, -affinity(own_id, one.name), one.name))


def affinity(host_id: str, dispatcher: str) -> int:
    """A stable pseudo-random weight of the pair (rendezvous hashing): the same on every host and run."""
    digest = hashlib.blake2b(f"{host_id}/{dispatcher}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def newly_preferred(before: list[ManagerAddress], after: list[ManagerAddress], current: str,
                    own_id: str) -> Dispatcher | None:
    """The dispatcher to move to now that the managers are ``after`` (were ``before``), talking to
    ``current``: one that was not listed before and comes first in the new order ahead of ``current``
    (a dispatcher started since, which this host would have picked), else None. A dispatcher that was
    listed before is never moved to: it may be one this host left because it stopped answering."""
    known = {one.name for one in dispatcher_order(before, own_id)}
    for one in dispatcher_order(after, own_id):
        if one.name == current:
            return None
        if one.name not in known:
            return one
    return None


def role_switch(host_role: str, wanted_role: str | None, raft_member: bool) -> str | None:
    """The role the host must switch to now, or None to stay as it is."""
    if host_role == "worker" and wanted_role == "manager":
        return "manager"
    if host_role == "manager" and wanted_role == "worker" and not raft_member:
        return "worker"
    return None


def managers_after_switch(managers: list[ManagerAddress], own: ManagerAddress, role: str) -> list[ManagerAddress]:
    """The host's manager list once it has ``role``: it lists itself exactly when it is a manager."""
    others = [manager for manager in managers if manager.node_id != own.node_id]
    return sorted(others + [own] if role == "manager" else others, key=lambda manager: manager.node_id)

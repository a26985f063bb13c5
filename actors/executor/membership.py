"""What a host learns from its dispatcher about the cluster's managers, as pure decisions.

Every heartbeat answer says where the managers are and which role the
cluster wants this host to have. From that the executor picks which
dispatcher to talk to (its own host's first, then the others in an order
drawn from the host's id, so the workers spread over every manager's
dispatcher and each fails over to a live one by itself) and when the host must switch
role: a worker that was promoted becomes a manager at once (its Raft member
starts empty and is added as a learner); a manager that was demoted becomes a
worker only once the Raft leader has removed it from the configuration.
"""

from __future__ import annotations

import hashlib

from actors.common.hostconfig import ManagerAddress


def dispatcher_order(managers: list[ManagerAddress], own_id: str) -> list[ManagerAddress]:
    """The managers to try, in order: this host's own (when it is one), then the others by :func:`affinity`
    with ``own_id`` (highest first), so hosts spread evenly over the managers, each host keeps its order
    while the managers stay the same, and a manager added or removed moves only the hosts it wins or held."""
    return sorted(managers, key=lambda manager: (manager.node_id != own_id, -affinity(own_id, manager.node_id),
                                                 manager.node_id))


def affinity(host_id: str, manager_id: str) -> int:
    """A stable pseudo-random weight of the pair (rendezvous hashing): the same on every host and run."""
    digest = hashlib.blake2b(f"{host_id}/{manager_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


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

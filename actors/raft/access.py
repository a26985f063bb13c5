"""Which keys may speak to a Raft member, and as which node: from the current store and configuration.

The member's API (proposals, reads, forwarded requests) and peer sockets admit
the host's own key and the managers of the store as it is now: nodes whose
role is manager, and nodes still in the Raft configuration (a demoted manager
answers the leader until it is removed). Only while the store knows no nodes
yet (a joining manager before its first snapshot) does ``host.json``'s list of
managers stand in for it. Every received Raft message must name as its sender
(``frm``) the node whose key presented it; anything else is dropped.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import Counter

from actors.common import access
from actors.common.hostconfig import ManagerAddress
from transport import schema

SPOOFED = Counter("shoal_raft_messages_wrong_sender_total",
                  "Raft messages dropped because their sender id is not the node of the key that sent them")


def admitted_keys(nodes: list[dict], host_managers: Iterable[ManagerAddress], members: set[str],
                  own_id: str, own_key: str) -> dict[str, str]:
    """Key -> node id of every host that may talk to this member: this host, and the managers and
    Raft members among ``nodes`` (``host_managers`` instead while ``nodes`` is empty)."""
    if nodes:
        book = {schema.get_path(node, "Shoal.PublicKey"): node["ID"] for node in nodes
                if (schema.get_path(node, "Spec.Role") == access.MANAGER or node["ID"] in members)
                and not access.has_left(node) and schema.get_path(node, "Shoal.PublicKey")}
    else:
        book = {manager.public_key: manager.node_id for manager in host_managers}
    book[own_key] = own_id
    return book


class RaftAccess:
    """The member's current admission list; :meth:`refresh` it whenever nodes or the configuration change."""

    def __init__(self, own_id: str, own_key: str):
        self._own = (own_id, own_key)
        self._keys: dict[str, str] = {own_key: own_id}

    def refresh(self, nodes: list[dict], host_managers: Iterable[ManagerAddress], members: set[str]) -> None:
        """Recompute who is admitted from the store's ``nodes``, host.json's managers and the Raft ``members``."""
        self._keys = admitted_keys(nodes, host_managers, members, *self._own)

    def admits(self, key: str) -> bool:
        """True when ``key`` may connect to and call this member (ZAP, and each API request)."""
        return key in self._keys

    def role_of(self, key: str) -> str | None:
        """``manager`` for an admitted key, else None (for :func:`actors.common.access.authorizer`)."""
        return access.MANAGER if self.admits(key) else None

    def sender_matches(self, key: str, sender: str) -> bool:
        """True when a Raft message claiming to come from node ``sender`` was sent with that node's ``key``."""
        if self._keys.get(key) == sender and key:
            return True
        SPOOFED.inc()
        return False

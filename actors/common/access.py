"""Who a CURVE key is, and what it may ask: roles from the current store, checked per request.

A caller is its CURVE public key (ZeroMQ's User-Id of the frame); nothing in
a message body names its sender. Its role is looked up in the store as it is
at the moment of the request, so a demoted, removed or departed node loses its
rights on connections it opened earlier:

- ``admin``: a key in the cluster's ``Shoal.AdminKeys`` (the CLI of ``swarm init``);
- ``manager``: the host key of a node whose ``Spec.Role`` is manager;
- ``worker``: the host key of any other node;
- ``None``: a stranger, or the key of a node that left the swarm (``Shoal.Left``).

:func:`authorizer` turns a socket's table of kind -> roles into the hook an
:class:`transport.rpc.RpcServer` calls before every handler. docs/security.md
has the whole matrix.
"""

from __future__ import annotations

from typing import Callable, Iterable

from prometheus_client import Counter

from transport import schema

ADMIN, MANAGER, WORKER = "admin", "manager", "worker"
NODES = frozenset({MANAGER, WORKER})
ADMINS = frozenset({ADMIN, MANAGER})  # a manager's own CLI may sign with its host key
ANYONE = frozenset({ADMIN, MANAGER, WORKER, None})

DENIED = Counter("shoal_requests_denied_total", "Requests refused because the caller's key lacks the role",
                 ["socket", "role"])

RoleOf = Callable[[str], "str | None"]


# The dispatcher's kinds: any node's key, each request for the key's own node (the handlers check it);
# task_data serves only the tasks assigned to that node and not ended (actors/dispatcher/taskdata.py).
# A manager's control API asks for the output of a node's tasks (``logs``); the node answers (``logs_reply``).
DISPATCHER_RIGHTS = {"session": NODES, "heartbeat": NODES, "status": NODES, "task_data": NODES,
                     "logs": frozenset({MANAGER}), "logs_reply": NODES}


def has_left(node: dict) -> bool:
    """True once ``node`` left the swarm (``swarm leave`` recorded ``Shoal.Left``): its key has no rights."""
    return bool(schema.get_path(node, "Shoal.Left"))


def nodes_by_key(nodes: Iterable[dict]) -> dict[str, dict]:
    """The nodes that have not left, by host key."""
    return {key: node for node in nodes
            if (key := schema.get_path(node, "Shoal.PublicKey")) and not has_left(node)}


def role_of(key: str, cluster: dict | None, by_key: dict[str, dict]) -> str | None:
    """``admin``, ``manager``, ``worker`` or None for ``key``, given the store's cluster object and its
    nodes indexed by :func:`nodes_by_key`."""
    if key and key in (schema.get_path(cluster or {}, "Shoal.AdminKeys") or []):
        return ADMIN
    node = by_key.get(key)
    if node is None:
        return None
    return MANAGER if schema.get_path(node, "Spec.Role") == MANAGER else WORKER


class ViewRoles:
    """Roles of keys over an actor's store view (the store as the actor knows it now); the key index
    is rebuilt only when the view's nodes changed (its change set of the nodes table: a snapshot
    counts), so a lookup costs a dict access however fast tasks change."""

    def __init__(self, view):
        self._view = view
        self._nodes_changed = view.watch(frozenset({"nodes"}))
        self._by_key: dict[str, dict] | None = None

    def node_of(self, key: str) -> dict | None:
        """The node (not left) whose host key is ``key``, or None."""
        if self._nodes_changed.take() or self._by_key is None:
            self._by_key = nodes_by_key(self._view.table("nodes").values())
        return self._by_key.get(key)

    def role_of(self, key: str) -> str | None:
        """``key``'s role now: admin, manager, worker or None."""
        self.node_of(key)
        return role_of(key, self._view.cluster, self._by_key)


def authorizer(socket: str, role_of_key: RoleOf, allowed: dict[str, frozenset]) -> Callable[[str, str], str | None]:
    """The per-request hook for the ``socket`` server: ``(kind, peer key)`` -> None when the key's
    current role (``role_of_key``) may make a ``kind`` request per ``allowed`` (kind -> roles), else the
    one-line reason for a ``permission_denied`` reply (and the refusal is counted)."""
    def authorize(kind: str, key: str) -> str | None:
        role = role_of_key(key)
        if role in allowed.get(kind, ()):
            return None
        DENIED.labels(socket, role or "stranger").inc()
        who = f"a key with role {role}" if role else "a key the cluster does not know (or of a node that left)"
        return f"permission denied: {who} may not make {kind[:64]!r} requests on the {socket} socket"
    return authorize


def every_kind(kinds: Iterable[str], roles: frozenset) -> dict[str, frozenset]:
    """The table giving ``roles`` every one of ``kinds``."""
    return {kind: roles for kind in kinds}

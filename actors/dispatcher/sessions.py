"""Worker sessions and heartbeat deadlines: the dispatcher's pure bookkeeping.

A session starts when a node's executor says hello and lives while its
heartbeats arrive. :meth:`SessionTable.expired` names the nodes whose last
heartbeat is older than a grace period; the dispatcher then marks them
``down`` in the store. Time is always passed in.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Callable


@dataclasses.dataclass
class Session:
    """One node's live connection: where to push and when it was last heard."""

    node_id: str
    session_id: str
    routing_id: bytes
    last_seen: float
    assignments_digest: tuple | None = None  # None until the first push
    network_digest: bytes | None = None  # of the network state last pushed; None until the first push
    network_ids: frozenset = frozenset()  # the networks that state named
    ready_index: int = 0  # the store index at which the session's ready write committed


class SessionTable:
    """Live sessions by node id, plus the nodes the store believes ready but nobody serves."""

    def __init__(self):
        self._sessions: dict[str, Session] = {}

    def open(self, node_id: str, routing_id: bytes, now: float) -> Session:
        """Start (or restart) ``node_id``'s session; any previous one is replaced."""
        session = Session(node_id, secrets.token_hex(8), routing_id, now)
        self._sessions[node_id] = session
        return session

    def heartbeat(self, node_id: str, session_id: str, routing_id: bytes, now: float) -> Session | None:
        """Record a heartbeat; None when ``session_id`` is not ``node_id``'s live session."""
        session = self._sessions.get(node_id)
        if session is None or session.session_id != session_id:
            return None
        session.last_seen, session.routing_id = now, routing_id
        return session

    def get(self, node_id: str) -> Session | None:
        """The live session of ``node_id``, if any."""
        return self._sessions.get(node_id)

    def all(self) -> list[Session]:
        """Every live session."""
        return list(self._sessions.values())

    def expired(self, now: float, grace: float, lost: Callable[[str], bool] = lambda node_id: False,
                lost_grace: float = 0.0) -> list[Session]:
        """Remove and return the sessions not heard from within ``grace`` seconds, or within ``lost_grace`` for
        the nodes ``lost`` names (those with other evidence that their host is gone)."""
        dead = [s for s in self._sessions.values()
                if now - s.last_seen > (lost_grace if lost(s.node_id) else grace)]
        for session in dead:
            del self._sessions[session.node_id]
        return dead

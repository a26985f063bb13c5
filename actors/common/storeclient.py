"""Talking to the store: proposals and reads through the host's Raft member."""

from __future__ import annotations

from typing import Collection

import zmq

from actors.common.actor import ActorContext
from actors.common.records import snapshot_of
from transport.keys import KeyPair
from transport.rpc import RpcClient, RpcError
from transport import sockets
from transport.limits import STORE_BYTES

StoreError = RpcError


class StoreClient:
    """Proposes batches to, and reads from, a Raft member's API socket.

    A member that is not the leader forwards to the leader, so callers need
    not know who leads. Every call has a deadline; errors come back as
    StoreError with the store's code (``conflict``, ``fenced``, ``no_leader`` ...).
    """

    def __init__(self, rpc: RpcClient):
        self._rpc = rpc

    @classmethod
    def for_actor(cls, actor: ActorContext) -> "StoreClient":
        """A client of the Raft member on the actor's own (manager) host."""
        manager = actor.config.local_manager()
        sock = actor.connect(zmq.DEALER, manager.endpoint("raft_api"), manager.public_key.encode())
        return cls(RpcClient(sock, f"raft member at {manager.addr}:{manager.port + 2}"))

    @classmethod
    def connect(cls, context: zmq.Context, endpoint: str, keypair: KeyPair, server_public: bytes) -> "StoreClient":
        """A client for an explicit endpoint (tests and tools)."""
        sock = sockets.client_socket(context, zmq.DEALER, endpoint, keypair, server_public)
        return cls(RpcClient(sock, f"raft member at {endpoint}"))

    async def propose(self, ops: list[dict], fence: dict | None = None, timeout: float = 5.0) -> dict:
        """Commit ``ops`` atomically; returns ``{"index", "results"}`` or raises StoreError."""
        return await self._rpc.call("propose", {"ops": ops, "fence": fence}, timeout)

    async def snapshot(self, timeout: float = 5.0, tables: Collection[str] | None = None) -> dict:
        """The whole store, or only its ``tables`` when given, as ``{"index": N, "tables": {...}}``,
        streamed in parts (records, see :mod:`actors.common.records`) of bounded size; ``timeout``
        bounds the wait for each part."""
        body = {} if tables is None else {"tables": sorted(tables)}
        return snapshot_of(await self._rpc.call("snapshot", body, timeout, max_bytes=STORE_BYTES))

    async def get(self, table: str, object_id: str, timeout: float = 5.0) -> dict:
        """One object (linearizable read); StoreError ``not_found`` if absent."""
        return await self._rpc.call("get", {"table": table, "id": object_id}, timeout)

    async def list(self, table: str, timeout: float = 5.0) -> list[dict]:
        """All objects of ``table`` (linearizable read), streamed in parts of bounded size."""
        return await self._rpc.call("list", {"table": table}, timeout, max_bytes=STORE_BYTES)

    async def barrier(self, timeout: float = 5.0) -> int:
        """A store index that includes every write committed before this call (read index)."""
        return (await self._rpc.call("barrier", {}, timeout))["index"]

    async def status(self, timeout: float = 5.0) -> dict:
        """The member's Raft status (term, role, leader, indexes)."""
        return await self._rpc.call("status", {}, timeout)

    def close(self) -> None:
        """Close the underlying socket."""
        self._rpc.close()

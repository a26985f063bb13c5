"""The Raft member actor: the IO around the Raft core and the store.

It owns four sockets: the API (proposals, reads, snapshots) for the
manager's actors, the change stream (PUB) of committed batches, the peer
socket for Raft messages between managers, and the ZAP policy that admits
only manager keys known to the store. Each pass of :meth:`Member._drain`
takes the core's Ready, persists entries and hard state (fsync) before
sending any message, applies committed entries to the store, publishes
their changes in log order, answers the proposers, then advances the core.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import zmq
from prometheus_client import Counter, Gauge, Histogram

from actors.common.actor import ActorContext
from actors.raft.core import Entry, Message, NotLeader, RaftConfig, RaftCore
from actors.raft.peers import PeerLinks
from actors.raft.storage import RaftStorage
from actors.raft.store import Store
from transport import codec
from transport.rpc import Request, RpcClient, RpcError, RpcServer, RpcTimeout
from transport.schema import get_path

TICK_SECONDS = 0.05
ELECTION_TICKS = 10
LEADER_WAIT_SECONDS = 3.0
PROPOSAL_TIMEOUT = 10.0
FORWARD_TIMEOUT = 3.0
SNAPSHOT_EVERY = 5000  # applied entries between store snapshots (log compaction)

PROPOSALS = Counter("shoal_raft_proposals_total", "Proposals received by this member", ["outcome"])
COMMIT_SECONDS = Histogram("shoal_raft_commit_seconds", "Proposal to committed-and-applied latency",
                           buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
FSYNC_SECONDS = Histogram("shoal_raft_persist_seconds", "Time to persist one Ready (fsync included)",
                          buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1))
TERM = Gauge("shoal_raft_term", "Current Raft term")
IS_LEADER = Gauge("shoal_raft_is_leader", "1 when this member leads")
COMMIT_INDEX = Gauge("shoal_raft_commit_index", "Highest committed log index")
APPLIED_INDEX = Gauge("shoal_raft_applied_index", "Highest log index applied to the store")
PENDING = Gauge("shoal_raft_pending_proposals", "Proposals waiting for commit (queue depth)")


class Member:
    """One Raft member: core + storage + store + sockets."""

    def __init__(self, actor: ActorContext):
        self._actor = actor
        self._log = actor.log
        config = actor.config
        self._storage = RaftStorage(config.path("raft", "raft.db"))
        hard_state, snapshot, entries = self._storage.load()
        self.store = Store()
        if snapshot is not None:
            self.store.restore(codec.decode(snapshot.data))
        self.core = RaftCore(RaftConfig(node_id=config.node_id, election_tick=ELECTION_TICKS, heartbeat_tick=1),
                             hard_state=hard_state, snapshot=snapshot,
                             entries=entries, voters=tuple(sorted(m.node_id for m in config.managers)))
        self._bootstrap_path = config.path("bootstrap.msgpack")
        self._fresh = snapshot is None and not entries
        self._pending: dict[str, tuple[asyncio.Future, float]] = {}
        self._ids = itertools.count(1)
        self._drain_scheduled = False
        self._leader_known = asyncio.Event()
        self._snapshot_index = snapshot.meta.index if snapshot else 0
        self._leader_clients: dict[str, RpcClient] = {}

    # -- startup -------------------------------------------------------------
    async def run(self) -> None:
        """Serve until cancelled."""
        actor = self._actor
        actor.policy.allow("manager", self._is_manager_key)
        self._pub = actor.serve(zmq.PUB, "changes", "manager")
        self._pub.setsockopt(zmq.SNDHWM, 100000)
        api = actor.serve(zmq.ROUTER, "raft_api", "manager")
        self._peers = PeerLinks(actor, self._on_peer_message)
        self._peers.connect(actor.config.managers)
        server = RpcServer(api, {"propose": self._on_propose, "snapshot": self._on_snapshot, "get": self._on_get,
                                 "list": self._on_list, "status": self._on_status},
                           on_error=lambda code, text: self._log.warning("bad request", code=code, error=text))
        if self.core.voters == (actor.config.node_id,):
            self.core.campaign()
        self._schedule_drain()
        await asyncio.gather(server.serve(), self._ticker(), self._peers.receive())

    def _is_manager_key(self, key: str) -> bool:
        if any(manager.public_key == key for manager in self._actor.config.managers):
            return True
        return any(get_path(node, "Shoal.PublicKey") == key and get_path(node, "Spec.Role") == "manager"
                   for node in self.store.list("nodes"))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.core.tick()
            self._expire_pending()
            self._schedule_drain()

    # -- the Ready loop ------------------------------------------------------
    def _schedule_drain(self) -> None:
        """Coalesce work: every input in this loop iteration shares one fsync."""
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        while self.core.has_ready():
            ready = self.core.ready()
            started = time.perf_counter()
            self._storage.save(ready.hard_state, ready.entries, ready.snapshot)
            FSYNC_SECONDS.observe(time.perf_counter() - started)
            if ready.snapshot is not None:
                self.store.restore(codec.decode(ready.snapshot.data))
                self._snapshot_index = ready.snapshot.meta.index
            self._send(ready.messages)
            for entry in ready.committed_entries:
                self._apply(entry)
            self.core.advance(ready)
            if ready.soft_state is not None:
                self._on_soft_state(ready.soft_state)
        self._maybe_compact()
        self._update_gauges()

    def _maybe_compact(self) -> None:
        """Snapshot the store and drop the log before it every SNAPSHOT_EVERY applied entries."""
        if self.store.index - self._snapshot_index < SNAPSHOT_EVERY:
            return
        snapshot = self.core.compact(self.store.index, codec.encode(self.store.snapshot()))
        self._storage.save_snapshot(snapshot)
        self._storage.compact(snapshot.meta.index)
        self._snapshot_index = snapshot.meta.index
        self._log.info("log compacted", index=snapshot.meta.index)

    def _on_peer_message(self, message: Message) -> None:
        self.core.step(message)
        self._schedule_drain()

    def _send(self, messages: list[Message]) -> None:
        for message in messages:
            delivered = self._peers.send(message)
            if message.type == "snapshot":
                self.core.report_snapshot(message.to, delivered)
            elif not delivered:
                self.core.report_unreachable(message.to)

    def _on_soft_state(self, soft_state) -> None:
        self._log.info("raft role", role=soft_state.role, leader=soft_state.leader, term=self.core.term)
        if soft_state.leader is not None:
            self._leader_known.set()
        else:
            self._leader_known.clear()
        if soft_state.role == "leader":
            asyncio.get_running_loop().call_soon(self._maybe_bootstrap)

    def _maybe_bootstrap(self) -> None:
        """Commit the cluster's first objects (written by ``swarm init``) into a fresh log."""
        if not self._fresh or not self._bootstrap_path.exists() or self.store.list("cluster"):
            return
        batch = codec.decode(self._bootstrap_path.read_bytes())
        future = self._submit(batch)
        future.add_done_callback(lambda f: self._bootstrap_done(f))

    def _bootstrap_done(self, future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is not None or "error" in future.result():
            self._log.error("bootstrap failed", error=str(future.exception() or future.result()))
            return
        self._bootstrap_path.unlink(missing_ok=True)
        self._fresh = False
        self._log.info("cluster bootstrapped", index=future.result()["index"])

    def _apply(self, entry: Entry) -> None:
        changes = []
        entry_time = time.time()
        if entry.kind == "normal":
            payload = codec.decode(entry.data)
            entry_time = payload["time"]
            result, changes = self.store.apply(payload["batch"], entry.index, entry_time)
            waiter = self._pending.pop(payload["id"], None)
            if waiter is not None and not waiter[0].done():
                waiter[0].set_result(result)
                COMMIT_SECONDS.observe(time.monotonic() - waiter[1])
        else:
            self.store.index = entry.index
        self._pub.send(codec.encode({"index": entry.index, "time": entry_time,
                                     "changes": [change.to_dict() for change in changes]}))

    def _update_gauges(self) -> None:
        TERM.set(self.core.term)
        IS_LEADER.set(1 if self.core.role == "leader" else 0)
        COMMIT_INDEX.set(self.core.commit_index)
        APPLIED_INDEX.set(self.store.index)
        PENDING.set(len(self._pending))

    # -- proposals -----------------------------------------------------------
    def _submit(self, batch: dict) -> asyncio.Future:
        """Hand a batch to the core; the future resolves with the store's result once applied."""
        request_id = f"{self._actor.config.node_id}:{next(self._ids)}"
        data = codec.encode({"id": request_id, "time": time.time(), "batch": batch})
        self.core.propose(data)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, time.monotonic())
        self._schedule_drain()
        return future

    def _expire_pending(self) -> None:
        now = time.monotonic()
        for request_id, (future, started) in list(self._pending.items()):
            if now - started > PROPOSAL_TIMEOUT:
                self._pending.pop(request_id)
                if not future.done():
                    future.set_exception(RpcError("timeout", f"proposal not committed within {PROPOSAL_TIMEOUT:g}s"))

    async def _known_leader(self) -> str:
        """The current leader's id, waiting a little during an election; RpcError ``no_leader`` otherwise."""
        deadline = time.monotonic() + LEADER_WAIT_SECONDS
        while self._campaigning_or_leaderless() and time.monotonic() < deadline:
            self._leader_known.clear()
            try:
                await asyncio.wait_for(self._leader_known.wait(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
        if self._campaigning_or_leaderless():
            raise RpcError("no_leader", "no leader: the managers have lost quorum or are electing one")
        return self.core.leader

    def _campaigning_or_leaderless(self) -> bool:
        return self.core.leader is None or self.core.role in ("candidate", "pre-candidate")

    async def _on_leader(self, request: Request, serve):
        """Run ``serve()`` here when this member leads; otherwise forward the request to the leader."""
        leader = await self._known_leader()
        if leader == self._actor.config.node_id:
            return await serve()
        return await self._forward(leader, request)

    async def _forward(self, leader: str, request: Request):
        client = self._leader_clients.get(leader)
        if client is None:
            address = next((m for m in self._actor.config.managers if m.node_id == leader), None)
            if address is None:
                raise RpcError("no_leader", f"leader {leader} has no known address")
            sock = self._actor.connect(zmq.DEALER, address.endpoint("raft_api"), address.public_key.encode())
            client = self._leader_clients[leader] = RpcClient(sock, f"leader {leader} at {address.addr}")
        try:
            return await client.call(request.kind, request.body, FORWARD_TIMEOUT)
        except RpcTimeout:
            raise RpcError("no_leader", f"no leader: leader {leader} does not answer within {FORWARD_TIMEOUT:g}s "
                                        "(the managers may have lost quorum)") from None

    async def _on_propose(self, request: Request) -> dict:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("ops"), list):
            raise RpcError("malformed", "a proposal needs a list of ops")
        return await self._on_leader(request, lambda: self._propose_here(body))

    async def _propose_here(self, body: dict) -> dict:
        try:
            future = self._submit({"ops": body["ops"], "fence": body.get("fence")})
        except NotLeader:
            PROPOSALS.labels("no_leader").inc()
            raise RpcError("no_leader", "no leader: this member lost leadership") from None
        result = await future
        if "error" in result:
            PROPOSALS.labels(result["error"]["code"]).inc()
            raise RpcError(result["error"]["code"], result["error"]["message"])
        PROPOSALS.labels("committed").inc()
        return result

    # -- reads ---------------------------------------------------------------
    async def _on_snapshot(self, request: Request) -> dict:
        return self.store.snapshot()

    async def _on_get(self, request: Request) -> dict:
        async def serve():
            obj = self.store.get(request.body["table"], request.body["id"])
            if obj is None:
                raise RpcError("not_found", f"{request.body['table'][:-1]} {request.body['id']} not found")
            return obj
        return await self._on_leader(request, serve)

    async def _on_list(self, request: Request) -> list:
        async def serve():
            return self.store.list(request.body["table"])
        return await self._on_leader(request, serve)

    async def _on_status(self, request: Request) -> dict:
        status = self.core.status()
        status["applied"] = self.store.index
        return status


async def main(actor: ActorContext) -> None:
    """Entry point of the ``raft`` actor."""
    await Member(actor).run()

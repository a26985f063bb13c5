"""The Raft member actor: the IO around the Raft core and the store.

It owns three sockets: the API (proposals, reads, snapshots) for the
manager's actors and the other members, the change stream (PUB) of committed
batches for this host's actors, and the peer socket for Raft messages between
managers. Who may use them is decided from the current store, per request
and per message (:mod:`actors.raft.access`). Each pass of :meth:`Member._drain`
hands the core the proposals received since the last pass, several to an
entry (:mod:`actors.raft.proposals`), then takes the core's Ready: applies
the committed entries to the store (they are on a majority's disks already),
publishes their changes in log order and answers their proposers; persists
entries and hard state (fsync, once for the whole Ready) before sending any
message (a leader sends its appends first and fsyncs in parallel with its
followers); then advances the core.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import zmq
from prometheus_client import Counter, Gauge, Histogram

from actors.common import access
from actors.common.actor import ActorContext
from actors.common.clock import LeaderClock
from actors.common.faults import FAULT_INJECTION_ENV, enabled as fault_injection_enabled
from actors.common.changes import batch_messages
from actors.common.hostconfig import ManagerAddress, node_address
from actors.common.loopstall import LoopStallWatch
from actors.common.peak import PEAK_WINDOW, WindowPeak
from actors.common.series import start_at_zero
from actors.common.records import records
from actors.raft import proposals, roles, snapshots
from actors.raft.diskfull import WRITE_ERRORS, DiskState, transfer_target
from actors.raft.access import RaftAccess
from actors.raft.crashpoints import CrashPoints
from actors.raft.core import Entry, Message, NotLeader, RaftConfig, RaftCore
from actors.raft.reconfigure import Reconfigurer
from actors.raft.peers import PeerLinks
from actors.raft.storage import RaftStorage
from actors.raft.store import Store
from transport import codec, limits, schema
from transport.rpc import Request, RpcClient, RpcError, RpcServer, RpcTimeout, Stream

TICK_SECONDS = 0.03  # election timeout: ELECTION_TICKS to twice that, 0.3-0.6 s
ELECTION_TICKS = 10
LEADER_WAIT_SECONDS = 3.0
PROPOSAL_TIMEOUT = 10.0
FORWARD_TIMEOUT = 3.0
NO_LEADER = "no leader: the managers have lost quorum or are electing one"
# Applied entries between store snapshots (log compaction); tests lower it to exercise snapshots.
SNAPSHOT_EVERY = int(os.environ.get("SHOAL_RAFT_SNAPSHOT_EVERY", "5000"))
REACHABLE_SECONDS = 2 * ELECTION_TICKS * TICK_SECONDS  # a peer heard from within this is reachable
DRAIN_SLICE_SECONDS = 0.02  # Readys handled back to back in one pass of the loop, at most this long
CATCH_UP_SECONDS = 30.0  # a lagging follower heard from within this holds compaction back

PROPOSALS = Counter("shoal_raft_proposals_total", "Proposals received by this member", ["outcome"])
COMMIT_SECONDS = Histogram("shoal_raft_commit_seconds", "Proposal to committed-and-applied latency",
                           buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
FSYNC_SECONDS = Histogram("shoal_raft_persist_seconds", "Time to persist one Ready (fsync included)",
                          buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1))
COMMITTED = PROPOSALS.labels("committed")  # looked up once: it counts every proposal
start_at_zero(PROPOSALS, ("no_leader", "disk_full", "conflict", "fenced", "invalid"))  # the usual refusals
TERM = Gauge("shoal_raft_term", "Current Raft term")
IS_LEADER = Gauge("shoal_raft_is_leader", "1 when this member leads")
COMMIT_INDEX = Gauge("shoal_raft_commit_index", "Highest committed log index")
APPLIED_INDEX = Gauge("shoal_raft_applied_index", "Highest log index applied to the store")
PENDING = Gauge("shoal_raft_pending_proposals", "Proposals this member has not answered yet (as of the scrape)")
PENDING_PEAK = Gauge("shoal_raft_pending_proposals_peak", "The most proposals pending at once within the last "
                     f"{PEAK_WINDOW:g} s")
LEADER_CHANGES = Counter("shoal_raft_leader_changes_total", "Times this member learnt of a leader after knowing "
                         "none or another (an election ended)")
VOTERS = Gauge("shoal_raft_voters", "Voters in this member's configuration")
LEARNERS = Gauge("shoal_raft_learners", "Learners (non-voting, catching up) in this member's configuration")
LOOP_STALL = Histogram("shoal_raft_loop_stall_seconds", "How late the member's event loop ran a 50 ms timer "
                       "(time spent in work that did not yield)",
                       buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5))
LOOP_STALL_MAX = Gauge("shoal_raft_loop_stall_max_seconds", "The longest stall of the member's event loop since it started")
LOOP_STALL_CPU_MAX = Gauge("shoal_raft_loop_stall_cpu_max_seconds", "The most CPU time the member's loop thread used "
                           "within one stall (work holding the loop, as opposed to waiting for a CPU)")
PERSIST_FAILURES = Counter("shoal_raft_persist_failures_total", "Readies that could not be written (disk full)")
READS = Counter("shoal_raft_linearizable_reads_total", "Reads served after a read-index barrier", ["outcome"])
start_at_zero(READS, ("served", "timeout", "no_leader"))


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
            self.store.restore(snapshots.decode_now(snapshot.data))
        self.core = RaftCore(RaftConfig(node_id=config.node_id, election_tick=ELECTION_TICKS, heartbeat_tick=1),
                             hard_state=hard_state, snapshot=snapshot,
                             entries=entries, voters=tuple(sorted(config.initial_voters)))
        self._bootstrap_path = config.path("bootstrap.msgpack")
        self._fresh = snapshot is None and not entries
        self._pending: dict[str, tuple[asyncio.Future, float]] = {}
        self._pending_peak = WindowPeak(PEAK_WINDOW, time.monotonic())
        # Read at each scrape (from the metrics thread): the loop answers proposals within a pass, so a level
        # set at the end of each pass would always be 0.
        PENDING.set_function(lambda: len(self._pending))
        PENDING_PEAK.set_function(lambda: max(self._pending_peak.value(time.monotonic()), len(self._pending)))
        self._queued = proposals.ProposalQueue()  # received, not yet handed to the core (see _propose_queued)
        self._ids = itertools.count(1)
        self._drain_scheduled = False
        self._leader_gone: asyncio.Future | None = None  # resolved when the leader this member knows changes
        self._last_leader: str | None = None
        self._leader_clients: dict[str, RpcClient] = {}
        self._reads: dict[bytes, asyncio.Future] = {}
        self._heard_from: dict[str, float] = {}
        self._peers_dirty = True
        self._cut_off: set[str] = set()  # peers this member may not talk to (fault injection)
        self._crash = CrashPoints.from_env()
        self._compactor = snapshots.Compactor(self.core, self._storage, self.store, self._crash, self._log,
                                              SNAPSHOT_EVERY, snapshot.meta.index if snapshot else 0,
                                              hold=self._follower_catching_up)
        self._disk = DiskState()  # whether writing the log fails (actors/raft/diskfull.py)
        self._installing: asyncio.Future | None = None  # a leader's snapshot being prepared off the loop
        self._clock = LeaderClock()  # the time stamped on proposals (actors/common/clock.py)
        self._access = RaftAccess(config.node_id, actor.keypair.public_text)

    # -- startup -------------------------------------------------------------
    async def run(self) -> None:
        """Serve until cancelled."""
        actor = self._actor
        actor.policy.allow("manager", self._access.admits)
        actor.policy.allow("host", lambda key: key == actor.keypair.public_text)
        self._pub_socket = actor.serve(zmq.PUB, "changes", "host", limits.CHANGES_INBOUND_BYTES)
        self._pub_socket.setsockopt(zmq.SNDHWM, 100000)
        # A PUB socket never blocks a send (a full queue drops, and the view then sees a gap), so the
        # change stream is sent on a plain socket over it, without the asyncio wrapper's per-send future.
        self._pub = zmq.Socket.shadow(self._pub_socket.underlying)
        api = actor.serve(zmq.ROUTER, "raft_api", "manager", limits.RAFT_API_MESSAGE_BYTES)
        self._peers = PeerLinks(actor, self._on_peer_message, self._access.sender_matches)
        self._refresh_peers()
        handlers = {"propose": self._on_propose, "snapshot": self._on_snapshot, "get": self._on_get,
                    "list": self._on_list, "status": self._on_status, "barrier": self._on_barrier,
                    "faults": self._on_faults}
        server = RpcServer(api, handlers, on_error=self._on_request_error, authorize=access.authorizer(
            "raft_api", self._access.role_of, access.every_kind(handlers, {access.MANAGER})))
        if self.core.voters == (actor.config.node_id,):
            self.core.campaign()
        self._schedule_drain()
        reconfigurer = Reconfigurer(self.core, self.store, self._submit, self._schedule_drain, self._log,
                                    self._reachable_peers)
        stalls = LoopStallWatch(LOOP_STALL, LOOP_STALL_MAX, LOOP_STALL_CPU_MAX, self._log)
        await asyncio.gather(server.serve(), self._ticker(), self._peers.receive(), reconfigurer.run(),
                             stalls.run(), self._compactor.run())

    def _on_request_error(self, code: str, text: str) -> None:
        if code in ("malformed", "internal"):
            self._log.warning("bad request", code=code, error=text)
        else:
            self._log.debug("request refused", code=code, error=text)

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
        """Handle the core's Readys until none is left, or DRAIN_SLICE_SECONDS have passed: then come back
        in a later pass of the loop, so that persisting and applying large batches one after another
        never add up to one long stall. A Ready holding a leader's snapshot is first prepared off the
        loop (:meth:`_prepare_snapshot`)."""
        self._drain_scheduled = False
        self._propose_queued()
        started = time.perf_counter()
        while self._installing is None and self.core.has_ready():
            if time.perf_counter() - started > DRAIN_SLICE_SECONDS:
                self._schedule_drain()
                break
            ready = self.core.ready()
            if ready.snapshot is not None:
                self._installing = asyncio.ensure_future(self._prepare_snapshot(ready))
                break
            if not self._handle_ready(ready):
                break  # the next tick retries the write
        if not self._disk.ongoing:
            self._compactor.maybe_start()
        if self._peers_dirty:
            self._refresh_peers()
        self._update_gauges()

    def _handle_ready(self, ready, snapshot_crc: int | None = None, snapshot: dict | None = None) -> bool:
        """Persist, send, install, apply and advance one Ready (its snapshot's file written already when
        ``snapshot_crc`` is given, and decoded as ``snapshot``); False when the disk refused it."""
        # A leader may send its appends before its own fsync (thesis §10.2.1): its entries count
        # towards commitment only after advance(). Everyone else persists first: votes and
        # acknowledgements must never get ahead of the disk. What is committed is on a majority's
        # disks already, so every member applies it before it writes: the leader's proposers and the
        # views on this host's change stream need not wait for this Ready's fsync (the next batch's
        # entries) or the write of the new commit index. Entries after a snapshot wait for it.
        leading = self.core.role == "leader" and ready.snapshot is None
        if leading:
            self._send(ready.messages)
        if ready.snapshot is None:
            self._apply_and_answer(ready)
        if not self._persist(ready, snapshot_crc):
            self._persist_failed(ready)
            return False  # the next tick retries the write
        if ready.snapshot is not None:
            self._crash.reached("snapshot_installed")
            self._install_snapshot(ready.snapshot, snapshot)
            self._apply_and_answer(ready)
        if not leading:
            self._send(ready.messages)
        self.core.advance(ready)
        if ready.soft_state is not None:
            self._on_soft_state(ready.soft_state)
        return True

    async def _prepare_snapshot(self, ready) -> None:
        """Write a leader's snapshot to its file (in a thread) and decode it (in slices) with the loop
        free, then handle its Ready; the core keeps stepping messages and ticks meanwhile. When the
        write fails the Ready is handled anyway: persisting it then fails, as any write to a full disk."""
        crc = decoded = None
        try:
            crc = await asyncio.to_thread(self._storage.write_snapshot_file, ready.snapshot)
            decoded = await snapshots.decode(ready.snapshot.data)
        except WRITE_ERRORS as exc:
            self._log.error("cannot write a leader's snapshot", error=str(exc))
        finally:
            self._installing = None
        self._handle_ready(ready, crc, decoded)
        self._schedule_drain()

    def _persist(self, ready, snapshot_crc: int | None = None) -> bool:
        """Write the Ready's entries, hard state and snapshot (fsync; ``snapshot_crc`` when its file is
        written already); False when the disk refuses."""
        if ready.entries:
            self._crash.reached("before_persist")
        started = time.perf_counter()
        try:
            self._storage.save(ready.hard_state, ready.entries, ready.snapshot, snapshot_crc)
        except WRITE_ERRORS as exc:
            PERSIST_FAILURES.inc()
            if self._disk.failed(exc):
                self._log.error("cannot write the raft log: refusing proposals, votes and acknowledgements "
                                "until it can", error=self._disk.error, path=str(self._actor.config.path("raft")))
            return False
        FSYNC_SECONDS.observe(time.perf_counter() - started)
        if self._disk.succeeded():
            self._log.info("raft log writable again")
        if ready.entries:
            self._crash.reached("after_persist")
        return True

    def _persist_failed(self, ready) -> None:
        """Drop the Ready's messages (nothing leaves ahead of the disk; a leader sent its appends already),
        have the core hand the rest out again (its committed entries are applied already, unless they
        follow a snapshot that could not be written), and hand leadership to a voter that can write."""
        self.core.persist_failed(ready)
        if ready.soft_state is not None:
            self._on_soft_state(ready.soft_state)
        if self.core.role == "leader":
            target = transfer_target(self.core.id, self.core.voters, self._reachable_peers())
            if target is not None:
                self.core.transfer_leadership(target)

    def _apply_and_answer(self, ready) -> None:
        """Apply the Ready's committed entries and answer the reads they satisfy."""
        for entry in ready.committed_entries:
            self._apply(entry)
        for read in ready.read_states:
            waiter = self._reads.pop(read.context, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(read.index)

    def _install_snapshot(self, snapshot, decoded: dict | None = None) -> None:
        """Replace the store with the leader's snapshot (``decoded`` already, or not yet) and tell the
        views to read it anew."""
        self.store.restore(decoded or snapshots.decode_now(snapshot.data))
        self._compactor.index = snapshot.meta.index
        self._peers_dirty = True
        self._pub.send(codec.encode({"index": snapshot.meta.index, "time": self._clock.last_applied, "changes": [],
                                     "reset": True}))
        self._log.info("installed snapshot", index=snapshot.meta.index)

    def _on_peer_message(self, message: Message) -> None:
        if message.frm in self._cut_off:
            return
        self._heard_from[message.frm] = time.monotonic()
        self.core.step(message)
        self._schedule_drain()

    def _send(self, messages: list[Message]) -> None:
        for message in messages:
            if message.type == "snapshot" and message.to not in self._cut_off:
                asyncio.ensure_future(self._send_snapshot(message))
                continue
            delivered = message.to not in self._cut_off and self._peers.send(message)
            if message.type == "snapshot":
                self.core.report_snapshot(message.to, delivered)
            elif not delivered:
                self.core.report_unreachable(message.to)

    async def _send_snapshot(self, message: Message) -> None:
        """Send a snapshot (the whole store) packed off the loop, then report the outcome to the core."""
        self.core.report_snapshot(message.to, await self._peers.send_off_loop(message))
        self._schedule_drain()

    def _on_soft_state(self, soft_state) -> None:
        self._log.info("raft role", role=soft_state.role, leader=soft_state.leader, term=self.core.term)
        if soft_state.leader != self._last_leader:
            self._last_leader = soft_state.leader
            if soft_state.leader:
                LEADER_CHANGES.inc()
            if self._leader_gone is not None and not self._leader_gone.done():
                self._leader_gone.set_result(None)
            self._leader_gone = None
        if soft_state.role == "leader":
            self._clock.lead(time.time(), time.monotonic())
            asyncio.get_running_loop().call_soon(self._maybe_bootstrap)
        else:
            self._clock.follow()
            self._fail_pending("no leader: this member lost leadership before the proposal committed; "
                               "it may or may not be applied")

    def _fail_pending(self, message: str) -> None:
        """Answer every waiting proposer now (a new leader may still commit what they proposed)."""
        for request_id, (future, _) in list(self._pending.items()):
            self._pending.pop(request_id)
            if not future.done():
                future.set_exception(RpcError("no_leader", message))

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
        entry_time = self._clock.last_applied
        if entry.kind == "normal":
            entry_time, results, changes = proposals.apply_entry(self.store, entry.data, entry.index)
            now = time.monotonic()
            self._clock.applied(entry_time, now)
            self._peers_dirty = self._peers_dirty or any(change.table == "nodes" for change in changes)
            for request_id, result in results:
                waiter = self._pending.pop(request_id, None)
                if waiter is not None and not waiter[0].done():
                    waiter[0].set_result(result)
                    COMMIT_SECONDS.observe(now - waiter[1])
        else:
            self.store.index = entry.index
            self._peers_dirty = True
        for message in batch_messages(entry.index, entry_time, [change.to_dict() for change in changes],
                                      limits.PAGE_BYTES):
            self._pub.send(message)

    def _update_gauges(self) -> None:
        TERM.set(self.core.term)
        IS_LEADER.set(1 if self.core.role == "leader" else 0)
        COMMIT_INDEX.set(self.core.commit_index)
        APPLIED_INDEX.set(self.store.index)
        VOTERS.set(len(self.core.voters))
        LEARNERS.set(len(self.core.learners))

    # -- membership ------------------------------------------------------------
    def _addresses(self) -> dict[str, ManagerAddress]:
        """Where each manager listens: host.json's managers, then what the store's nodes say."""
        book = {manager.node_id: manager for manager in self._actor.config.managers}
        for node in self.store.list("nodes"):
            address = node_address(node)
            if address is not None:
                book[node["ID"]] = address
        return book

    def _follower_catching_up(self) -> bool:
        """True while a follower heard from within CATCH_UP_SECONDS is more than SNAPSHOT_EVERY entries
        behind (or is being sent a snapshot): compacting then would drop the entries it needs next, and
        with a large store it could need snapshot after snapshot (it is silent while it installs one)
        and never catch up. A follower silent for longer is taken for down and holds nothing back."""
        now = time.monotonic()
        progress = self.core.status().get("progress", {})
        return any(peer != self.core.id and now - self._heard_from.get(peer, float("-inf")) < CATCH_UP_SECONDS and
                   (state["state"] == "snapshot" or state["match"] < self.store.index - SNAPSHOT_EVERY)
                   for peer, state in progress.items())

    def _reachable_peers(self) -> set[str]:
        """This member and the peers it heard from within REACHABLE_SECONDS."""
        now = time.monotonic()
        return {self.core.id} | {peer for peer, heard in self._heard_from.items() if now - heard < REACHABLE_SECONDS}

    def _refresh_peers(self) -> None:
        """Keep a link to every member, every wanted manager and every manager host.json names
        (a member that is waiting to be added must answer the leader), and none to anyone else."""
        self._peers_dirty = False
        self._access.refresh(self.store.list("nodes"), self._actor.config.managers,
                             set(self.core.voters) | set(self.core.learners))
        book = self._addresses()
        wanted = set(self.core.voters) | set(self.core.learners) | roles.wanted_managers(
            {node["ID"]: node for node in self.store.list("nodes")}) | {m.node_id for m in self._actor.config.managers}
        self._peers.sync({node_id: book[node_id] for node_id in wanted if node_id in book})

    # -- proposals -----------------------------------------------------------
    def _submit(self, batch: dict) -> asyncio.Future:
        """Propose a batch; the future resolves with the store's result once applied, or fails with
        RpcError ``no_leader`` when this member stops leading first. ``NotLeader`` at once when it
        does not lead; CodecError when the batch cannot be encoded.

        The batch waits for the next pass of the Ready loop, which puts everything proposed meanwhile
        into as few entries as it can (:meth:`_propose_queued`)."""
        self.core.require_leader()
        request_id = f"{self._actor.config.node_id}:{next(self._ids)}"
        self._queued.add(request_id, batch)
        future = asyncio.get_running_loop().create_future()
        now = time.monotonic()
        self._pending[request_id] = (future, now)
        self._pending_peak.observe(len(self._pending), now)
        self._schedule_drain()
        return future

    def _propose_queued(self) -> None:
        """Hand the core the proposals queued since the last pass, several to an entry
        (:mod:`actors.raft.proposals`), stamped with one time. When this member stopped leading
        meanwhile, their proposers hear so."""
        if not self._queued:
            return
        for data, request_ids in self._queued.take(self._clock.now(time.monotonic())):
            try:
                self.core.propose(data)
            except NotLeader:
                PROPOSALS.labels("no_leader").inc(len(request_ids))
                for request_id in request_ids:
                    waiter = self._pending.pop(request_id, None)  # None: answered already (_fail_pending)
                    if waiter is not None and not waiter[0].done():
                        waiter[0].set_exception(RpcError("no_leader", "no leader: this member lost leadership"))

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
        while self._campaigning_or_leaderless():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RpcError("no_leader", NO_LEADER)
            await asyncio.wait({self._leader_change()}, timeout=remaining)
        return self.core.leader

    def _campaigning_or_leaderless(self) -> bool:
        return self.core.leader is None or self.core.role in ("candidate", "pre-candidate")

    def _refuse_if_removed(self) -> None:
        """RpcError ``removed`` once this member has been taken out of the configuration: it holds a
        log but is no longer a voter or learner, so its store stops following the cluster and anything
        decided from it (a dispatcher marking nodes down, say) would be stale."""
        core = self.core
        if core.last_index > 0 and core.id not in core.voters and core.id not in core.learners:
            raise RpcError("removed", "this manager was removed from the cluster's Raft configuration; "
                                      "its store no longer follows the cluster")

    async def _on_leader(self, request: Request, serve):
        """Run ``serve()`` here when this member leads; otherwise forward the request to the leader."""
        self._refuse_if_removed()
        leader = await self._known_leader()
        if leader == self._actor.config.node_id:
            return await serve()
        return await self._forward(leader, request)

    def _leader_change(self) -> asyncio.Future:
        """A future resolved when the leader this member knows changes."""
        if self._leader_gone is None:
            self._leader_gone = asyncio.get_running_loop().create_future()
        return self._leader_gone

    async def _forward(self, leader: str, request: Request):
        if leader in self._cut_off:
            raise RpcError("no_leader", f"no leader: leader {leader} is cut off from this member")
        client = self._leader_clients.get(leader)
        if client is None:
            address = self._addresses().get(leader)
            if address is None:
                raise RpcError("no_leader", f"leader {leader} has no known address")
            sock = self._actor.connect(zmq.DEALER, address.endpoint("raft_api"), address.public_key.encode())
            client = self._leader_clients[leader] = RpcClient(sock, f"leader {leader} at {address.addr}")
        gone, call = self._leader_change(), asyncio.ensure_future(client.call(request.kind, request.body, FORWARD_TIMEOUT))
        await asyncio.wait({call, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not call.done():
            # Fail fast rather than wait out the timeout; not retried here, since the old leader may
            # have committed it (a retry could apply it twice): the caller decides.
            call.cancel()
            raise RpcError("no_leader", f"no leader: leader {leader} lost leadership while this request was "
                                        "forwarded to it; it may or may not have been applied")
        try:
            return call.result()
        except RpcTimeout:
            raise RpcError("no_leader", f"no leader: leader {leader} does not answer within {FORWARD_TIMEOUT:g}s "
                                        "(the managers may have lost quorum)") from None

    async def _on_propose(self, request: Request) -> dict:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("ops"), list):
            raise RpcError("malformed", "a proposal needs a list of ops")
        return await self._on_leader(request, lambda: self._propose_here(body))

    async def _propose_here(self, body: dict) -> dict:
        if self._disk.ongoing:
            PROPOSALS.labels("disk_full").inc()
            raise RpcError("disk_full", self._disk.refusal(self.core.id, str(self._actor.config.path("raft"))))
        try:
            future = self._submit({"ops": body["ops"], "fence": body.get("fence")})
        except NotLeader:
            PROPOSALS.labels("no_leader").inc()
            raise RpcError("no_leader", "no leader: this member lost leadership") from None
        result = await future
        if "error" in result:
            PROPOSALS.labels(result["error"]["code"]).inc()
            raise RpcError(result["error"]["code"], result["error"]["message"])
        COMMITTED.inc()
        return result

    # -- reads ---------------------------------------------------------------
    async def _on_snapshot(self, request: Request) -> Stream:
        """The store's records; only those of the tables a view subscribes to when the request names them."""
        tables = request.body.get("tables") if isinstance(request.body, dict) else None
        if tables is not None and not (isinstance(tables, list) and set(tables) <= set(schema.TABLES)):
            raise RpcError("invalid", f"tables must be a list of table names ({', '.join(schema.TABLES)})")
        return Stream(records(self.store.snapshot(), tables))

    async def _read_barrier(self) -> None:
        """Return once this member's store holds every write committed before the call (read index,
        thesis §6.4): the leader confirms it still leads with a heartbeat round, and this member waits
        until it has applied the leader's commit index. When the leader changes meanwhile the read
        index is asked of the new one (a read changes nothing, so asking again is safe). RpcError
        ``no_leader`` when no leader confirms within FORWARD_TIMEOUT."""
        self._refuse_if_removed()
        deadline = time.monotonic() + FORWARD_TIMEOUT
        while True:
            await self._known_leader()
            if await self._read_index_once(deadline):
                READS.labels("served").inc()
                return
            if time.monotonic() >= deadline:
                READS.labels("timeout").inc()
                raise RpcError("no_leader", f"no leader confirmed this read within {FORWARD_TIMEOUT:g}s "
                                            "(the managers may have lost quorum)")

    async def _read_index_once(self, deadline: float) -> bool:
        """One read-index request: True once served, False when the leader changed or time ran out."""
        context = f"{self._actor.config.node_id}:r{next(self._ids)}".encode()
        waiter = asyncio.get_running_loop().create_future()
        self._reads[context] = waiter
        gone = self._leader_change()
        try:
            self.core.read_index(context)
            self._schedule_drain()
            await asyncio.wait({waiter, gone}, timeout=max(0.0, deadline - time.monotonic()),
                               return_when=asyncio.FIRST_COMPLETED)
            return waiter.done()
        except NotLeader:
            READS.labels("no_leader").inc()
            raise RpcError("no_leader", NO_LEADER) from None
        finally:
            self._reads.pop(context, None)

    async def _on_barrier(self, request: Request) -> dict:
        """``{"index": N}``: every write committed before the request is in this member's store, and
        so in any view that has reached index N (how the control API makes its view reads linearizable)."""
        await self._read_barrier()
        return {"index": self.store.index}

    async def _on_get(self, request: Request) -> dict:
        await self._read_barrier()
        obj = self.store.get(request.body["table"], request.body["id"])
        if obj is None:
            raise RpcError("not_found", f"{request.body['table'][:-1]} {request.body['id']} not found")
        return obj

    async def _on_list(self, request: Request) -> Stream:
        await self._read_barrier()
        return Stream(self.store.list(request.body["table"]))

    async def _on_faults(self, request: Request) -> dict:
        """Fault injection for tests: ``{"cut_off": [peer ids]}`` drops all Raft traffic and forwarding
        between this member and those peers (an empty list heals). Refused unless enabled at start."""
        if not fault_injection_enabled():
            raise RpcError("refused", f"fault injection is off (start the member with {FAULT_INJECTION_ENV}=1)")
        peers = request.body.get("cut_off") if isinstance(request.body, dict) else None
        if not isinstance(peers, list) or not all(isinstance(peer, str) for peer in peers):
            raise RpcError("malformed", "faults needs cut_off: a list of peer ids")
        self._cut_off = set(peers)
        self._log.warning("fault injection", cut_off=",".join(sorted(peers)) or "none")
        return {"cut_off": sorted(self._cut_off)}

    async def _on_status(self, request: Request) -> dict:
        status = self.core.status()
        status["applied"] = self.store.index
        return status


async def main(actor: ActorContext) -> None:
    """Entry point of the ``raft`` actor."""
    await Member(actor).run()

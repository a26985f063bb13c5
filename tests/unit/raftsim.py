"""A simulated Raft cluster for tests: members with an in-memory disk, a network we control, and
checks of Raft's safety properties (paper §5.4, Figure 3).

- :class:`MemoryStorage` keeps what ``RaftStorage`` keeps, with the same save
  semantics; a crash loses everything not saved.
- :class:`SimNode` is one member: core + disk + a state machine (a hash chain
  of applied entries) + the Ready loop the real actor runs.
- :class:`Cluster` is a set of members and the messages between them, with
  partitions and drop rules; tests drive it step by step or until quiet.
- :class:`SafetyChecker` asserts election safety, log matching, leader
  completeness, state machine safety and read linearizability.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import struct
import zlib
from collections import deque

from actors.raft.core import (LEADER, ConfChangeRefused, Entry, HardState, Message, NotLeader, RaftConfig,
                              RaftCore, Snapshot)

IDS = ("n1", "n2", "n3", "n4", "n5")


class MemoryStorage:
    """The simulated disk of one member: RaftStorage's semantics, in memory."""

    def __init__(self):
        self.hard_state: HardState | None = None
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []

    def save(self, hard_state, entries, snapshot=None) -> None:
        """As RaftStorage.save: snapshot replaces the log, entries replace the stored suffix."""
        if snapshot is not None:
            self.snapshot, self.entries = snapshot, []
        if entries:
            kept = [entry for entry in self.entries if entry.index < entries[0].index]
            self.entries = kept + list(entries)
            first = self.snapshot.meta.index + 1 if self.snapshot else 1
            indexes = [entry.index for entry in self.entries]
            assert indexes == list(range(max(first, indexes[0]), max(first, indexes[0]) + len(indexes))), indexes
            assert not self.entries or self.entries[0].index <= first, "stored log has a hole after the snapshot"
        if hard_state is not None:
            self.hard_state = dataclasses.replace(hard_state)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        if self.snapshot is None or self.snapshot.meta.index < snapshot.meta.index:
            self.snapshot = snapshot

    def compact(self, index: int) -> None:
        self.entries = [entry for entry in self.entries if entry.index > index]

    def load(self):
        offset = self.snapshot.meta.index if self.snapshot else 0
        hard_state = dataclasses.replace(self.hard_state) if self.hard_state else None
        return hard_state, self.snapshot, [entry for entry in self.entries if entry.index > offset]


class StateMachine:
    """A hash chain over applied entries: equal digests at an index mean equal histories."""

    def __init__(self, index: int = 0, digest: bytes = b"\0" * 32):
        self.index = index
        self.digest = digest

    def apply(self, entry: Entry) -> None:
        assert entry.index == self.index + 1, f"applied {entry.index} after {self.index}"
        self.index = entry.index
        self.digest = hashlib.sha256(self.digest + struct.pack(">QQ", entry.index, entry.term)
                                     + entry.kind.encode() + entry.data).digest()

    def encode(self) -> bytes:
        return struct.pack(">Q", self.index) + self.digest

    @classmethod
    def decode(cls, data: bytes) -> StateMachine:
        return cls(struct.unpack(">Q", data[:8])[0], data[8:])


class SimNode:
    """One simulated member."""

    def __init__(self, node_id: str, voters: tuple[str, ...], checker: SafetyChecker | None = None, **config):
        self.id = node_id
        self.voters = voters
        self.config = config
        self.checker = checker
        self.storage = MemoryStorage()
        self.up = False
        self.boots = 0
        self.read_states = []
        self.start()

    def start(self) -> None:
        """Boot (or reboot after a crash) from what the disk holds."""
        hard_state, snapshot, entries = self.storage.load()
        config = dict(self.config)
        seed = config.pop("seed", 0)
        self.core = RaftCore(RaftConfig(self.id, seed=zlib.crc32(f"{seed}/{self.id}/{self.boots}".encode()), **config),
                             hard_state=hard_state, snapshot=snapshot, entries=entries, voters=self.voters)
        self.machine = StateMachine.decode(snapshot.data) if snapshot else StateMachine()
        self.up = True
        self.boots += 1

    def load_state(self, term: int, entries: list[Entry], commit: int = 0, vote: str | None = None) -> None:
        """Replace the disk by this hard state and log, and reboot from it (to stage paper scenarios)."""
        self.storage = MemoryStorage()
        self.storage.save(HardState(term, vote, commit), entries)
        self.start()

    def crash(self) -> None:
        """Lose everything that is not on the disk."""
        self.up = False
        self.core = None

    def process_ready(self) -> list[Message]:
        """One pass of the actor's loop: persist, (send), apply, advance. Returns the messages to send."""
        ready = self.core.ready()
        self.storage.save(ready.hard_state, ready.entries, ready.snapshot)
        if ready.snapshot is not None:
            self.machine = StateMachine.decode(ready.snapshot.data)
            if self.checker:
                self.checker.on_snapshot_installed(self, ready.snapshot)
        for entry in ready.committed_entries:
            self.machine.apply(entry)
            if self.checker:
                self.checker.on_apply(self, entry)
        for read in ready.read_states:
            assert self.machine.index >= read.index, "read state reported before its index was applied"
            self.read_states.append(read)
            if self.checker:
                self.checker.on_read_state(self, read)
        self.core.advance(ready)
        return ready.messages

    def persist_only(self) -> None:
        """The first half of a Ready pass: the disk write, then (typically) a crash."""
        ready = self.core.ready()
        self.storage.save(ready.hard_state, ready.entries, ready.snapshot)

    def compact(self) -> None:
        """Take a snapshot at the applied index and drop the log before it (as the actor would)."""
        index = self.core.applied_index
        if index <= self.core.first_index - 1:
            return
        snapshot = self.core.compact(index, self.machine.encode())
        assert self.machine.index == index
        self.storage.save_snapshot(snapshot)
        self.storage.compact(index)


class Cluster:
    """Simulated members and the network between them."""

    def __init__(self, ids=IDS[:3], voters=None, members=None, checker: SafetyChecker | None = None, **config):
        voters = tuple(voters if voters is not None else ids)
        members = set(members if members is not None else ids)
        self.checker = checker
        self.nodes = {node_id: SimNode(node_id, voters if node_id in members else (), checker, **config)
                      for node_id in ids}
        self.inflight: deque[Message] = deque()
        self.cut: set[tuple[str, str]] = set()
        self.drop_types: set[str] = set()
        self.delivered: list[Message] = []

    def core(self, node_id: str) -> RaftCore:
        return self.nodes[node_id].core

    # -- network -------------------------------------------------------------
    def partition(self, *groups) -> None:
        """Cut every link between different groups (ids missing from all groups are isolated)."""
        self.cut = set()
        group_of = {node_id: position for position, group in enumerate(groups) for node_id in group}
        for a in self.nodes:
            for b in self.nodes:
                if a != b and group_of.get(a, ("alone", a)) != group_of.get(b, ("alone", b)):
                    self.cut.add((a, b))

    def isolate(self, node_id: str) -> None:
        self.partition([other for other in self.nodes if other != node_id], [node_id])

    def heal(self) -> None:
        self.cut = set()
        self.drop_types = set()

    def blocked(self, msg: Message) -> bool:
        target = self.nodes.get(msg.to)
        return (target is None or not target.up or (msg.frm, msg.to) in self.cut or msg.type in self.drop_types)

    # -- driving ---------------------------------------------------------------
    def flush(self, node_id: str | None = None) -> None:
        """Process the Readies of one or all running members, queueing their messages."""
        for node in ([self.nodes[node_id]] if node_id else self.nodes.values()):
            while node.up and node.core.has_ready():
                self.inflight.extend(node.process_ready())
                self.check()

    def deliver(self, msg: Message) -> None:
        """Hand ``msg`` to its recipient (or lose it, if the network or the recipient is down)."""
        sender = self.nodes.get(msg.frm)
        lost = self.blocked(msg)
        if not lost:
            self.delivered.append(msg)
            self.nodes[msg.to].core.step(msg)
        if msg.type == "snapshot" and sender is not None and sender.up:
            sender.core.report_snapshot(msg.to, delivered=not lost)
        self.check()

    def stabilize(self, drop=None, max_messages: int = 100000) -> None:
        """Flush and deliver (in order) until nothing is left to do; messages for which
        ``drop(msg)`` is true are lost."""
        for _ in range(max_messages):
            self.flush()
            if not self.inflight:
                return
            msg = self.inflight.popleft()
            if drop is not None and drop(msg):
                if msg.type == "snapshot" and self.nodes[msg.frm].up:
                    self.nodes[msg.frm].core.report_snapshot(msg.to, delivered=False)
                continue
            self.deliver(msg)
        raise AssertionError("the cluster did not quiesce")

    def tick(self, node_id: str, times: int = 1) -> None:
        for _ in range(times):
            self.nodes[node_id].core.tick()
            self.check()

    def tick_all(self, times: int = 1) -> None:
        for _ in range(times):
            for node in self.nodes.values():
                if node.up:
                    node.core.tick()
            self.check()

    def elect(self, node_id: str) -> None:
        """Make ``node_id`` campaign and let the election and its first commit finish."""
        self.core(node_id).campaign()
        self.stabilize()
        assert self.core(node_id).role == "leader", self.core(node_id).status()

    def propose(self, node_id: str, data: bytes) -> int:
        index = self.core(node_id).propose(data)
        self.stabilize()
        return index

    def read_index(self, node_id: str, context: bytes) -> None:
        """Ask ``node_id`` for a read index, telling the checker what the read must see."""
        if self.checker:
            self.checker.on_read_requested(self, node_id, context)
        self.core(node_id).read_index(context)

    def crash(self, node_id: str) -> None:
        self.nodes[node_id].crash()

    def restart(self, node_id: str) -> None:
        self.nodes[node_id].start()
        self.check()

    def leaders(self) -> list[str]:
        return [node_id for node_id, node in self.nodes.items() if node.up and node.core.role == "leader"]

    def check(self) -> None:
        if self.checker:
            self.checker.check(self)


class SafetyChecker:
    """Raft's safety properties (Figure 3), checked incrementally after every step."""

    def __init__(self):
        self.leader_of_term: dict[int, str] = {}
        self.entries: dict[tuple[int, int], tuple[str, bytes, int]] = {}  # (index, term) -> kind, data, prev term
        self.committed: dict[int, tuple[int, bytes]] = {}                 # index -> term, data
        self.commit_term: dict[int, int] = {}                             # index -> lowest term seen committed in
        self.applied: dict[int, bytes] = {}                              # index -> state digest after it
        self.max_committed = 0
        self._verified: dict[str, tuple[int, int]] = {}                   # node -> (index, term) log checked up to
        self._commit_seen: dict[str, int] = {}
        self.read_floor: dict[tuple[str, bytes], int] = {}
        self._version = 0                                                 # bumps when committed/commit_term change
        self._leaders_checked: dict[str, tuple[int, int, int]] = {}       # node -> (term, offset, version)
        self._nodes_checked: dict[str, tuple] = {}                        # node -> what _check_node last saw

    def check(self, cluster: Cluster) -> None:
        up = [node for node in cluster.nodes.values() if node.up]
        for node in up:
            self._check_node(node)
        for node in up:
            if node.core._role == LEADER:  # what role says for a leader, without its learner lookup
                self._check_leader_completeness(node)

    def _check_node(self, node: SimNode) -> None:
        core, log = node.core, node.core._log
        # Every check below depends only on these; when none moved since the last check, it would find
        # nothing new (most steps change one member at most). The core itself is kept: a restart is a change.
        seen = (core, core._role, core.term, log.offset, log.offset_term, len(log._entries), log.last_term,
                log.committed)
        if self._nodes_checked.get(node.id) == seen:
            return
        self._nodes_checked[node.id] = seen
        if core.role == "leader":
            holder = self.leader_of_term.setdefault(core.term, node.id)
            assert holder == node.id, f"election safety: {holder} and {node.id} both lead term {core.term}"
        # Log matching: an (index, term) pair names one entry and one predecessor term everywhere.
        index, term = self._verified.get(node.id, (0, 0))
        if index < log.offset or log.term(index) != term:
            index, term = log.offset, log.offset_term
            self._check_committed(index, term, None, node)
        for entry in log.entries_from(index + 1, log.last_index - index):
            record = (entry.kind, entry.data, term)
            known = self.entries.setdefault((entry.index, entry.term), record)
            assert known == record, f"log matching violated at {entry.index}/{entry.term} on {node.id}"
            term = entry.term
        self._verified[node.id] = (log.last_index, log.last_term)
        # Committed entries never change.
        seen = max(self._commit_seen.get(node.id, 0), log.offset)
        for index in range(seen + 1, log.committed + 1):
            entry = log.entries_from(index, 1)[0]
            self._check_committed(index, entry.term, entry.data, node)
        self._commit_seen[node.id] = log.committed

    def _check_committed(self, index: int, term: int, data: bytes | None, node: SimNode) -> None:
        if index == 0:
            return
        known = self.committed.get(index)
        if known is None and data is not None:
            self.committed[index] = (term, data)
            self.max_committed = max(self.max_committed, index)
            self._version += 1
        elif known is not None:
            assert known[0] == term and (data is None or known[1] == data), \
                f"committed entry {index} differs on {node.id}: {known[0]} vs {term}"
        if data is not None and self.commit_term.get(index, node.core.term + 1) > node.core.term:
            self.commit_term[index] = node.core.term
            self._version += 1

    def _check_leader_completeness(self, node: SimNode) -> None:
        """§5.4: a leader holds every entry committed in an earlier term. (A leader's log only grows, so
        it is rechecked only when the committed set changes.)"""
        log = node.core._log
        key = (node.core.term, log.offset, self._version)
        if self._leaders_checked.get(node.id) == key:
            return
        self._leaders_checked[node.id] = key
        for index in range(log.offset + 1, self.max_committed + 1):
            commit_term = self.commit_term.get(index)
            if commit_term is None or commit_term >= node.core.term:
                continue
            assert log.term(index) == self.committed[index][0], \
                f"leader completeness: {node.id} (term {node.core.term}) lacks committed entry {index}"
        known = self.committed.get(log.offset)
        assert known is None or known[0] == log.offset_term

    def on_apply(self, node: SimNode, entry: Entry) -> None:
        """State machine safety: every member applies the same entry at each index."""
        known = self.committed.get(entry.index)
        assert known is None or known == (entry.term, entry.data), f"{node.id} applied a different entry {entry.index}"
        digest = self.applied.setdefault(entry.index, node.machine.digest)
        assert digest == node.machine.digest, f"{node.id} state differs from others' after index {entry.index}"

    def on_snapshot_installed(self, node: SimNode, snapshot: Snapshot) -> None:
        digest = self.applied.setdefault(snapshot.meta.index, node.machine.digest)
        assert digest == node.machine.digest, f"{node.id} installed a snapshot unlike the applied state"

    def on_read_requested(self, cluster: Cluster, node_id: str, context: bytes) -> None:
        """A read must see every write committed before it was asked for."""
        floor = max((node.core.commit_index for node in cluster.nodes.values() if node.up), default=0)
        self.read_floor[(node_id, context)] = max(floor, self.max_committed)

    def on_read_state(self, node: SimNode, read) -> None:
        floor = self.read_floor.pop((node.id, read.context), None)
        assert floor is not None, f"{node.id} got an unrequested read state {read}"
        assert read.index >= floor, f"stale read on {node.id}: index {read.index} < committed {floor}"


PROFILES = {
    # name: (loss, duplication, crash weight, partition weight, proposal weight)
    "lossy": (0.10, 0.04, 0.010, 0.010, 0.07),
    "crashy": (0.02, 0.02, 0.030, 0.005, 0.10),
    "partitioned": (0.03, 0.02, 0.005, 0.030, 0.10),
    "busy": (0.04, 0.04, 0.015, 0.015, 0.20),
}


class Simulation:
    """One seeded chaotic run: a random mix of events (weighted by a randomly chosen profile), with
    every safety property checked after each one."""

    def __init__(self, seed: int, size: int = 3, membership_changes: bool = False):
        self.seed = seed
        self.rng = rng = random.Random(seed)
        self.profile = rng.choice(sorted(PROFILES))
        self.loss, self.duplication, crash, partition, proposal = PROFILES[self.profile]
        pre_vote = membership_changes or rng.random() < 0.7
        check_quorum = membership_changes or rng.random() < 0.7
        self.ids = IDS[:5] if membership_changes else IDS[:size]
        members = self.ids[:size]
        self.checker = SafetyChecker()
        self.cluster = Cluster(self.ids, voters=members, members=members, checker=self.checker,
                               election_tick=rng.choice([3, 5, 10]), heartbeat_tick=1, pre_vote=pre_vote,
                               check_quorum=check_quorum, max_inflight=rng.choice([1, 4, 64]),
                               max_entries_per_msg=rng.choice([1, 3, 100]), seed=seed)
        self.events = [(self.deliver, 0.36), (self.process_ready, 0.22), (self.tick, 0.22),
                       (self.propose, proposal), (self.read, 0.02), (self.compact, 0.015),
                       (self.crash_or_restart, crash), (self.partition_or_heal, partition),
                       (self.transfer, 0.005), (self.change_membership, 0.01 if membership_changes else 0)]
        self.removed: set[str] = set()
        self.reads = 0
        self.stats = {"profile": self.profile, "proposed": 0, "reads": 0, "crashes": 0, "conf_changes": 0,
                      "snapshots_sent": 0}

    def run(self, steps: int) -> dict:
        """``steps`` random events, then :func:`settle`. Returns counters; AssertionError on a violation."""
        actions, weights = zip(*self.events)
        for action in self.rng.choices(actions, weights, k=steps):
            action()
        settle(self.cluster, self.seed)
        self.stats["committed"] = self.checker.max_committed
        return self.stats

    def up_nodes(self) -> list[SimNode]:
        return [node for node in self.cluster.nodes.values() if node.up]

    def leader(self) -> RaftCore | None:
        leaders = self.cluster.leaders()
        return self.cluster.core(self.rng.choice(leaders)) if leaders else None

    # -- events ------------------------------------------------------------------
    def deliver(self) -> None:
        """Deliver a message, mostly in order; some are lost, some duplicated."""
        inflight = self.cluster.inflight
        if not inflight:
            return
        if self.rng.random() < 0.2:
            position = self.rng.randrange(len(inflight))  # any message: arbitrary reordering
        else:  # the oldest message on a random link: links progress at different speeds
            link = self.rng.choice(sorted({(m.frm, m.to) for m in inflight}))
            position = next(i for i, m in enumerate(inflight) if (m.frm, m.to) == link)
        msg = inflight[position]
        fate = self.rng.random()
        if fate >= self.duplication:
            del inflight[position]
        if fate < self.loss:
            sender = self.cluster.nodes[msg.frm]
            if msg.type == "snapshot" and sender.up:
                sender.core.report_snapshot(msg.to, delivered=False)
            return
        self.stats["snapshots_sent"] += msg.type == "snapshot"
        self.cluster.deliver(msg)

    def process_ready(self) -> None:
        ready = [node for node in self.up_nodes() if node.core.has_ready()]
        if ready:
            self.cluster.inflight.extend(self.rng.choice(ready).process_ready())
            self.cluster.check()

    def tick(self) -> None:
        self.rng.choice(self.up_nodes()).core.tick()
        self.cluster.check()

    def propose(self) -> None:
        leader = self.leader()
        core = leader if leader is not None and self.rng.random() < 0.9 else self.rng.choice(self.up_nodes()).core
        for _ in range(self.rng.randint(1, 4)):
            try:
                core.propose(b"p%d" % self.stats["proposed"])
                self.stats["proposed"] += 1
            except NotLeader:
                return

    def read(self) -> None:
        node = self.rng.choice(self.up_nodes())
        self.reads += 1
        try:
            self.cluster.read_index(node.id, b"r%d" % self.reads)
            self.stats["reads"] += 1
        except NotLeader:
            pass

    def compact(self) -> None:
        node = self.rng.choice(self.up_nodes())
        if node.core.applied_index - node.core.first_index > self.rng.choice([3, 10, 30]):
            node.compact()

    def crash_or_restart(self) -> None:
        down = [node for node in self.cluster.nodes.values() if not node.up]
        if down and self.rng.random() < 0.7:
            self.rng.choice(down).start()
        elif len(self.up_nodes()) > 1:
            leader = self.leader()  # crash leaders often: that is where Raft is subtle
            if leader is not None and self.rng.random() < 0.5:
                node = self.cluster.nodes[leader.id]
            else:
                node = self.rng.choice(self.up_nodes())
            if node.core.has_ready() and self.rng.random() < 0.5:
                node.persist_only()  # crash between the disk write and the sends
            node.crash()
            self.stats["crashes"] += 1
        self.cluster.check()

    def partition_or_heal(self) -> None:
        if self.cluster.cut and self.rng.random() < 0.5:
            self.cluster.heal()
            return
        shuffled = list(self.ids)
        self.rng.shuffle(shuffled)
        split = self.rng.randint(1, len(shuffled) - 1)
        self.cluster.partition(shuffled[:split], shuffled[split:])

    def transfer(self) -> None:
        leader = self.leader()
        others = [voter for voter in leader.voters if voter != leader.id] if leader else []
        if others:
            leader.transfer_leadership(self.rng.choice(others))

    def change_membership(self) -> None:
        leader = self.leader()
        if leader is None:
            return
        action = self.rng.choice(["add_learner", "promote", "remove"])
        members = leader.voters + leader.learners
        choices = {"add_learner": [i for i in self.ids if i not in members and i not in self.removed],
                   "promote": list(leader.learners),
                   "remove": list(members) if len(leader.voters) > 2 else list(leader.learners)}[action]
        if not choices:
            return
        target = self.rng.choice(choices)
        try:
            leader.propose_conf_change(action, target)
        except (NotLeader, ConfChangeRefused):
            return
        self.stats["conf_changes"] += 1
        if action == "remove":
            self.removed.add(target)


def run_simulation(seed: int, size: int = 3, steps: int = 3000, membership_changes: bool = False) -> dict:
    """Run one seeded chaotic simulation, then heal and check that the cluster makes progress.
    Returns counters for reporting; raises AssertionError on any violated property."""
    return Simulation(seed, size, membership_changes).run(steps)


def run_seed(job: tuple[int, int, dict]) -> tuple[dict | None, str | None]:
    """:func:`run_simulation` of one ``(seed, steps, scenario)`` job, for a process pool: its counters
    and None, or None and the violated property's message."""
    seed, steps, scenario = job
    try:
        return run_simulation(seed, steps=steps, **scenario), None
    except AssertionError as error:
        return None, str(error)


def settle(cluster: Cluster, seed: int, rounds: int = 400) -> None:
    """Liveness after the storm: heal, restart everyone, and require a leader that commits a new
    entry which every member applies."""
    cluster.heal()
    for node in cluster.nodes.values():
        if not node.up:
            node.start()
    marker = None
    for _ in range(rounds):
        cluster.tick_all()
        cluster.stabilize()
        leaders = cluster.leaders()
        if not leaders:
            continue
        leader = cluster.core(max(leaders, key=lambda node_id: cluster.core(node_id).term))
        if marker is None or marker[0] != leader.id:
            try:
                marker = (leader.id, leader.propose(b"settle"))
            except NotLeader:
                continue
            cluster.stabilize()
        members = set(leader.voters) | set(leader.learners)
        if all(cluster.nodes[member].machine.index >= marker[1] for member in members):
            return
    states = {node_id: node.core.status() if node.up else "down" for node_id, node in cluster.nodes.items()}
    raise AssertionError(f"seed {seed}: no progress after healing: {states}")

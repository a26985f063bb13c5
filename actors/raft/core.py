"""The Raft consensus core: a pure state machine with no sockets, clock, disk or global randomness.

The caller feeds it time (:meth:`RaftCore.tick`), peer messages
(:meth:`RaftCore.step`) and requests (propose, read_index, membership,
transfer), and drains its work with :meth:`RaftCore.ready` /
:meth:`RaftCore.advance` (see :class:`Ready` for the order of duties).
Section numbers refer to the extended Raft paper (Ongaro & Ousterhout) and
to Ongaro's thesis; the structure follows etcd-io/raft.

Beyond the basic algorithm: randomized election timeouts in
[election_tick, 2*election_tick), pre-vote (thesis §9.6), check-quorum and
the leader lease that comes with it (§6.2, §9.6), batched and pipelined
replication with fast back-tracking, snapshots (§7), single-server membership
changes with learners (thesis §4), read index (thesis §6.4) and leadership
transfer (thesis §3.10).
"""

from __future__ import annotations

import random

from actors.raft.log import RaftLog
from actors.raft.membership import Membership, MembershipLog, decode_change
from actors.raft.progress import PROBE, REPLICATE, SNAPSHOT, Progress
from actors.raft.readonly import ReadOnlyQueue
from actors.raft.values import (ConfChangeRefused, Entry, HardState, Message, NotLeader, RaftConfig,
                                Ready, ReadState, Snapshot, SnapshotMeta, SoftState)

__all__ = ["ConfChangeRefused", "Entry", "HardState", "Message", "NotLeader", "RaftConfig", "RaftCore", "Ready",
           "ReadState", "Snapshot", "SnapshotMeta", "SoftState"]

FOLLOWER, PRE_CANDIDATE, CANDIDATE, LEADER = "follower", "pre-candidate", "candidate", "leader"
TRANSFER_CONTEXT = b"transfer"


def majority(voters: int) -> int:
    """The size of a quorum among ``voters`` voters."""
    return voters // 2 + 1


class RaftCore:
    """One member's Raft state machine."""

    def __init__(self, config: RaftConfig, *, hard_state: HardState | None, snapshot: SnapshotMeta | Snapshot | None,
                 entries: list[Entry], voters: tuple[str, ...], learners: tuple[str, ...] = ()):
        """Restore from what storage loaded: the hard state, the latest snapshot (its meta, or the whole
        snapshot so this member can send it to followers as leader) and the entries after it.

        ``voters``/``learners`` are the configuration when neither the snapshot
        nor a config entry says otherwise (an empty ``voters`` suits a member
        that waits to be added). ``ValueError`` if the pieces do not fit.
        """
        config.validate()
        self.id = config.node_id
        self._config = config
        self._random = random.Random(config.seed)
        hard_state = hard_state or HardState()
        if isinstance(snapshot, Snapshot):
            self._snapshot: Snapshot | None = snapshot
            snapshot = snapshot.meta
        else:
            self._snapshot = None
        offset, offset_term = (snapshot.index, snapshot.term) if snapshot else (0, 0)
        self._log = RaftLog(offset, offset_term, entries, max(hard_state.commit, offset))
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.leader: str | None = None
        self._role = FOLLOWER
        base = Membership.of(snapshot.voters, snapshot.learners) if snapshot else Membership.of(voters, learners)
        self._membership = MembershipLog(base, offset)
        self._record_configs(entries)
        self._progress: dict[str, Progress] = {}
        self._votes: dict[str, bool] = {}
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = self._config.election_tick
        self._transferee: str | None = None
        self._read_only = ReadOnlyQueue()
        self._reads_awaiting_commit: list[tuple[str, bytes]] = []
        self._read_states: list[ReadState] = []
        self._reads_forwarded: set[bytes] = set()
        self._messages: list[Message] = []
        self._pending_snapshot: Snapshot | None = None
        self._broadcast_pending = False
        self._reset_election_timer()
        self._prev_hard_state = self._hard_state()
        self._prev_soft_state = self._soft_state()

    # -- properties ------------------------------------------------------------
    @property
    def role(self) -> str:
        """"follower", "pre-candidate", "candidate", "leader", or "learner" (a follower that may not vote)."""
        if self._role == FOLLOWER and self.id in self._membership.latest.learners:
            return "learner"
        return self._role

    @property
    def commit_index(self) -> int:
        """The highest index known committed."""
        return self._log.committed

    @property
    def applied_index(self) -> int:
        """The highest index the caller applied (or installed by snapshot)."""
        return self._log.applied

    @property
    def last_index(self) -> int:
        """The index of the last entry in the log."""
        return self._log.last_index

    @property
    def first_index(self) -> int:
        """The first index still in the log (after the latest snapshot)."""
        return self._log.first_index

    @property
    def voters(self) -> tuple[str, ...]:
        """The voters of the configuration in force (the newest in the log)."""
        return self._membership.latest.voters

    @property
    def learners(self) -> tuple[str, ...]:
        """The learners of the configuration in force."""
        return self._membership.latest.learners

    def entries(self, low: int, high: int) -> list[Entry]:
        """The entries in [low, high) still in memory (for inspection and tests)."""
        low = max(low, self._log.first_index)
        return self._log.entries_from(low, max(0, min(high, self._log.last_index + 1) - low))

    def status(self) -> dict:
        """A report for metrics and the CLI (plain values)."""
        report = {"id": self.id, "term": self.term, "vote": self.vote, "role": self.role, "leader": self.leader,
                  "commit": self._log.committed, "applied": self._log.applied, "first_index": self._log.first_index,
                  "last_index": self._log.last_index, "voters": list(self.voters), "learners": list(self.learners),
                  "transferee": self._transferee}
        if self._role == LEADER:
            report["progress"] = {peer: progress.to_dict() for peer, progress in sorted(self._progress.items())}
        return report

    # -- inputs ----------------------------------------------------------------
    def tick(self) -> None:
        """Advance the logical clock by one tick: election timeouts, heartbeats, quorum checks."""
        if self._role == LEADER:
            self._tick_leader()
        else:
            self._election_elapsed += 1
            if self._promotable() and self._election_elapsed >= self._randomized_timeout:
                self._election_elapsed = 0
                self._start_election(force=False)

    def campaign(self) -> None:
        """Start an election now (with a pre-vote first when configured). No-op for a leader or non-voter."""
        if self._role != LEADER and self._promotable():
            self._start_election(force=False)

    def step(self, msg: Message) -> None:
        """Handle a message from a peer. Stale or irrelevant messages are ignored; ``ValueError`` only
        when the message is malformed (wrong types, entries out of order, a missing snapshot, or entries
        that contradict the committed log)."""
        if not isinstance(msg, Message):
            raise ValueError("not a Raft message")
        msg.check()
        if msg.to != self.id or msg.frm == self.id:
            return
        if msg.term > self.term:
            if not self._accept_higher_term(msg):
                return
        elif msg.term < self.term:
            self._answer_lower_term(msg)
            return
        if msg.type in ("vote", "pre_vote"):
            self._handle_vote_request(msg)
        elif self._role == LEADER:
            self._step_leader(msg)
        elif self._role in (CANDIDATE, PRE_CANDIDATE):
            self._step_candidate(msg)
        else:
            self._step_follower(msg)

    def propose(self, data: bytes) -> int:
        """Append ``data`` as a normal entry and return its index. Leader only: ``NotLeader`` otherwise
        (also while a leadership transfer is under way, or when the leader is being removed)."""
        if not isinstance(data, bytes):
            raise TypeError("proposal data must be bytes")
        self.require_leader()
        return self._append_own("normal", data)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read index. The answer is a ``ReadState`` with this ``context`` in a
        later Ready, reported once this member has applied up to its index. Followers ask the leader;
        ``NotLeader`` when no leader is known. ``context`` must be unique among pending reads."""
        if not isinstance(context, bytes) or not context:
            raise ValueError("a read context must be non-empty bytes")
        if self._role == LEADER:
            self._handle_read_index(self.id, context)
        elif self.leader is not None:
            self._reads_forwarded.add(context)
            self._send(Message("read_index", self.leader, self.id, self.term, context=context))
        else:
            raise NotLeader(None, "no leader known")

    def propose_conf_change(self, action: str, node_id: str) -> int:
        """Append a membership change ("add_learner", "promote" or "remove" of ``node_id``) and return
        its index. It takes effect as soon as it is in the log (thesis §4.1). ``NotLeader`` off the
        leader; ``ConfChangeRefused`` while another change is uncommitted, before the leader committed
        an entry of its term, when the change does not apply, or when promoting a learner that is more
        than one batch (max_entries_per_msg) behind (thesis §4.2.1: catch up first, then vote)."""
        self.require_leader()
        if self._log.term(self._log.committed) != self.term:
            raise ConfChangeRefused("the leader has not committed an entry in its term yet")
        if self._membership.latest_index > self._log.committed:
            raise ConfChangeRefused("another membership change is not committed yet")
        membership = self._membership.latest.changed(action, node_id)
        if action == "promote":
            match = self._progress[node_id].match
            if match + self._config.max_entries_per_msg < self._log.last_index:
                raise ConfChangeRefused(f"{node_id} has not caught up yet ({match} of {self._log.last_index})")
        return self._append_own("config", membership.encode_change(action, node_id))

    def transfer_leadership(self, to: str) -> None:
        """Hand leadership to voter ``to`` (thesis §3.10): catch it up, then tell it to campaign now.
        Proposals are refused until the transfer ends; it is abandoned after an election timeout."""
        if self._role != LEADER:
            raise NotLeader(self.leader)
        if to not in self.voters:
            raise ValueError(f"{to} is not a voter")
        if to == self.id or to == self._transferee:
            return
        self._transferee = to
        self._election_elapsed = 0
        if self._progress[to].match == self._log.last_index:
            self._send(Message("timeout_now", to, self.id, self.term))
        else:
            self._send_append(to)

    def report_unreachable(self, peer: str) -> None:
        """The transport could not deliver to ``peer``: stop streaming to it and probe instead."""
        progress = self._progress.get(peer) if self._role == LEADER else None
        if progress is not None and progress.state == REPLICATE:
            progress.become_probe()

    def report_snapshot(self, peer: str, delivered: bool) -> None:
        """The transport finished sending a snapshot to ``peer`` (``delivered`` False: it failed).
        The caller must report every snapshot message it handles, or the peer waits for it forever."""
        progress = self._progress.get(peer) if self._role == LEADER else None
        if progress is None or progress.state != SNAPSHOT:
            return
        if not delivered:
            progress.pending_snapshot = 0
        progress.become_probe()
        progress.probe_sent = True  # wait for the follower's answer (or a heartbeat) before probing

    def compact(self, index: int, snapshot_data: bytes) -> Snapshot:
        """The caller took a snapshot of its state up to applied ``index``: keep it (to send to
        followers) and drop the log up to it. Returns the snapshot for the caller to persist.

        ``index`` equal to the current snapshot's index only records ``snapshot_data`` for it (for a
        core restored from a bare SnapshotMeta, or right after installing a leader's snapshot);
        ``ValueError`` below it or above the applied index."""
        if index < self._log.offset:
            raise ValueError(f"index {index} is already compacted (snapshot at {self._log.offset})")
        membership = self._membership.at(index)
        meta = SnapshotMeta(index, self._log.term(index), membership.voters, membership.learners)
        if index > self._log.offset:
            self._log.compact(index)
            self._membership.compact(index)
        self._snapshot = Snapshot(meta, snapshot_data)
        return self._snapshot

    # -- output ----------------------------------------------------------------
    def has_ready(self) -> bool:
        """True when :meth:`ready` has something for the caller."""
        return bool(self._messages or self._broadcast_pending or self._pending_snapshot is not None
                    or self._log.has_unstable() or self._log.has_committed() or self._states_changed()
                    or any(read.index <= self._log.applied for read in self._read_states))

    def _states_changed(self) -> bool:
        """``_hard_state() != _prev_hard_state or _soft_state() != _prev_soft_state``, field by field
        without building either (has_ready asks this of every idle member, often)."""
        hard, soft = self._prev_hard_state, self._prev_soft_state
        return (hard is None or hard.term != self.term or hard.vote != self.vote or hard.commit != self._log.committed
                or soft.leader != self.leader or soft.role != self.role)

    def ready(self) -> Ready:
        """Hand out the pending work; what is handed out is not handed out again."""
        if self._broadcast_pending:
            self._broadcast_pending = False
            self._broadcast_append(send_if_empty=False)
        hard_state, soft_state = self._hard_state(), self._soft_state()
        ready = Ready(hard_state=hard_state if hard_state != self._prev_hard_state else None,
                      soft_state=soft_state if soft_state != self._prev_soft_state else None,
                      entries=self._log.take_unstable(), snapshot=self._pending_snapshot,
                      committed_entries=self._log.take_committed(), messages=self._messages,
                      read_states=[read for read in self._read_states if read.index <= self._log.applied])
        self._read_states = [read for read in self._read_states if read.index > self._log.applied]
        self._prev_hard_state, self._prev_soft_state = hard_state, soft_state
        self._messages = []
        self._pending_snapshot = None
        return ready

    def advance(self, ready: Ready) -> None:
        """The caller persisted ``ready``'s hard state, entries and snapshot and applied its committed
        entries. On the leader, its own persisted entries now count towards commitment."""
        if ready.snapshot is not None:
            self._log.stable = max(self._log.stable, ready.snapshot.meta.index)
            self._log.applied_to(ready.snapshot.meta.index)
        self._log.stable_to(ready.entries)
        if ready.committed_entries:
            self._log.applied_to(ready.committed_entries[-1].index)
        own = self._progress.get(self.id) if self._role == LEADER else None
        if own is not None and own.maybe_update(self._log.stable) and self._maybe_commit():
            self._broadcast_append(send_if_empty=True)

    def persist_failed(self, ready: Ready) -> None:
        """The caller could not persist ``ready`` (a full disk) and dropped its messages, but applied its
        committed entries (they are durable on a majority) and answered its reads, unless it held a
        snapshot. Its entries, hard state and snapshot (and then its committed entries) are handed out
        again by the next :meth:`ready`; nothing counts as persisted."""
        if ready.snapshot is not None and self._pending_snapshot is None:
            self._pending_snapshot = ready.snapshot
        self._log.persisting = min(self._log.persisting, self._log.stable)
        if ready.hard_state is not None:
            self._prev_hard_state = None
        if ready.snapshot is not None:
            self._log.applying = self._log.applied  # not applied either: handed out again after the snapshot
        elif ready.committed_entries:
            self._log.applied_to(ready.committed_entries[-1].index)

    # -- roles -----------------------------------------------------------------
    def _promotable(self) -> bool:
        return self.id in self._membership.latest.voters

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.leader = None
        self._votes = {}
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._reset_election_timer()
        self._transferee = None
        self._read_only.clear()
        self._reads_awaiting_commit = []
        self._reads_forwarded = set()
        self._progress = {}
        self._broadcast_pending = False

    def _reset_election_timer(self) -> None:
        election_tick = self._config.election_tick
        self._randomized_timeout = election_tick + self._random.randrange(election_tick)

    def _become_follower(self, term: int, leader: str | None) -> None:
        self._reset(term)
        self._role = FOLLOWER
        self.leader = leader

    def _become_leader(self) -> None:
        self._reset(self.term)
        self._role = LEADER
        self.leader = self.id
        self._sync_progress()
        for peer, progress in self._progress.items():
            progress.recent_active = peer == self.id
        own = self._progress.get(self.id)
        if own is not None:
            own.maybe_update(self._log.stable)
        self._append_own("noop", b"")  # §5.4.2 / §8: commit an entry of this term to learn the commit index

    def _start_election(self, force: bool) -> None:
        """Election timeout (or a transfer when ``force``): pre-vote first if configured (thesis §9.6),
        except for a transfer, which must not wait."""
        self._campaign("pre_vote" if self._config.pre_vote and not force else "vote", force)

    def _campaign(self, kind: str, force: bool = False) -> None:
        """§5.2: become (pre-)candidate, vote for ourselves, ask the other voters. A pre-candidate
        asks for the next term without moving to it, so a failed pre-vote disturbs no one."""
        if kind == "pre_vote":
            self._reset(self.term)
            self._role = PRE_CANDIDATE
            vote_term = self.term + 1
        else:
            self._reset(self.term + 1)
            self._role = CANDIDATE
            self.vote = self.id
            vote_term = self.term
        self._votes[self.id] = True
        if self._tally_votes():
            return
        context = TRANSFER_CONTEXT if force else b""
        for voter in self.voters:
            if voter != self.id:
                self._send(Message(kind, voter, self.id, vote_term, index=self._log.last_index,
                                   log_term=self._log.last_term, context=context))

    def _tally_votes(self) -> bool:
        """Count the voters' answers and act once the election is decided. True when decided."""
        voters = self.voters
        granted = sum(1 for voter in voters if self._votes.get(voter) is True)
        refused = sum(1 for voter in voters if self._votes.get(voter) is False)
        quorum = majority(len(voters))
        if granted >= quorum:
            if self._role == PRE_CANDIDATE:
                self._campaign("vote")
            else:
                self._become_leader()
                self._broadcast_append(send_if_empty=True)
            return True
        if refused > len(voters) - quorum:
            self._become_follower(self.term, None)
            return True
        return False

    # -- terms -----------------------------------------------------------------
    def _heard_from_leader(self) -> bool:
        """True when a leader (possibly us) was heard from within the election timeout."""
        return self.leader is not None and self._election_elapsed < self._config.election_tick

    def _accept_higher_term(self, msg: Message) -> bool:
        """A message from a later term. False when it must be dropped."""
        if msg.type in ("vote", "pre_vote"):
            # Thesis §4.2.3 (check-quorum's leader lease) and §9.6 (pre-vote): while a leader is
            # alive, a server that timed out (partitioned, or paused) must not disrupt it.
            lease = self._config.check_quorum or msg.type == "pre_vote"
            if lease and msg.context != TRANSFER_CONTEXT and self._heard_from_leader():
                return False
            if msg.type == "pre_vote":
                return True  # a pre-vote does not change our term
        if msg.type == "pre_vote_resp" and not msg.reject:
            return True  # granted for the term the pre-candidate would use
        leader = msg.frm if msg.type in ("append", "heartbeat", "snapshot") else None
        self._become_follower(msg.term, leader)
        return True

    def _answer_lower_term(self, msg: Message) -> None:
        if msg.type in ("append", "heartbeat") and (self._config.check_quorum or self._config.pre_vote):
            # A stale leader cut off by a partition would never learn the new term (its peers'
            # votes do not reach it): tell it, so it steps down.
            self._send(Message("append_resp", msg.frm, self.id, self.term))
        elif msg.type == "pre_vote":
            self._send(Message("pre_vote_resp", msg.frm, self.id, self.term, reject=True))

    # -- votes -----------------------------------------------------------------
    def _handle_vote_request(self, msg: Message) -> None:
        """§5.2 and §5.4.1: grant at most one vote per term, only to an up-to-date log."""
        can_vote = (self.vote == msg.frm or (self.vote is None and self.leader is None)
                    or (msg.type == "pre_vote" and msg.term > self.term))
        reply = msg.type + "_resp"
        if can_vote and self._log.is_up_to_date(msg.index, msg.log_term):
            self._send(Message(reply, msg.frm, self.id, msg.term))
            if msg.type == "vote":
                self.vote = msg.frm
                self._election_elapsed = 0
        else:
            self._send(Message(reply, msg.frm, self.id, self.term, reject=True))

    # -- followers ---------------------------------------------------------------
    def _step_follower(self, msg: Message) -> None:
        if msg.type in ("append", "heartbeat", "snapshot"):
            self._election_elapsed = 0
            self.leader = msg.frm
            self._handle_from_leader(msg)
        elif msg.type == "timeout_now":
            if self._promotable():
                self._start_election(force=True)
        elif msg.type == "read_index_resp" and msg.context in self._reads_forwarded:
            self._reads_forwarded.discard(msg.context)
            self._read_states.append(ReadState(msg.index, msg.context))

    def _handle_from_leader(self, msg: Message) -> None:
        if msg.type == "append":
            self._handle_append(msg)
        elif msg.type == "heartbeat":
            self._log.commit_to(msg.commit)
            self._send(Message("heartbeat_resp", msg.frm, self.id, self.term, context=msg.context))
        else:
            self._handle_snapshot(msg)

    def _handle_append(self, msg: Message) -> None:
        """§5.3: accept entries that extend a matching prefix, or reject with a back-tracking hint."""
        if msg.index < self._log.committed:
            self._send(Message("append_resp", msg.frm, self.id, self.term, index=self._log.committed))
            return
        last_new, first_written = self._log.try_append(msg.index, msg.log_term, msg.entries)
        if last_new is None:
            hint = self._log.find_conflict_by_term(min(msg.index, self._log.last_index), msg.log_term)
            self._send(Message("append_resp", msg.frm, self.id, self.term, index=msg.index, reject=True,
                               reject_hint=hint, log_term=self._log.term(hint) or 0))
            return
        if first_written is not None:
            self._membership.truncate_from(first_written)
            self._record_configs(msg.entries[first_written - msg.entries[0].index:])
        self._log.commit_to(min(msg.commit, last_new))
        self._send(Message("append_resp", msg.frm, self.id, self.term, index=last_new))

    def _handle_snapshot(self, msg: Message) -> None:
        """§7 InstallSnapshot: replace the log unless it already holds the snapshot's last entry."""
        meta = msg.snapshot.meta
        if meta.index <= self._log.committed:
            self._send(Message("append_resp", msg.frm, self.id, self.term, index=self._log.committed))
            return
        if self._log.matches(meta.index, meta.term):
            self._log.commit_to(meta.index)
            self._send(Message("append_resp", msg.frm, self.id, self.term, index=self._log.committed))
            return
        self._log.restore(meta.index, meta.term)
        self._membership.reset(Membership.of(meta.voters, meta.learners), meta.index)
        self._snapshot = self._pending_snapshot = msg.snapshot
        self._send(Message("append_resp", msg.frm, self.id, self.term, index=self._log.last_index))

    # -- candidates --------------------------------------------------------------
    def _step_candidate(self, msg: Message) -> None:
        if msg.type in ("append", "heartbeat", "snapshot"):
            self._become_follower(self.term, msg.frm)
            self._handle_from_leader(msg)
        elif (msg.type == "vote_resp" and self._role == CANDIDATE) or \
                (msg.type == "pre_vote_resp" and self._role == PRE_CANDIDATE):
            if msg.frm in self.voters:
                self._votes.setdefault(msg.frm, not msg.reject)
                self._tally_votes()

    # -- leaders -----------------------------------------------------------------
    def _tick_leader(self) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._election_elapsed >= self._config.election_tick:
            self._election_elapsed = 0
            if self._config.check_quorum and not self._quorum_active():
                self._become_follower(self.term, None)  # §6.2: lost touch with a majority, step down
                return
            self._transferee = None  # a transfer must finish within an election timeout
        if self._heartbeat_elapsed >= self._config.heartbeat_tick:
            self._heartbeat_elapsed = 0
            self._broadcast_heartbeat(self._read_only.last_context())

    def _quorum_active(self) -> bool:
        voters = self.voters
        active = sum(1 for voter in voters if voter == self.id or self._progress[voter].recent_active)
        for peer, progress in self._progress.items():
            progress.recent_active = peer == self.id
        return active >= majority(len(voters))

    def _step_leader(self, msg: Message) -> None:
        progress = self._progress.get(msg.frm)
        if msg.type == "read_index":
            self._handle_read_index(msg.frm, msg.context)
        elif progress is None:
            return
        elif msg.type == "append_resp":
            progress.recent_active = True
            self._handle_append_response(msg, progress)
        elif msg.type == "heartbeat_resp":
            progress.recent_active = True
            self._handle_heartbeat_response(msg, progress)

    def _handle_append_response(self, msg: Message, progress: Progress) -> None:
        if msg.reject:
            hint = msg.reject_hint
            if msg.log_term > 0:
                hint = self._log.find_conflict_by_term(hint, msg.log_term)
            if progress.maybe_decrease_to(msg.index, hint):
                if progress.state == REPLICATE:
                    progress.become_probe()
                self._send_append(msg.frm)
            return
        was_paused = progress.is_paused()
        confirmed_probe = progress.state == PROBE and msg.index == progress.match
        if not progress.maybe_update(msg.index) and not confirmed_probe:
            return  # stale
        if progress.state == PROBE:
            progress.become_replicate()
        elif progress.state == SNAPSHOT and progress.match + 1 >= self._log.first_index:
            progress.become_probe()
            progress.become_replicate()
        elif progress.state == REPLICATE:
            progress.acknowledged(msg.index)
        if self._maybe_commit():
            self._broadcast_append(send_if_empty=True)
        elif was_paused:
            self._send_append(msg.frm)
        if self._role != LEADER:
            return
        self._send_all(msg.frm, send_if_empty=False)
        if msg.frm == self._transferee and progress.match == self._log.last_index:
            self._send(Message("timeout_now", msg.frm, self.id, self.term))

    def _handle_heartbeat_response(self, msg: Message, progress: Progress) -> None:
        progress.probe_sent = False
        if progress.state == REPLICATE and progress.is_paused():
            progress.free_one_inflight()
        if progress.match < self._log.last_index:
            self._send_append(msg.frm)
        if not msg.context:
            return
        acks = self._read_only.acknowledge(msg.context, msg.frm)
        if acks is not None and self._has_quorum(acks):
            for request in self._read_only.release_through(msg.context):
                self._answer_read(request.requester, request.index, request.context)

    def _has_quorum(self, members: set[str]) -> bool:
        voters = self.voters
        return sum(1 for voter in voters if voter in members) >= majority(len(voters))

    def _handle_read_index(self, requester: str, context: bytes) -> None:
        """Thesis §6.4: record the commit index, then confirm leadership with a heartbeat round."""
        if self._log.term(self._log.committed) != self.term:
            self._reads_awaiting_commit.append((requester, context))  # the commit index may be stale yet
            return
        if self._has_quorum({self.id}):
            self._answer_read(requester, self._log.committed, context)
        elif self._read_only.add(self._log.committed, context, requester):
            self._read_only.acknowledge(context, self.id)
            self._broadcast_heartbeat(context)

    def _answer_read(self, requester: str, index: int, context: bytes) -> None:
        if requester == self.id:
            self._read_states.append(ReadState(index, context))
        else:
            self._send(Message("read_index_resp", requester, self.id, self.term, index=index, context=context))

    def _maybe_commit(self) -> bool:
        """§5.3/§5.4.2: commit the highest index stored on a majority of voters, if it is of this term
        (Figure 8: entries of older terms are committed only indirectly). True if the commit moved."""
        voters = self.voters
        if not voters:
            return False
        matches = sorted((self._progress[voter].match for voter in voters), reverse=True)
        candidate = matches[majority(len(voters)) - 1]  # the highest index a majority stores
        if candidate <= self._log.committed or self._log.term(candidate) != self.term:
            return False
        self._log.commit_to(candidate)
        self._after_commit()
        return True

    def _after_commit(self) -> None:
        waiting, self._reads_awaiting_commit = self._reads_awaiting_commit, []
        for requester, context in waiting:
            self._handle_read_index(requester, context)
        if self.id not in self.voters and self._log.committed >= self._membership.latest_index:
            self._step_down_removed()

    def _step_down_removed(self) -> None:
        """Thesis §4.2.2: a leader whose removal is committed tells the others, hands over to the most
        up-to-date voter if one is fully caught up, and steps down."""
        self._broadcast_append(send_if_empty=True)
        successor = max(self.voters, key=lambda voter: self._progress[voter].match)
        if self._progress[successor].match == self._log.last_index:
            self._send(Message("timeout_now", successor, self.id, self.term))
        self._become_follower(self.term, None)

    def require_leader(self) -> None:
        """Return when :meth:`propose` would take a proposal now; raise its ``NotLeader`` otherwise."""
        if self._role != LEADER:
            raise NotLeader(self.leader)
        if self._transferee is not None:
            raise NotLeader(None, "leadership transfer in progress")
        if self.id not in self.voters:
            raise NotLeader(None, "this leader is being removed")

    def _append_own(self, kind: str, data: bytes) -> int:
        index = self._log.last_index + 1
        entry = Entry(index, self.term, kind, data)
        self._log.append([entry])
        if kind == "config":
            self._record_configs([entry])
        self._broadcast_pending = True
        return index

    def _record_configs(self, entries: list[Entry]) -> None:
        changed = False
        for entry in entries:
            if entry.kind == "config":
                self._membership.append(entry.index, decode_change(entry.data)[2])
                changed = True
        if changed and self._role == LEADER:
            self._sync_progress()
            if self._maybe_commit():  # a smaller quorum may already hold more
                self._broadcast_pending = True

    def _sync_progress(self) -> None:
        """Track exactly the members of the configuration in force (plus nothing else)."""
        membership = self._membership.latest
        members = set(membership.voters) | set(membership.learners)
        for peer in list(self._progress):
            if peer not in members:
                del self._progress[peer]
        for peer in members:
            if peer not in self._progress:
                self._progress[peer] = Progress(self._log.last_index + 1, self._config.max_inflight)
                self._progress[peer].recent_active = True
            self._progress[peer].learner = peer in membership.learners
        if self._transferee is not None and self._transferee not in membership.voters:
            self._transferee = None

    # -- sending -----------------------------------------------------------------
    def _send(self, msg: Message) -> None:
        self._messages.append(msg)

    def _send_append(self, to: str, send_if_empty: bool = True) -> bool:
        """Send ``to`` the entries it lacks (or a snapshot when they were compacted). True if sent."""
        progress = self._progress[to]
        if progress.is_paused():
            return False
        prev_index = progress.next - 1
        prev_term = self._log.term(prev_index)
        if prev_term is None:
            return self._send_snapshot(to, progress)
        entries = self._log.entries_from(progress.next, self._config.max_entries_per_msg)
        if not entries and not send_if_empty:
            return False
        self._send(Message("append", to, self.id, self.term, index=prev_index, log_term=prev_term,
                           entries=entries, commit=self._log.committed))
        progress.sent_append(prev_index + len(entries), bool(entries))
        return True

    def _send_snapshot(self, to: str, progress: Progress) -> bool:
        if self._snapshot is None:
            return False  # restarted from a bare SnapshotMeta: wait for the next compact()
        self._send(Message("snapshot", to, self.id, self.term, snapshot=self._snapshot))
        progress.become_snapshot(self._snapshot.meta.index)
        return True

    def _send_all(self, to: str, send_if_empty: bool) -> None:
        """Send ``to`` everything it lacks that its flow control allows (batches of
        max_entries_per_msg, at most max_inflight unanswered)."""
        if self._send_append(to, send_if_empty):
            while self._send_append(to, send_if_empty=False):
                pass

    def _broadcast_append(self, send_if_empty: bool) -> None:
        for peer in list(self._progress):
            if peer != self.id:
                self._send_all(peer, send_if_empty)

    def _broadcast_heartbeat(self, context: bytes) -> None:
        for peer, progress in self._progress.items():
            if peer != self.id:
                commit = min(progress.match, self._log.committed)
                self._send(Message("heartbeat", peer, self.id, self.term, commit=commit, context=context))

    # -- state snapshots ---------------------------------------------------------
    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self._log.committed)

    def _soft_state(self) -> SoftState:
        return SoftState(self.leader, self.role)

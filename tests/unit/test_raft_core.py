"""The Raft core against the paper's scenarios (Ongaro & Ousterhout, extended version; Ongaro's thesis).

Each test names the section it checks. Multi-member tests run on the
simulated cluster of ``raftsim`` (in-memory disks, a controlled network) with
the safety checker watching every step.
"""

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.raft.core import (ConfChangeRefused, Entry, HardState, Message, NotLeader, RaftConfig, RaftCore,
                              Snapshot, SnapshotMeta)
from actors.raft.membership import Membership
from tests.unit.raftsim import Cluster, SafetyChecker

E = Entry


def single(**config) -> RaftCore:
    return RaftCore(RaftConfig("a", seed=1, **config), hard_state=None, snapshot=None, entries=[], voters=("a",))


def drain(core: RaftCore):
    """Run the caller's Ready loop once per Ready until idle; return the Readies."""
    readies = []
    while core.has_ready():
        ready = core.ready()
        core.advance(ready)
        readies.append(ready)
    return readies


def cluster(ids=("n1", "n2", "n3"), **config) -> Cluster:
    config = {"election_tick": 10, "heartbeat_tick": 1, "pre_vote": True, "check_quorum": True, "seed": 7} | config
    return Cluster(ids, checker=SafetyChecker(), **config)


def appends_to(node_id):
    return lambda msg: msg.to == node_id and msg.type in ("append", "snapshot", "heartbeat")


# -- single voter (needed first by the rest of the team) ------------------------------------------
def test_single_voter_campaign_makes_it_leader_with_a_noop_committed_after_advance():
    """A lone voter wins its own election (§5.2 with a quorum of one); the leader's own match counts
    only once its entries are persisted, i.e. after advance()."""
    core = single()
    core.campaign()
    ready = core.ready()
    assert core.role == "leader" and core.leader == "a" and core.term == 1
    assert ready.soft_state.role == "leader" and ready.hard_state.vote == "a"
    assert ready.entries == [E(1, 1, "noop", b"")] and ready.committed_entries == []
    assert core.commit_index == 0
    core.advance(ready)
    assert core.commit_index == 1 and core.has_ready()
    ready = core.ready()
    assert ready.committed_entries == [E(1, 1, "noop", b"")] and ready.hard_state.commit == 1
    core.advance(ready)
    assert core.applied_index == 1 and not core.has_ready()


def test_single_voter_elects_itself_within_two_election_timeouts():
    """§5.2: with no leader, a voter campaigns after a randomized timeout in [election_tick, 2*election_tick)."""
    core = single(election_tick=5)
    for _ in range(9):
        core.tick()
        if core.role == "leader":
            break
    assert core.role == "leader"


def test_single_voter_proposals_commit_as_soon_as_persisted():
    core = single()
    core.campaign()
    drain(core)
    index = core.propose(b"x")
    assert index == 2
    ready = core.ready()
    assert ready.entries == [E(2, 1, "normal", b"x")] and ready.committed_entries == []
    core.advance(ready)
    ready = core.ready()
    assert ready.committed_entries == [E(2, 1, "normal", b"x")]
    core.advance(ready)
    assert core.applied_index == 2 and not core.has_ready()


def test_single_voter_batches_proposals_made_between_readies():
    core = single()
    core.campaign()
    drain(core)
    indexes = [core.propose(b"%d" % n) for n in range(5)]
    assert indexes == [2, 3, 4, 5, 6]
    readies = drain(core)
    assert [len(r.entries) for r in readies] == [5, 0]
    assert [e.data for e in readies[1].committed_entries] == [b"0", b"1", b"2", b"3", b"4"]


def test_single_voter_read_index_is_reported_once_applied():
    """Thesis §6.4 with a quorum of one: no heartbeat round is needed."""
    core = single()
    core.campaign()
    core.read_index(b"early")  # before the noop commits: waits for a commit in this term
    readies = drain(core)
    reads = [read for ready in readies for read in ready.read_states]
    assert [(r.index, r.context) for r in reads] == [(1, b"early")]
    core.propose(b"x")
    core.read_index(b"later")
    reads = [read for ready in drain(core) for read in ready.read_states]
    assert [(r.index, r.context) for r in reads] == [(1, b"later")]  # read index = commit when asked


def test_single_voter_restarts_from_its_storage_and_replays_committed_entries():
    node = Cluster(("a",), checker=SafetyChecker(), seed=3).nodes["a"]
    node.core.campaign()
    node.process_ready()
    node.core.propose(b"x")
    while node.core.has_ready():
        node.process_ready()
    assert node.machine.index == 2
    node.crash()
    node.start()
    assert node.core.term == 1 and node.core.commit_index == 2 and node.core.role == "follower"
    assert node.machine.index == 0
    node.process_ready()
    assert node.machine.index == 2  # replayed from the log
    node.core.campaign()
    assert node.core.term == 2 and node.core.role == "leader"


def test_propose_off_the_leader_raises_not_leader_naming_the_leader():
    c = cluster()
    c.elect("n1")
    with pytest.raises(NotLeader) as raised:
        c.core("n2").propose(b"x")
    assert raised.value.leader == "n1"
    fresh = RaftCore(RaftConfig("z"), hard_state=None, snapshot=None, entries=[], voters=("z", "y"))
    with pytest.raises(NotLeader) as raised:
        fresh.propose(b"x")
    assert raised.value.leader is None
    with pytest.raises(NotLeader):
        fresh.read_index(b"r")


# -- §5.2 leader election ---------------------------------------------------------------------------
def test_5_2_randomized_election_timeout_lies_in_election_tick_to_twice_it():
    """§5.2: "election timeouts are chosen randomly from a fixed interval"."""
    timeouts = set()
    for seed in range(200):
        core = RaftCore(RaftConfig("a", election_tick=10, seed=seed, pre_vote=False), hard_state=None,
                        snapshot=None, entries=[], voters=("a", "b", "c"))
        ticks = 0
        while core.role == "follower":
            core.tick()
            ticks += 1
        timeouts.add(ticks)
    assert min(timeouts) >= 10 and max(timeouts) <= 19 and len(timeouts) > 5


def test_5_2_randomness_comes_only_from_the_seed():
    def timeline(seed):
        core = RaftCore(RaftConfig("a", seed=seed, pre_vote=False), hard_state=None, snapshot=None, entries=[],
                        voters=("a", "b", "c"))
        terms = []
        for _ in range(100):
            core.tick()
            terms.append(core.term)
        return terms
    assert timeline(5) == timeline(5)


def test_5_2_candidate_with_votes_from_a_majority_becomes_leader():
    c = cluster(("n1", "n2", "n3", "n4", "n5"))
    c.crash("n4")
    c.crash("n5")
    c.elect("n1")
    assert c.core("n1").term == 1
    assert [c.core(n).leader for n in ("n2", "n3")] == ["n1", "n1"]


def test_5_2_candidate_without_a_majority_does_not_win():
    c = cluster(pre_vote=False)
    c.crash("n2")
    c.crash("n3")
    c.core("n1").campaign()
    c.stabilize()
    assert c.core("n1").role == "candidate" and c.core("n1").term == 1


def test_5_2_each_server_votes_for_at_most_one_candidate_per_term():
    core = RaftCore(RaftConfig("b", check_quorum=False), hard_state=None, snapshot=None, entries=[],
                    voters=("a", "b", "c"))
    core.step(Message("vote", "b", "a", 1))
    core.step(Message("vote", "b", "c", 1))
    core.step(Message("vote", "b", "a", 1))  # a retransmission is answered the same way
    ready = core.ready()
    assert [(m.to, m.reject) for m in ready.messages] == [("a", False), ("c", True), ("a", False)]
    assert ready.hard_state == HardState(1, "a", 0)  # persisted before the grant is sent


def test_5_2_candidate_returns_to_follower_when_a_leader_of_its_term_appears():
    """§5.2: "If the leader's term ... is at least as large as the candidate's current term, then the
    candidate recognizes the leader as legitimate and returns to follower state"."""
    core = RaftCore(RaftConfig("b", pre_vote=False), hard_state=None, snapshot=None, entries=[],
                    voters=("a", "b", "c"))
    core.campaign()
    assert core.role == "candidate" and core.term == 1
    core.step(Message("append", "b", "a", 1, entries=[E(1, 1, "noop")]))
    assert core.role == "follower" and core.leader == "a" and core.last_index == 1


def test_5_1_a_leader_that_sees_a_higher_term_steps_down():
    """§5.1: "If a candidate or leader discovers that its term is out of date, it immediately reverts
    to follower state"."""
    c = cluster()
    c.elect("n1")
    c.core("n1").step(Message("heartbeat_resp", "n1", "n2", 5))
    assert c.core("n1").role == "follower" and c.core("n1").term == 5


def test_5_2_election_after_leader_crash():
    c = cluster()
    c.elect("n1")
    c.propose("n1", b"x")
    c.crash("n1")
    for _ in range(40):
        c.tick_all()
        c.stabilize()
    assert len(c.leaders()) == 1 and c.leaders()[0] != "n1"
    assert c.core(c.leaders()[0]).term >= 2


# -- §5.3 log replication -------------------------------------------------------------------------------
def test_5_3_leader_commits_once_a_majority_stores_the_entry():
    c = cluster()
    c.elect("n1")
    c.crash("n3")
    index = c.propose("n1", b"x")
    assert all(c.core(n).commit_index == index for n in ("n1", "n2"))
    assert c.nodes["n2"].machine.index == index


def test_5_3_follower_answers_append_only_in_the_ready_that_persists_the_entries():
    c = cluster()
    c.elect("n1")
    c.core("n1").propose(b"x")
    c.flush("n1")
    append = next(m for m in c.inflight if m.to == "n2" and m.type == "append")
    c.core("n2").step(append)
    ready = c.core("n2").ready()
    assert [e.index for e in ready.entries] == [2]
    assert [(m.type, m.index) for m in ready.messages] == [("append_resp", 2)]


def test_5_3_follower_rejects_an_append_whose_previous_entry_does_not_match():
    """§5.3 consistency check: "If the follower does not find an entry in its log with the same index
    and term, then it refuses the new entries"."""
    core = RaftCore(RaftConfig("b"), hard_state=HardState(2, None, 0), snapshot=None,
                    entries=[E(1, 1), E(2, 1)], voters=("a", "b", "c"))
    core.step(Message("append", "b", "a", 2, index=2, log_term=2, entries=[E(3, 2)]))
    reply = core.ready().messages[0]
    assert reply.reject and reply.index == 2
    assert reply.reject_hint == 2 and reply.log_term == 1  # its entries up to 2 have term 1 <= 2
    assert core.last_index == 2


def test_5_3_conflicting_uncommitted_entries_are_overwritten_by_the_leader():
    """§5.3: "the leader handles inconsistencies by forcing the followers' logs to duplicate its own"."""
    c = cluster(pre_vote=False)
    c.nodes["n3"].load_state(3, [E(1, 1), E(2, 2), E(3, 2), E(4, 3)])
    c.nodes["n1"].load_state(4, [E(1, 1), E(2, 4)])
    c.nodes["n2"].load_state(4, [E(1, 1), E(2, 4)])
    c.elect("n1")
    assert [e.term for e in c.core("n3").entries(1, 10)] == [1, 4, 5]
    assert c.nodes["n3"].storage.entries == c.core("n3").entries(1, 10)  # the disk follows the truncation


def test_5_3_fast_backtracking_skips_a_whole_term_per_round_trip():
    """§5.3: "the follower can include the term of the conflicting entry and the first index it stores
    for that term ... one AppendEntries RPC will be required for each term with conflicting entries"."""
    common = [E(1, 1)] + [E(i, 2) for i in range(2, 52)]
    follower_tail = [E(i, 3) for i in range(52, 102)]
    leader_tail = [E(i, 4) for i in range(52, 62)]
    c = cluster(pre_vote=False, max_entries_per_msg=1000)
    c.nodes["n3"].load_state(3, common + follower_tail)
    c.nodes["n1"].load_state(4, common + leader_tail)
    c.nodes["n2"].load_state(4, common + leader_tail)
    c.elect("n1")
    rejections = [m for m in c.delivered if m.type == "append_resp" and m.frm == "n3" and m.reject]
    assert len(rejections) == 1  # not one per conflicting entry (50)
    assert c.core("n3").entries(1, 200) == c.core("n1").entries(1, 200)


def test_5_3_batching_and_the_inflight_window_bound_what_is_in_flight():
    c = cluster(max_entries_per_msg=2, max_inflight=2)
    c.elect("n1")
    for n in range(10):
        c.core("n1").propose(b"%d" % n)
    c.flush("n1")
    to_n2 = [m for m in c.inflight if m.to == "n2" and m.type == "append"]
    assert [len(m.entries) for m in to_n2] == [2, 2]  # two messages of two entries, then the window is full
    c.stabilize()
    assert c.core("n2").commit_index == c.core("n1").last_index == 11


def test_5_3_lost_appends_are_retried_after_a_heartbeat():
    c = cluster()
    c.elect("n1")
    c.core("n1").propose(b"x")
    c.stabilize(drop=lambda m: m.type == "append" and m.to == "n3")
    assert c.core("n3").last_index == 1
    c.tick("n1")
    c.stabilize()
    assert c.core("n3").last_index == 2 and c.core("n3").commit_index == 2


# -- §5.4 safety ------------------------------------------------------------------------------------
def test_5_4_1_voters_refuse_candidates_whose_log_is_less_up_to_date():
    """§5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the candidate"
    (later last term wins; with equal last terms, the longer log wins)."""
    voter = RaftCore(RaftConfig("b", check_quorum=False), hard_state=HardState(2, None, 0), snapshot=None,
                     entries=[E(1, 1), E(2, 2)], voters=("a", "b", "c"))
    voter.step(Message("vote", "b", "a", 3, index=5, log_term=1))  # longer but older last term
    voter.step(Message("vote", "b", "c", 3, index=1, log_term=2))  # same last term, shorter
    voter.step(Message("vote", "b", "a", 4, index=2, log_term=2))  # as up to date: granted
    assert [m.reject for m in voter.ready().messages] == [True, True, False]


def test_5_4_1_a_member_with_a_stale_log_cannot_become_leader():
    c = cluster(pre_vote=False, check_quorum=False)
    c.elect("n1")
    c.crash("n3")
    c.propose("n1", b"x")
    c.restart("n3")
    c.isolate("n1")
    c.core("n3").campaign()
    c.stabilize()
    assert c.core("n3").role != "leader"
    c.core("n2").campaign()
    c.stabilize()
    assert c.core("n2").role == "leader"


def test_5_4_2_figure_8_entries_of_older_terms_are_not_committed_by_counting_replicas():
    """§5.4.2, Figure 8: "a leader cannot immediately conclude that an entry from a previous term is
    committed once it is stored on a majority of servers" -- S5 could still be elected and overwrite it."""
    ids = ("s1", "s2", "s3", "s4", "s5")
    c = cluster(ids, pre_vote=False, check_quorum=False, max_entries_per_msg=1)
    c.nodes["s1"].load_state(3, [E(1, 1), E(2, 2)], commit=1)
    c.nodes["s2"].load_state(3, [E(1, 1), E(2, 2)], commit=1)
    c.nodes["s3"].load_state(3, [E(1, 1)], commit=1)
    c.nodes["s4"].load_state(3, [E(1, 1)], commit=1)
    c.nodes["s5"].load_state(3, [E(1, 1), E(2, 3)], commit=1)
    c.isolate("s5")
    c.core("s1").campaign()  # term 4; s1's noop goes to index 3
    # s2 gets the noop; s3 gets only index 2 (its first append is refused, which makes s1 back up);
    # s4 gets nothing of term 4.
    first_to_s3 = []

    def drop(msg):
        if msg.type != "append" or not any(e.term == 4 for e in msg.entries) or msg.to == "s2":
            return False
        if msg.to == "s3" and not first_to_s3:
            first_to_s3.append(msg)
            return False
        return True
    c.stabilize(drop=drop)
    assert c.core("s1").role == "leader" and c.core("s1").status()["progress"]["s3"]["match"] == 2
    holders = [n for n in ids if c.core(n).entries(2, 3) == [E(2, 2)]]
    assert holders == ["s1", "s2", "s3"]  # the leader knows a majority stores index 2 ...
    assert c.core("s1").commit_index == 1  # ... but it is of an older term: not committed
    # Figure 8 (d): S1 crashes; S5 (last term 3) wins with votes from S2, S3, S4 and overwrites index 2.
    c.crash("s1")
    c.heal()
    c.core("s5").campaign()
    c.stabilize()
    c.core("s5").campaign()  # its first try was at a term the others had passed
    c.stabilize()
    assert c.core("s5").role == "leader"
    assert [c.core(n).entries(2, 3)[0].term for n in ("s2", "s3", "s4")] == [3, 3, 3]


def test_5_4_2_figure_8_older_entries_commit_with_an_entry_of_the_current_term():
    ids = ("s1", "s2", "s3", "s4", "s5")
    c = cluster(ids, pre_vote=False, check_quorum=False)
    c.nodes["s1"].load_state(3, [E(1, 1), E(2, 2)], commit=1)
    c.nodes["s2"].load_state(3, [E(1, 1), E(2, 2)], commit=1)
    c.crash("s4")
    c.crash("s5")
    c.elect("s1")
    assert c.core("s1").commit_index == 3  # index 2 committed indirectly, with the noop of term 4
    assert c.core("s3").entries(2, 4) == [E(2, 2), E(3, 4, "noop")]


# -- §6 / thesis §4 membership changes ------------------------------------------------------------------
def five_with_three_voters(**config) -> Cluster:
    ids = ("n1", "n2", "n3", "n4", "n5")
    c = Cluster(ids, voters=ids[:3], members=ids[:3], checker=SafetyChecker(),
                **({"election_tick": 10, "seed": 11} | config))
    c.elect("n1")
    return c


def test_6_learner_catches_up_without_counting_towards_the_quorum():
    """Thesis §4.2.1: new servers join as non-voting members until their logs are caught up."""
    c = five_with_three_voters()
    leader = c.core("n1")
    leader.propose_conf_change("add_learner", "n4")
    c.stabilize()
    assert leader.learners == ("n4",) and c.core("n4").role == "learner"
    assert c.core("n4").commit_index == leader.commit_index
    c.crash("n2")
    c.crash("n3")
    leader.propose(b"x")
    c.stabilize()
    assert leader.commit_index == leader.last_index - 1  # the learner's copy does not commit it


def test_6_learners_never_campaign():
    c = five_with_three_voters()
    c.core("n1").propose_conf_change("add_learner", "n4")
    c.stabilize()
    c.crash("n1")
    c.tick("n4", 100)
    assert c.core("n4").role == "learner" and c.core("n4").term == 1


def test_6_promoted_learner_votes_and_counts():
    c = five_with_three_voters()
    leader = c.core("n1")
    leader.propose_conf_change("add_learner", "n4")
    c.stabilize()
    leader.propose_conf_change("promote", "n4")
    c.stabilize()
    assert leader.voters == ("n1", "n2", "n3", "n4") and c.core("n4").role == "follower"
    c.crash("n2")
    c.crash("n3")
    leader.propose(b"x")
    c.stabilize()
    assert leader.commit_index == leader.last_index - 1  # 2 of 4 is not a majority
    c.restart("n2")
    c.tick("n1")
    c.stabilize()
    assert leader.commit_index == leader.last_index


def test_6_only_one_membership_change_at_a_time():
    """Thesis §4.1: a change must be committed before the next one starts."""
    c = five_with_three_voters()
    leader = c.core("n1")
    leader.propose_conf_change("add_learner", "n4")
    with pytest.raises(ConfChangeRefused):
        leader.propose_conf_change("add_learner", "n5")
    c.stabilize()
    leader.propose_conf_change("add_learner", "n5")


def test_6_no_membership_change_before_the_leader_commits_in_its_term():
    """Thesis §4.1 (the 2015 fix): a leader may not append a configuration entry until it has
    committed an entry from its current term."""
    c = cluster()
    c.core("n1").campaign()
    c.flush()
    c.stabilize(drop=lambda m: m.type == "append_resp")
    assert c.core("n1").role == "leader"
    with pytest.raises(ConfChangeRefused):
        c.core("n1").propose_conf_change("remove", "n3")


def test_6_membership_changes_that_make_no_sense_are_refused():
    c = five_with_three_voters()
    leader = c.core("n1")
    for action, node in (("promote", "n4"), ("remove", "n5"), ("add_learner", "n2"), ("explode", "n4")):
        with pytest.raises(ConfChangeRefused):
            leader.propose_conf_change(action, node)


def test_6_removing_a_follower_shrinks_the_quorum():
    c = five_with_three_voters()
    leader = c.core("n1")
    leader.propose_conf_change("remove", "n3")
    c.stabilize()
    assert leader.voters == ("n1", "n2")
    c.crash("n3")
    c.propose("n1", b"x")
    assert leader.commit_index == leader.last_index


def test_6_a_removed_leader_steps_down_once_its_removal_is_committed():
    """Thesis §4.2.2: the leader manages the cluster without counting itself, then steps down."""
    c = five_with_three_voters()
    leader = c.core("n1")
    index = leader.propose_conf_change("remove", "n1")
    with pytest.raises(NotLeader):
        leader.propose(b"refused while leaving")
    c.stabilize()
    assert leader.role == "follower" and leader.voters == ("n2", "n3")
    assert all(c.core(n).commit_index >= index for n in ("n2", "n3"))
    assert len(c.leaders()) == 1 and c.leaders()[0] in ("n2", "n3")  # handed over with timeout_now


def test_6_a_configuration_is_used_as_soon_as_appended_and_dropped_if_truncated():
    """Thesis §4.1: "a server always uses the latest configuration in its log, regardless of whether
    the entry is committed" -- so a truncated configuration entry must be forgotten."""
    core = RaftCore(RaftConfig("b"), hard_state=HardState(1, None, 1), snapshot=None, entries=[E(1, 1, "noop")],
                    voters=("a", "b", "c"))
    change = Membership.of(("a", "b", "c"), ("d",)).encode_change("add_learner", "d")
    core.step(Message("append", "b", "a", 1, index=1, log_term=1, entries=[E(2, 1, "config", change)], commit=1))
    assert core.learners == ("d",) and core.commit_index == 1
    core.step(Message("append", "b", "c", 2, index=1, log_term=1, entries=[E(2, 2, "noop")], commit=1))
    assert core.learners == () and core.entries(2, 3) == [E(2, 2, "noop")]


# -- §7 log compaction ---------------------------------------------------------------------------------
def test_7_a_follower_behind_the_compacted_log_receives_a_snapshot():
    """§7: "the leader must occasionally send snapshots to followers that lag behind"."""
    c = cluster()
    c.elect("n1")
    c.crash("n3")
    for n in range(5):
        c.propose("n1", b"%d" % n)
    c.nodes["n1"].compact()
    assert c.core("n1").first_index == 7
    c.restart("n3")
    c.tick("n1")
    c.stabilize()
    assert any(m.type == "snapshot" and m.to == "n3" for m in c.delivered)
    assert c.nodes["n3"].machine.encode() == c.nodes["n1"].machine.encode()
    assert c.nodes["n3"].storage.snapshot.meta.index == 6
    c.propose("n1", b"after")
    assert c.nodes["n3"].machine.index == 7


def test_7_a_snapshot_carries_the_membership_at_its_index():
    c = five_with_three_voters()
    c.core("n1").propose_conf_change("add_learner", "n4")
    c.stabilize()
    snapshot = c.core("n1").compact(c.core("n1").applied_index, b"state")
    assert snapshot.meta.voters == ("n1", "n2", "n3") and snapshot.meta.learners == ("n4",)
    restored = RaftCore(RaftConfig("n4"), hard_state=HardState(1, None, 2), snapshot=snapshot.meta, entries=[],
                        voters=())
    assert restored.role == "learner" and restored.applied_index == 2 and restored.first_index == 3


def test_7_a_snapshot_the_follower_already_holds_only_advances_its_commit():
    core = RaftCore(RaftConfig("b"), hard_state=HardState(1, None, 1), snapshot=None,
                    entries=[E(1, 1), E(2, 1), E(3, 1)], voters=("a", "b"))
    snapshot = Snapshot(SnapshotMeta(2, 1, ("a", "b")), b"s")
    core.step(Message("snapshot", "b", "a", 1, snapshot=snapshot))
    ready = core.ready()
    assert ready.snapshot is None and core.last_index == 3 and core.commit_index == 2
    assert (ready.messages[0].type, ready.messages[0].index) == ("append_resp", 2)


def test_7_a_lost_snapshot_is_sent_again():
    c = cluster()
    c.elect("n1")
    c.crash("n3")
    for n in range(3):
        c.propose("n1", b"%d" % n)
    c.nodes["n1"].compact()
    c.restart("n3")
    c.tick("n1")
    c.stabilize(drop=lambda m: m.type == "snapshot")  # reported as failed
    assert c.core("n3").last_index == 1
    c.tick("n1")
    c.stabilize()
    assert c.core("n3").commit_index == c.core("n1").commit_index


def test_7_restart_with_a_bare_snapshot_meta_sends_snapshots_once_it_compacts_again():
    meta = SnapshotMeta(5, 1, ("a", "b", "c"))
    core = RaftCore(RaftConfig("a", pre_vote=False), hard_state=HardState(1, None, 5), snapshot=meta, entries=[],
                    voters=())
    core.campaign()
    core.step(Message("vote_resp", "a", "b", 2))
    drain(core)
    core.step(Message("append_resp", "a", "c", 2, index=6))  # c has the noop: it commits
    core.step(Message("append_resp", "a", "b", 2, index=5, reject=True, reject_hint=0))  # b has nothing
    drain(core)
    assert core.applied_index == 6
    assert not [m for m in core.ready().messages if m.type == "snapshot"]  # no snapshot data to send
    core.compact(6, b"state")
    with pytest.raises(ValueError):
        core.compact(4, b"older than the snapshot")
    with pytest.raises(ValueError):
        core.compact(7, b"not applied yet")
    core.step(Message("heartbeat_resp", "a", "b", 2))
    snapshots = [m for m in core.ready().messages if m.type == "snapshot"]
    assert [(m.to, m.snapshot.meta.index, m.snapshot.data) for m in snapshots] == [("b", 6, b"state")]


# -- §8 / thesis §6.4 read index --------------------------------------------------------------------
def test_8_read_index_needs_a_heartbeat_round_with_a_majority():
    """§8: "the leader ... exchange heartbeat messages with a majority of the cluster before responding
    to read-only requests"."""
    c = cluster()
    c.elect("n1")
    c.read_index("n1", b"q")
    c.flush("n1")
    heartbeats = [m for m in c.inflight if m.type == "heartbeat"]
    assert {m.context for m in heartbeats} == {b"q"} and len(heartbeats) == 2
    c.stabilize(drop=lambda m: m.type == "heartbeat_resp")
    assert c.nodes["n1"].read_states == []
    c.tick("n1")  # the next heartbeat round carries the pending context too
    c.stabilize()
    assert [(r.index, r.context) for r in c.nodes["n1"].read_states] == [(1, b"q")]


def test_8_read_index_waits_until_the_leader_commits_an_entry_of_its_term():
    """§8: "a leader must have the latest information on which entries are committed ... Raft handles
    this by having each leader commit a blank no-op entry into the log at the start of its term"."""
    c = cluster()
    c.core("n1").campaign()
    c.stabilize(drop=lambda m: m.type == "append_resp")
    leader = c.core("n1")
    assert leader.role == "leader" and leader.commit_index == 0
    c.read_index("n1", b"q")
    c.flush()
    assert not [m for m in c.inflight if m.type == "heartbeat"]
    c.tick("n1")
    c.stabilize()
    assert [(r.index, r.context) for r in c.nodes["n1"].read_states] == [(1, b"q")]


def test_8_followers_get_the_read_index_from_the_leader_and_wait_to_apply_it():
    c = cluster()
    c.elect("n1")
    c.core("n1").propose(b"x")
    c.read_index("n2", b"f")
    c.stabilize()
    assert [(r.index, r.context) for r in c.nodes["n2"].read_states] == [(1, b"f")]  # x was not committed yet
    assert any(m.type == "read_index_resp" and m.to == "n2" for m in c.delivered)


def test_8_a_deposed_leader_serves_no_reads():
    c = cluster(check_quorum=False)
    c.elect("n1")
    c.isolate("n1")
    while len(c.leaders()) < 2:  # n1 still believes it leads
        c.tick_all()
        c.stabilize()
    c.propose(max(c.leaders()), b"newer")
    c.read_index("n1", b"stale?")
    for _ in range(5):
        c.tick("n1")
        c.stabilize()
    assert c.nodes["n1"].read_states == []


# -- thesis §9.6 pre-vote, check-quorum and the leader lease -----------------------------------------
def test_9_6_a_partitioned_member_with_pre_vote_does_not_inflate_its_term():
    """Thesis §9.6: a server first asks whether it could win; it only bumps its term if so."""
    c = cluster()
    c.elect("n1")
    c.isolate("n3")
    for _ in range(100):
        c.tick("n3")
        c.stabilize()
    assert c.core("n3").term == 1 and c.core("n3").role == "pre-candidate"
    c.heal()
    c.tick("n1")
    c.stabilize()
    assert c.core("n1").role == "leader" and c.core("n3").role == "follower" and c.core("n1").term == 1


def test_9_6_without_pre_vote_a_partitioned_member_inflates_its_term_and_disrupts_on_return():
    c = cluster(pre_vote=False, check_quorum=False)
    c.elect("n1")
    c.isolate("n3")
    for _ in range(100):
        c.tick("n3")
        c.stabilize()
    assert c.core("n3").term > 3
    c.heal()
    for _ in range(30):
        c.tick_all()
        c.stabilize()
    assert c.core("n1").term > 3  # the whole cluster had to follow n3's term


def test_9_6_pre_vote_is_refused_to_a_stale_log_and_grants_do_not_change_terms():
    voter = RaftCore(RaftConfig("b", check_quorum=False), hard_state=HardState(2, None, 0), snapshot=None,
                     entries=[E(1, 2)], voters=("a", "b", "c"))
    voter.step(Message("pre_vote", "b", "a", 3, index=1, log_term=1))
    voter.step(Message("pre_vote", "b", "c", 3, index=1, log_term=2))
    replies = voter.ready().messages
    assert [(m.type, m.reject, m.term) for m in replies] == [("pre_vote_resp", True, 2), ("pre_vote_resp", False, 3)]
    assert voter.term == 2 and voter.vote is None


def test_check_quorum_a_leader_that_cannot_reach_a_majority_steps_down():
    """Thesis §6.2: a leader steps down if an election timeout passes without hearing from a majority."""
    c = cluster()
    c.elect("n1")
    c.isolate("n1")
    for _ in range(25):
        c.tick("n1")
        c.stabilize()
    assert c.core("n1").role == "follower" and c.core("n1").leader is None


def test_check_quorum_followers_in_a_leader_lease_ignore_vote_requests():
    """Thesis §4.2.3: "if a server receives a RequestVote request within the minimum election timeout of
    hearing from a current leader, it does not update its term or grant its vote"."""
    c = cluster(pre_vote=False)
    c.elect("n1")
    disruptor = c.core("n3")
    disruptor.campaign()  # as if its timer fired early (e.g. after a pause)
    c.flush("n3")
    c.stabilize(drop=lambda m: m.to == "n1")
    assert c.core("n2").term == 1 and c.core("n2").leader == "n1"


def test_a_stale_leader_learns_the_new_term_from_the_answer_to_its_heartbeat():
    """With pre-vote the others never send the stale leader a higher-term vote request, so followers
    answer a stale leader's heartbeat with their term."""
    c = cluster(check_quorum=False)
    c.elect("n1")
    c.isolate("n1")
    for _ in range(25):
        c.tick_all()
        c.stabilize()
    assert len(c.leaders()) == 2 and c.core("n1").term == 1
    c.heal()
    c.tick("n1")
    c.stabilize()
    assert c.core("n1").role == "follower" and c.core("n1").term == 2 and len(c.leaders()) == 1


# -- thesis §3.10 leadership transfer --------------------------------------------------------------------
def test_transfer_leadership_to_an_up_to_date_follower():
    """Thesis §3.10: the leader sends TimeoutNow; the target starts an election at once."""
    c = cluster()
    c.elect("n1")
    c.core("n1").transfer_leadership("n2")
    c.stabilize()
    assert c.leaders() == ["n2"] and c.core("n2").term == 2
    assert any(m.type == "timeout_now" for m in c.delivered)


def test_transfer_leadership_catches_a_lagging_target_up_first():
    c = cluster()
    c.elect("n1")
    c.crash("n3")
    c.propose("n1", b"x")
    c.restart("n3")
    c.core("n1").transfer_leadership("n3")
    with pytest.raises(NotLeader):
        c.core("n1").propose(b"refused during the transfer")
    c.stabilize()
    assert c.leaders() == ["n3"] and c.core("n3").commit_index == 3


def test_transfer_leadership_is_abandoned_after_an_election_timeout():
    c = cluster()
    c.elect("n1")
    c.crash("n2")
    c.core("n1").transfer_leadership("n2")
    for _ in range(10):
        c.tick("n1")
        c.stabilize()
    assert c.core("n1").role == "leader"
    c.propose("n1", b"accepted again")


def test_transfer_leadership_needs_a_voter_and_the_leader():
    c = five_with_three_voters()
    with pytest.raises(ValueError):
        c.core("n1").transfer_leadership("n4")
    with pytest.raises(NotLeader):
        c.core("n2").transfer_leadership("n3")


# -- messages --------------------------------------------------------------------------------------------
message_strategy = st.builds(
    Message, type=st.sampled_from(["append", "snapshot", "vote", "read_index_resp"]), to=st.text(max_size=5),
    frm=st.text(max_size=5), term=st.integers(0, 2**40), log_term=st.integers(0, 100), index=st.integers(0, 10**9),
    entries=st.lists(st.builds(Entry, st.integers(0, 10**6), st.integers(0, 99), st.sampled_from(["normal", "noop",
                                                                                                   "config"]),
                               st.binary(max_size=20)), max_size=4),
    commit=st.integers(0, 100), reject=st.booleans(), reject_hint=st.integers(0, 100),
    snapshot=st.none() | st.builds(Snapshot, st.builds(SnapshotMeta, st.integers(0, 100), st.integers(0, 100),
                                                       st.tuples(st.text(max_size=3)), st.tuples()),
                                   st.binary(max_size=30)),
    context=st.binary(max_size=10))


@given(message_strategy)
def test_messages_survive_a_dict_and_msgpack_round_trip(msg):
    wire = msgpack.packb(msg.to_dict(), use_bin_type=True)
    assert Message.from_dict(msgpack.unpackb(wire, raw=False)) == msg


@pytest.mark.parametrize("change", [{"type": "gossip"}, {"term": -1}, {"term": "1"}, {"entries": [[1, 1, "x", b""]]},
                                    {"entries": [[1, 1, "normal", "text"]]}, {"context": "text"},
                                    {"snapshot": {"index": 1}}, {"reject": 1}])
def test_malformed_messages_raise_value_error(change):
    good = Message("append", "b", "a", 1).to_dict()
    with pytest.raises(ValueError):
        Message.from_dict(good | change)
    with pytest.raises(ValueError):
        Message.from_dict(["not", "a", "map"])


def test_step_rejects_malformed_input_and_entries_out_of_order():
    core = RaftCore(RaftConfig("b"), hard_state=None, snapshot=None, entries=[], voters=("a", "b"))
    with pytest.raises(ValueError):
        core.step(Message("append", "b", "a", 1, index=0, entries=[E(2, 1)]))
    with pytest.raises(ValueError):
        core.step(Message("snapshot", "b", "a", 1))
    with pytest.raises(ValueError):
        core.step({"type": "append"})


def test_step_ignores_messages_of_older_terms_and_for_others():
    core = RaftCore(RaftConfig("b", pre_vote=False, check_quorum=False), hard_state=HardState(5, None, 0),
                    snapshot=None, entries=[], voters=("a", "b"))
    core.step(Message("append", "b", "a", 4, entries=[E(1, 4)]))
    core.step(Message("append", "c", "a", 5, entries=[E(1, 5)]))
    assert core.last_index == 0 and not core.ready().messages


def test_status_reports_progress_on_the_leader():
    c = cluster()
    c.elect("n1")
    status = c.core("n1").status()
    assert status["role"] == "leader" and status["commit"] == 1 and status["last_index"] == 1
    assert status["progress"]["n2"]["match"] == 1 and status["progress"]["n2"]["state"] == "replicate"
    assert "progress" not in c.core("n2").status()


def test_6_a_learner_is_promoted_only_once_caught_up():
    """Thesis §4.2.1: a new server gets the log before it can vote, so it cannot stall commitment."""
    c = five_with_three_voters(max_entries_per_msg=2)
    leader = c.core("n1")
    leader.propose_conf_change("add_learner", "n4")
    c.stabilize(drop=lambda m: m.to == "n4")
    for n in range(5):
        c.propose("n1", b"%d" % n)
    c.stabilize(drop=lambda m: m.to == "n4")
    with pytest.raises(ConfChangeRefused, match="caught up"):
        leader.propose_conf_change("promote", "n4")
    c.tick("n1")
    c.stabilize()
    leader.propose_conf_change("promote", "n4")


def test_report_unreachable_turns_streaming_back_into_probing():
    c = cluster()
    c.elect("n1")
    assert c.core("n1").status()["progress"]["n2"]["state"] == "replicate"
    c.core("n1").report_unreachable("n2")
    assert c.core("n1").status()["progress"]["n2"]["state"] == "probe"
    c.propose("n1", b"x")  # one probing append, answered: streaming again
    assert c.core("n1").status()["progress"]["n2"]["state"] == "replicate"
    assert c.core("n2").commit_index == 2


def test_7_compacting_at_the_snapshot_index_only_records_its_data():
    """What the actor does after installing a leader's snapshot, or after restarting from a bare meta."""
    core = RaftCore(RaftConfig("a"), hard_state=HardState(1, None, 5), snapshot=SnapshotMeta(5, 1, ("a", "b")),
                    entries=[], voters=())
    snapshot = core.compact(5, b"state@5")
    assert (snapshot.meta, snapshot.data) == (SnapshotMeta(5, 1, ("a", "b"), ()), b"state@5")
    assert core.first_index == 6 and core.applied_index == 5

"""A member that cannot write its log: the core hands a failed Ready out again, storage keeps what it
had, and the pure decisions of actors/raft/diskfull.py."""

import sqlite3

import pytest

from actors.raft.core import Entry, HardState, RaftConfig, RaftCore
from actors.raft.diskfull import WRITE_ERRORS, DiskState, transfer_target
from actors.raft.storage import RaftStorage

E = Entry


def leader() -> RaftCore:
    core = RaftCore(RaftConfig("a", seed=1), hard_state=None, snapshot=None, entries=[], voters=("a",))
    core.campaign()
    while core.has_ready():
        core.advance(core.ready())
    return core


def test_a_ready_that_could_not_be_persisted_is_handed_out_again_and_commits_only_once_written():
    core = leader()
    core.propose(b"x")
    failed = core.ready()
    assert failed.entries == [E(2, 1, "normal", b"x")]
    core.persist_failed(failed)
    assert core.commit_index == 1  # its own unwritten entry does not count
    again = core.ready()
    assert again.entries == failed.entries
    core.advance(again)
    assert core.commit_index == 2
    assert core.ready().committed_entries == [E(2, 1, "normal", b"x")]


def test_committed_entries_of_a_failed_ready_count_as_applied():
    core = leader()
    core.propose(b"x")
    core.advance(core.ready())  # persisted: now committed
    ready = core.ready()
    assert ready.committed_entries == [E(2, 1, "normal", b"x")]
    core.persist_failed(ready)  # the commit index could not be written, the entry was applied
    assert core.applied_index == 2
    assert core.ready().committed_entries == []


@pytest.fixture
def capped(tmp_path):
    """A storage whose database may not grow past its current size: SQLite says "database or disk is full"
    as on a full file system (a stand-in for the disk in this unit test; the real one is in
    tests/integration/test_faults.py)."""
    storage = RaftStorage(tmp_path / "raft.db")
    storage.save(HardState(1, "a", 1), [E(1, 1, "noop")])
    storage._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = storage._db.execute("PRAGMA page_count").fetchone()[0]
    storage._db.execute(f"PRAGMA max_page_count={pages}")
    return storage


def test_a_full_database_refuses_the_write_and_keeps_what_it_had(capped, tmp_path):
    with pytest.raises(WRITE_ERRORS, match="full"):
        capped.save(HardState(1, "a", 2), [E(2, 1, "normal", b"y" * 100_000)])
    assert capped.load() == (HardState(1, "a", 1), None, [E(1, 1, "noop")])
    capped._db.execute("PRAGMA max_page_count=1073741823")  # space returns
    capped.save(HardState(1, "a", 2), [E(2, 1, "normal", b"y")])
    assert RaftStorage(tmp_path / "raft.db").load()[2] == [E(1, 1, "noop"), E(2, 1, "normal", b"y")]


def test_disk_state_logs_once_per_run_of_failures():
    disk = DiskState()
    assert disk.failed(sqlite3.OperationalError("database or disk is full")) is True
    assert disk.failed(OSError(28, "No space left on device")) is False
    assert disk.ongoing and "No space left" in disk.error
    assert "cannot write its Raft log" in disk.refusal("n1", "/state/raft")
    assert disk.succeeded() is True and not disk.ongoing
    assert disk.succeeded() is False


def test_a_leader_that_cannot_write_hands_over_to_a_reachable_voter_only():
    assert transfer_target("a", ("a", "b", "c"), {"a", "c"}) == "c"
    assert transfer_target("a", ("a", "b", "c"), {"a", "b", "c"}) == "b"
    assert transfer_target("a", ("a",), {"a"}) is None
    assert transfer_target("a", ("a", "b"), {"a"}) is None

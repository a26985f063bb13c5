"""Durable Raft storage: round trips, fsync settings, checksums, torn tails, snapshots, compaction."""

import sqlite3

import pytest

from actors.raft.core import Entry, HardState, RaftConfig, RaftCore, Snapshot, SnapshotMeta
from actors.raft.storage import CorruptStorageError, RaftStorage

E = Entry


@pytest.fixture
def path(tmp_path):
    return tmp_path / "raft" / "raft.db"


def reopen(storage: RaftStorage, path) -> RaftStorage:
    storage.close()
    return RaftStorage(path)


def test_a_fresh_store_loads_empty(path):
    assert RaftStorage(path).load() == (None, None, [])


def test_every_commit_is_fsynced_in_wal_mode(path):
    storage = RaftStorage(path)
    assert storage.journal_mode == "wal"
    assert storage.synchronous == 2  # FULL


def test_hard_state_and_entries_round_trip(path):
    storage = RaftStorage(path)
    entries = [E(1, 1, "noop"), E(2, 1, "normal", b"\x00\xffdata"), E(3, 2, "config", b'{"a": 1}')]
    storage.save(HardState(2, "n1", 2), entries)
    storage = reopen(storage, path)
    assert storage.load() == (HardState(2, "n1", 2), None, entries)


def test_a_vote_of_none_round_trips(path):
    storage = RaftStorage(path)
    storage.save(HardState(3, None, 0), [])
    assert reopen(storage, path).load()[0] == HardState(3, None, 0)


def test_entries_overwrite_the_stored_suffix_from_their_first_index(path):
    storage = RaftStorage(path)
    storage.save(None, [E(1, 1), E(2, 1), E(3, 1), E(4, 1)])
    storage.save(HardState(2, None, 1), [E(3, 2, "noop")])
    assert reopen(storage, path).load()[2] == [E(1, 1), E(2, 1), E(3, 2, "noop")]


def test_a_save_is_one_transaction(path):
    storage = RaftStorage(path)
    storage.save(HardState(1, None, 0), [E(1, 1), E(2, 1)])
    with pytest.raises(TypeError):
        storage.save(HardState(9, "x", 0), [E(2, 2), E(3, 2, "normal", 12345)])  # fails after the DELETE
    with pytest.raises(ValueError):
        storage.save(HardState(9, "x", 0), [E(2, 2), E(4, 2)])  # not contiguous
    assert reopen(storage, path).load() == (HardState(1, None, 0), None, [E(1, 1), E(2, 1)])


def test_an_empty_save_writes_nothing(path):
    storage = RaftStorage(path)
    storage.save(None, [], None)
    assert storage.load() == (None, None, [])


def test_a_corrupted_last_entry_is_a_torn_tail_and_is_dropped(path):
    storage = RaftStorage(path)
    storage.save(HardState(1, None, 2), [E(1, 1), E(2, 1), E(3, 1, "normal", b"tail")])
    storage.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET data = ? WHERE idx = 3", (b"tai\x00",))
    storage = RaftStorage(path)
    assert storage.load() == (HardState(1, None, 2), None, [E(1, 1), E(2, 1)])
    assert reopen(storage, path).load()[2] == [E(1, 1), E(2, 1)]  # the bad tail was deleted for good


def test_a_torn_tail_of_several_entries_is_dropped_and_commit_capped(path):
    storage = RaftStorage(path)
    storage.save(HardState(1, None, 4), [E(i, 1) for i in range(1, 6)])
    storage.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET crc = crc + 1 WHERE idx >= 4")
    hard_state, _, entries = RaftStorage(path).load()
    assert [e.index for e in entries] == [1, 2, 3] and hard_state.commit == 3


@pytest.mark.parametrize("hard_state, entries, damage, complaint", [
    (None, [E(1, 1), E(2, 1, "normal", b"x"), E(3, 1)], "UPDATE entries SET term = 7 WHERE idx = 2", "entry 2"),
    (None, [E(1, 1), E(2, 1), E(3, 1)], "DELETE FROM entries WHERE idx = 2", "gap"),
    (HardState(4, "n2", 0), [], "UPDATE hard_state SET vote = 'n3'", "hard state"),
], ids=["corrupted middle entry", "gap in the log", "corrupted hard state"])
def test_damage_before_the_tail_raises(path, hard_state, entries, damage, complaint):
    storage = RaftStorage(path)
    storage.save(hard_state, entries)
    storage.close()
    with sqlite3.connect(path) as db:
        db.execute(damage)
    with pytest.raises(CorruptStorageError, match=complaint):
        RaftStorage(path).load()


def test_a_received_snapshot_replaces_the_whole_log(path):
    storage = RaftStorage(path)
    storage.save(HardState(1, None, 1), [E(1, 1), E(2, 1), E(3, 1)])
    snapshot = Snapshot(SnapshotMeta(10, 2, ("n1", "n2"), ("n3",)), b"state")
    storage.save(HardState(2, None, 10), [E(11, 2)], snapshot)
    assert reopen(storage, path).load() == (HardState(2, None, 10), snapshot, [E(11, 2)])


def test_a_local_snapshot_then_compaction_keeps_later_entries(path):
    storage = RaftStorage(path)
    storage.save(HardState(1, None, 4), [E(i, 1) for i in range(1, 6)])
    snapshot = Snapshot(SnapshotMeta(3, 1, ("n1",)), b"up to 3")
    storage.save_snapshot(snapshot)
    assert storage.load()[2] == [E(4, 1), E(5, 1)]  # entries the snapshot covers are not served
    storage.compact(3)
    storage.save_snapshot(Snapshot(SnapshotMeta(2, 1, ("n1",)), b"older: ignored"))
    storage = reopen(storage, path)
    assert storage.load() == (HardState(1, None, 4), snapshot, [E(4, 1), E(5, 1)])
    assert sqlite3.connect(path).execute("SELECT min(idx) FROM entries").fetchone()[0] == 4


def test_compaction_needs_a_snapshot_covering_it(path):
    storage = RaftStorage(path)
    storage.save(None, [E(1, 1), E(2, 1)])
    with pytest.raises(ValueError):
        storage.compact(1)


def test_a_corrupted_snapshot_raises(path):
    storage = RaftStorage(path)
    storage.save_snapshot(Snapshot(SnapshotMeta(3, 1, ("n1",)), b"state"))
    storage.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE snapshot SET data = ?", (b"stale",))
    with pytest.raises(CorruptStorageError, match="snapshot"):
        RaftStorage(path).load()


def test_a_core_restarts_from_storage_after_a_snapshot(path):
    """The actor's path: single voter, propose, compact, restart from disk, carry on."""
    storage = RaftStorage(path)
    core = RaftCore(RaftConfig("n1", seed=1), hard_state=None, snapshot=None, entries=[], voters=("n1",))
    core.campaign()
    for data in (b"a", b"b", None, b"c"):
        if data is None:
            snapshot = core.compact(core.applied_index, b"state@3")
            storage.save_snapshot(snapshot)
            storage.compact(snapshot.meta.index)
            continue
        core.propose(data)
        while core.has_ready():
            ready = core.ready()
            storage.save(ready.hard_state, ready.entries, ready.snapshot)
            core.advance(ready)
    storage = reopen(storage, path)
    hard_state, snapshot, entries = storage.load()
    assert snapshot.meta.index == 3 and [e.data for e in entries] == [b"c"] and hard_state.commit == 4
    restarted = RaftCore(RaftConfig("n1", seed=2), hard_state=hard_state, snapshot=snapshot, entries=entries,
                         voters=("n1",))
    assert restarted.applied_index == 3 and restarted.commit_index == 4
    assert [e.data for e in restarted.ready().committed_entries] == [b"c"]


def test_a_snapshot_lives_in_its_own_0600_file_and_a_damaged_or_lost_file_raises(path):
    storage = RaftStorage(path)
    storage.save(HardState(1, None, 5), [E(i, 1) for i in range(1, 6)])
    storage.save_snapshot(Snapshot(SnapshotMeta(3, 1, ("n1",)), b"up to 3"))
    storage.save_snapshot(Snapshot(SnapshotMeta(5, 1, ("n1",)), b"up to 5"))
    (path.parent / "snapshot-00000000000000000009.123-4.tmp").write_bytes(b"unfinished")  # a crash mid-write
    storage = reopen(storage, path)
    assert storage.load()[1].data == b"up to 5"
    files = sorted(p.name for p in path.parent.glob("snapshot-*"))
    assert files == ["snapshot-00000000000000000005"]  # the older one and the unfinished one are gone
    assert (path.parent / files[0]).stat().st_mode & 0o777 == 0o600
    (path.parent / files[0]).write_bytes(b"up to 6")
    with pytest.raises(CorruptStorageError, match="checksum"):
        reopen(storage, path).load()
    (path.parent / files[0]).unlink()
    with pytest.raises(CorruptStorageError, match="lost its file"):
        RaftStorage(path).load()


def test_a_snapshot_file_write_failing_leaves_nothing_behind_with_a_faked_full_disk(path, monkeypatch):
    import errno
    import os

    storage = RaftStorage(path)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        storage.write_snapshot_file(Snapshot(SnapshotMeta(3, 1, ("n1",)), b"state"))
    assert not list(path.parent.glob("snapshot-*"))


def test_bytes_written_counts_what_the_write_ahead_log_grew_by(path):
    storage = RaftStorage(path)
    assert storage.bytes_written == 0
    storage.save(HardState(1, None, 0), [E(1, 1, "normal", b"x" * 100_000)])
    storage.save(HardState(1, None, 1), [])
    wal_bytes = (path.parent / (path.name + "-wal")).stat().st_size
    assert 100_000 < storage.bytes_written <= wal_bytes + 8192  # an estimate close to the log's real growth

"""Durable Raft storage: hard state and log entries in one SQLite file, the latest snapshot beside it.

Durability: the database runs in WAL mode with ``PRAGMA synchronous=FULL``,
so every transaction is fsynced to the WAL before :meth:`RaftStorage.save`
(or any other writing method) returns; the containing directory is fsynced
once when the file is created. Each call is one transaction: after a crash
the store holds either all of a call's writes or none of them.

Snapshots: the data of the latest snapshot is a file of its own,
``snapshot-INDEX`` beside the database (mode 0600), written to a temporary
name, fsynced, renamed into place and the directory fsynced, *before* the
database row that names it (meta and checksum, empty data) is committed. So
a crash leaves either the old row and old file (plus maybe an unreferenced
new file, deleted at the next load) or the new row and its complete file.
:meth:`RaftStorage.write_snapshot_file` touches no database state, so the
member runs it in a thread while its loop keeps working. A row with its data
inline (the format before snapshot files) still loads.

Integrity: every entry, the hard state and the snapshot carry a CRC32 of
their contents. At :meth:`RaftStorage.load`, bad entries at the end of the
log (a torn or corrupted tail: nothing valid follows them) are deleted and
never served; a bad entry with valid entries after it, a gap in the log, a
bad hard state or a bad snapshot raise :class:`CorruptStorageError`, because
dropping them could silently lose acknowledged data or a vote.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import threading
import zlib
from pathlib import Path

from actors.raft.values import ENTRY_KINDS, Entry, HardState, Snapshot, SnapshotMeta

SCHEMA = """
CREATE TABLE IF NOT EXISTS hard_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL,
    crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL, voters TEXT NOT NULL,
    learners TEXT NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
"""


SNAPSHOT_PREFIX = "snapshot-"


class CorruptStorageError(Exception):
    """The stored Raft state is damaged in a way that cannot be repaired safely."""


def entry_crc(entry: Entry) -> int:
    """CRC32 over an entry's index, term, kind and data."""
    return zlib.crc32(struct.pack(">QQ", entry.index, entry.term) + entry.kind.encode() + b"\0" + entry.data)


def hard_state_crc(hard_state: HardState) -> int:
    """CRC32 over a hard state (a vote of None differs from any string)."""
    vote = b"\1" if hard_state.vote is None else b"\0" + hard_state.vote.encode()
    return zlib.crc32(struct.pack(">QQ", hard_state.term, hard_state.commit) + vote)


def snapshot_crc(snapshot: Snapshot) -> int:
    """CRC32 over a snapshot's meta and data."""
    meta = snapshot.meta
    members = "\0".join(meta.voters).encode() + b"\1" + "\0".join(meta.learners).encode()
    # Continued over the data rather than over one concatenation: no copy of a large snapshot, and
    # zlib releases the GIL while it reads the data (the member computes this in a thread).
    return zlib.crc32(snapshot.data, zlib.crc32(struct.pack(">QQ", meta.index, meta.term) + members + b"\1"))


class RaftStorage:
    """The Raft state of one member, in the SQLite file at ``path`` (created if missing)."""

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        self._directory = path.parent
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise CorruptStorageError(f"cannot put {path} in WAL mode (got {mode})")
        self._db.execute("PRAGMA synchronous=FULL")
        # No automatic checkpoints: one would run inside whichever commit crossed the threshold, on
        # the member's loop, copying megabytes; :meth:`checkpoint` runs them from a thread instead.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._page_bytes = self._db.execute("PRAGMA page_size").fetchone()[0]
        # What the write-ahead log grew by since the database was opened, estimated: a page per transaction
        # plus the entries' data. The member checkpoints when it has grown enough (CHECKPOINT_BYTES).
        self.bytes_written = 0
        self._path = path
        self._checkpointer: sqlite3.Connection | None = None
        self._db.executescript(SCHEMA)
        self._durable_term_vote: tuple[int, str | None] | None = None  # as last fsynced
        if created:
            _fsync_directory(path.parent)

    @property
    def synchronous(self) -> int:
        """SQLite's synchronous level (2 is FULL: every commit is fsynced)."""
        return self._db.execute("PRAGMA synchronous").fetchone()[0]

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode ("wal")."""
        return self._db.execute("PRAGMA journal_mode").fetchone()[0]

    def load(self) -> tuple[HardState | None, Snapshot | None, list[Entry]]:
        """The hard state, the latest snapshot and the entries after it, checked.

        A corrupted tail is deleted (durably) and not returned; the hard state's
        commit index is capped at what remains. ``CorruptStorageError`` for damage
        that cannot be dropped safely.
        """
        snapshot = self._load_snapshot()
        offset = snapshot.meta.index if snapshot else 0
        entries = self._load_entries(offset)
        hard_state = self._load_hard_state()
        self._durable_term_vote = (hard_state.term, hard_state.vote) if hard_state is not None else None
        if hard_state is not None:
            last_index = entries[-1].index if entries else offset
            hard_state.commit = min(hard_state.commit, last_index)
        return hard_state, snapshot, entries

    def _load_hard_state(self) -> HardState | None:
        row = self._db.execute("SELECT term, vote, commit_index, crc FROM hard_state").fetchone()
        if row is None:
            return None
        hard_state = HardState(row[0], row[1], row[2])
        if hard_state_crc(hard_state) != row[3]:
            raise CorruptStorageError("the hard state (term, vote, commit) fails its checksum")
        return hard_state

    def _load_snapshot(self) -> Snapshot | None:
        row = self._db.execute("SELECT idx, term, voters, learners, data, crc FROM snapshot").fetchone()
        self._remove_snapshot_files(keep=row[0] if row is not None else None)
        if row is None:
            return None
        data = bytes(row[4])
        if not data:
            try:
                data = self._snapshot_path(row[0]).read_bytes()
            except FileNotFoundError:
                raise CorruptStorageError(f"the snapshot at index {row[0]} has lost its file") from None
        snapshot = Snapshot(SnapshotMeta(row[0], row[1], _split(row[2]), _split(row[3])), data)
        if snapshot_crc(snapshot) != row[5]:
            raise CorruptStorageError(f"the snapshot at index {row[0]} fails its checksum")
        return snapshot

    def _load_entries(self, offset: int) -> list[Entry]:
        entries, first_bad = [], None
        expected = offset + 1
        rows = self._db.execute("SELECT idx, term, kind, data, crc FROM entries WHERE idx > ? ORDER BY idx", (offset,))
        for index, term, kind, data, crc in rows:
            if index != expected:
                raise CorruptStorageError(f"the log has a gap: entry {index} follows {expected - 1}")
            expected += 1
            entry = Entry(index, term, kind, bytes(data)) if kind in ENTRY_KINDS else None
            good = entry is not None and entry_crc(entry) == crc
            if good and first_bad is not None:
                raise CorruptStorageError(f"log entry {first_bad} fails its checksum but later entries are intact")
            if good:
                entries.append(entry)
            elif first_bad is None:
                first_bad = index
        if first_bad is not None:
            with self._transaction():
                self._db.execute("DELETE FROM entries WHERE idx >= ?", (first_bad,))
        return entries

    def save(self, hard_state: HardState | None, entries: list[Entry], snapshot: Snapshot | None = None,
             snapshot_crc: int | None = None) -> None:
        """Persist one Ready in one transaction: a received ``snapshot`` (replacing the snapshot
        and the whole log), then ``entries`` (replacing any stored entries from the first one's index on),
        then ``hard_state``. Does nothing when all three are empty.

        The transaction is fsynced when it holds a snapshot, entries, or a new term or vote. A change of
        the commit index alone is written without an fsync (it survives a crash of the process, and
        Raft recovers a commit index lost with the machine from its peers), as etcd does.
        ``snapshot_crc`` says :meth:`write_snapshot_file` has written the snapshot's file already."""
        if hard_state is None and not entries and snapshot is None:
            return
        _check_contiguous(entries)
        term_vote = (hard_state.term, hard_state.vote) if hard_state is not None else self._durable_term_vote
        must_sync = snapshot is not None or bool(entries) or term_vote != self._durable_term_vote
        if not must_sync:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._write_ready(hard_state, entries, snapshot, snapshot_crc)
        finally:
            if not must_sync:
                self._db.execute("PRAGMA synchronous=FULL")
        self._durable_term_vote = term_vote
        self.bytes_written += self._page_bytes + sum(len(entry.data) for entry in entries)

    def _write_ready(self, hard_state: HardState | None, entries: list[Entry], snapshot: Snapshot | None,
                     crc: int | None) -> None:
        if snapshot is not None and crc is None:
            crc = self.write_snapshot_file(snapshot)
        with self._transaction():
            if snapshot is not None:
                self._write_snapshot(snapshot.meta, crc)
                self._db.execute("DELETE FROM entries")
            if entries:
                self._db.execute("DELETE FROM entries WHERE idx >= ?", (entries[0].index,))
                self._db.executemany("INSERT INTO entries (idx, term, kind, data, crc) VALUES (?, ?, ?, ?, ?)",
                                     [(e.index, e.term, e.kind, e.data, entry_crc(e)) for e in entries])
            if hard_state is not None:
                self._db.execute("INSERT OR REPLACE INTO hard_state (id, term, vote, commit_index, crc) "
                                 "VALUES (1, ?, ?, ?, ?)",
                                 (hard_state.term, hard_state.vote, hard_state.commit, hard_state_crc(hard_state)))
        if snapshot is not None:
            self._remove_snapshot_files(keep=snapshot.meta.index, below_only=True)

    def write_snapshot_file(self, snapshot: Snapshot) -> int:
        """Write ``snapshot``'s data durably to its own file (mode 0600) and return the checksum to
        record with :meth:`save_snapshot`. Uses no database state: safe to run in another thread."""
        final = self._snapshot_path(snapshot.meta.index)
        temporary = final.with_name(f"{final.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                view = memoryview(snapshot.data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk: give the space back at once
            raise
        os.replace(temporary, final)
        _fsync_directory(self._directory)
        return snapshot_crc(snapshot)

    def save_snapshot(self, snapshot: Snapshot, crc: int | None = None) -> None:
        """Persist a snapshot the application took (from ``RaftCore.compact``), keeping the log; an
        older snapshot than the stored one is ignored. ``crc`` says :meth:`write_snapshot_file` has
        written its data already (without it, this writes it). Follow with :meth:`compact`."""
        if crc is None:
            crc = self.write_snapshot_file(snapshot)
        with self._transaction():
            row = self._db.execute("SELECT idx FROM snapshot").fetchone()
            newer = row is None or row[0] < snapshot.meta.index
            if newer:
                self._write_snapshot(snapshot.meta, crc)
        if newer:
            self._remove_snapshot_files(keep=snapshot.meta.index, below_only=True)

    def compact(self, index: int) -> None:
        """Delete the entries up to ``index``; a stored snapshot must cover it (``ValueError`` if not).

        Written without an fsync: losing the deletion in a crash only leaves entries the snapshot
        covers, which :meth:`load` skips (and the next compaction deletes)."""
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._transaction():
                row = self._db.execute("SELECT idx FROM snapshot").fetchone()
                if row is None or row[0] < index:
                    raise ValueError(f"no stored snapshot covers index {index}")
                self._db.execute("DELETE FROM entries WHERE idx <= ?", (index,))
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    def checkpoint(self) -> None:
        """Copy the write-ahead log's committed pages into the database file, on a connection of its
        own: a passive checkpoint, which never waits for or blocks a writer, so the member runs it in a
        thread while it goes on saving. Nothing durable depends on it (the WAL is durable already)."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Close the database (everything saved is already durable)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()

    def _write_snapshot(self, meta: SnapshotMeta, crc: int) -> None:
        """The row naming the snapshot file (its data column empty)."""
        self._db.execute("INSERT OR REPLACE INTO snapshot (id, idx, term, voters, learners, data, crc) "
                         "VALUES (1, ?, ?, ?, ?, ?, ?)",
                         (meta.index, meta.term, "\n".join(meta.voters), "\n".join(meta.learners), b"", crc))

    def _snapshot_path(self, index: int) -> Path:
        return self._directory / f"{SNAPSHOT_PREFIX}{index:020d}"

    def _remove_snapshot_files(self, keep: int | None, below_only: bool = False) -> None:
        """Delete snapshot files (and unfinished temporary ones) other than ``keep``'s; with
        ``below_only``, only those of older snapshots (a newer one may be being written)."""
        for path in self._directory.glob(SNAPSHOT_PREFIX + "*"):
            index = path.name[len(SNAPSHOT_PREFIX):]
            if index.isdigit() and (int(index) == keep or (below_only and keep is not None and int(index) > keep)):
                continue
            if below_only and not index.isdigit():
                continue  # a temporary file another thread may still be writing
            path.unlink(missing_ok=True)

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, error_type, error, traceback):
        try:
            if error_type is None:
                self._db.execute("COMMIT")
        finally:
            if self._db.in_transaction:  # a failed statement or COMMIT (a full disk); SQLite may have rolled back
                self._db.execute("ROLLBACK")
        return False


def _check_contiguous(entries: list[Entry]) -> None:
    for before, after in zip(entries, entries[1:]):
        if after.index != before.index + 1:
            raise ValueError("entries to save must have consecutive indexes")


def _split(members: str) -> tuple[str, ...]:
    return tuple(members.split("\n")) if members else ()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Store snapshots of any size, taken, saved and read without stalling the Raft loop.

A snapshot's data is the store's records (:mod:`actors.common.records`),
each encoded with msgpack, one after another: a header ``{"index": N}``, then
``[table, object]`` per object. Unlike one msgpack map holding the whole
store, it can be encoded and decoded a slice at a time, with the event loop
free in between, and no part of it is near the codec's message limit.

:class:`Compactor` takes the member's snapshots: from a shallow copy of the
store (consistent because committed objects are never mutated), encoded in
slices on the loop, written to its file from a thread, then recorded in the
database and the log compacted, so that the loop never stops for long
whatever the size of the store (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Callable, Iterator

import msgpack

from actors.common.records import records, snapshot_of
from actors.raft.crashpoints import CrashPoints
from actors.raft.storage import RaftStorage
from actors.raft.store import Store
from transport import codec
from transport.limits import PAGE_BYTES

SLICE_BYTES = PAGE_BYTES  # encoded or decoded between two yields to the event loop
CHECKPOINT_SECONDS = 1.0  # how often the member looks whether the write-ahead log needs a checkpoint
# A checkpoint (from a thread) once the log grew by this much: SQLite's own default of 1000 pages. Each
# one fsyncs the database file, competing with the log's own fsyncs, so not more often than needed.
CHECKPOINT_BYTES = 4 * 1024 * 1024
RETRY_SECONDS = 10.0  # after a failed snapshot (a full disk), wait this long before encoding the store again


def _encoded(snapshot: dict) -> Iterator[bytes]:
    for record in records(snapshot):
        yield msgpack.packb(record, use_bin_type=True)


def encode_now(snapshot: dict) -> bytes:
    """``snapshot`` (``{"index", "tables"}``) as snapshot data, in one go (for offline tools)."""
    return b"".join(_encoded(snapshot))


async def encode(snapshot: dict) -> bytes:
    """``snapshot`` as snapshot data, yielding to the event loop after every SLICE_BYTES."""
    parts, since_yield = [], 0
    for part in _encoded(snapshot):
        parts.append(part)
        since_yield += len(part)
        if since_yield >= SLICE_BYTES:
            await asyncio.sleep(0)
            since_yield = 0
    return b"".join(parts)


def _decoded(data: bytes) -> Iterator[tuple[int, object]]:
    """``(offset after it, record)`` for each record in ``data``; a snapshot in the older one-map
    format gives its records too. CodecError (a ValueError) for damaged data."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    try:
        for number, value in enumerate(unpacker):
            codec.check_depth(value)
            if number == 0 and isinstance(value, dict) and "tables" in value:
                yield from ((len(data), record) for record in records(value))
                return
            yield unpacker.tell(), value
    except (msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        raise codec.CodecError(f"invalid snapshot data: {exc}") from exc


def decode_now(data: bytes) -> dict:
    """The snapshot ``{"index", "tables"}`` in ``data``, in one go (at startup, offline tools).
    CodecError (a ValueError) for damaged data."""
    return snapshot_of(record for _, record in _decoded(data))


async def decode(data: bytes) -> dict:
    """The snapshot in ``data``, yielding to the event loop after every SLICE_BYTES of it."""
    items, yielded_at = [], 0
    for offset, item in _decoded(data):
        items.append(item)
        if offset - yielded_at >= SLICE_BYTES:
            await asyncio.sleep(0)
            yielded_at = offset
    return snapshot_of(items)


class Compactor:
    """Takes a snapshot of the store every ``every`` applied entries, one at a time, and compacts
    the log up to it; the work runs in a task of its own, in slices and in a thread. :meth:`run`
    checkpoints the database from a thread.

    ``index`` is the index of the latest snapshot, taken or installed (the
    member sets it when it installs a leader's snapshot).
    """

    def __init__(self, core, storage: RaftStorage, store: Store, crash: CrashPoints, log, every: int, index: int,
                 hold: Callable[[], bool] = lambda: False):
        self._core = core
        self._hold = hold
        self._storage = storage
        self._store = store
        self._crash = crash
        self._log = log
        self._every = every
        self.index = index
        self._task: asyncio.Task | None = None
        self._not_before = 0.0  # monotonic time before which no snapshot is started (after a failure)

    async def run(self) -> None:
        """Checkpoint the database's write-ahead log whenever it grew by CHECKPOINT_BYTES (looking every
        CHECKPOINT_SECONDS), until cancelled."""
        checkpointed_at = 0
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            if self._storage.bytes_written - checkpointed_at < CHECKPOINT_BYTES:
                continue
            checkpointed_at = self._storage.bytes_written
            try:
                await asyncio.to_thread(self._storage.checkpoint)
            except (sqlite3.Error, OSError) as exc:  # the WAL keeps everything; the next one may do better
                self._log.warning("checkpoint failed", error=str(exc))

    def maybe_start(self) -> None:
        """Start taking a snapshot when ``every`` entries were applied since the last, none is under way,
        ``hold()`` (a follower still catching up from the log) is false and the last failure, if any,
        was RETRY_SECONDS ago."""
        if self._store.index - self.index < self._every or (self._task is not None and not self._task.done()):
            return
        if self._hold() or time.monotonic() < self._not_before:
            return
        self._task = asyncio.ensure_future(self._take(self._store.snapshot()))

    async def _take(self, snapshot: dict) -> None:
        try:
            data = await encode(snapshot)
            if snapshot["index"] < max(self.index + 1, self._core.first_index):
                return  # a leader's snapshot was installed (or is being) meanwhile: it covers this one
            taken = self._core.compact(snapshot["index"], data)
            crc = await asyncio.to_thread(self._storage.write_snapshot_file, taken)
            self._storage.save_snapshot(taken, crc)
            self._crash.reached("snapshot_saved")
            self._storage.compact(taken.meta.index)
        except Exception as exc:  # a full disk, say: the log stays as it was, the next attempt may do better
            self._log.error("snapshot failed", index=snapshot["index"], error=f"{type(exc).__name__}: {exc}",
                            retry_in=RETRY_SECONDS)
            self._not_before = time.monotonic() + RETRY_SECONDS
            return
        self.index = max(self.index, taken.meta.index)
        self._log.info("log compacted", index=taken.meta.index, bytes=len(data))

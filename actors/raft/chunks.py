"""Raft messages too big for one frame: split into chunk records, and reassembled on arrival.

Pure code: no sockets and no clock (the caller passes ``now``). The peer links
use it for messages whose encoding is larger than one chunk, in practice
snapshots of a large store, which the codec's per-frame limit
(:data:`transport.codec.MAX_MESSAGE_BYTES`) would otherwise make unsendable.

A chunk record is a map of exactly four fields::

    {"transfer": str,   # the transfer's id, unique per message sent (1..64 characters)
     "seq": int,        # this chunk's position, 0 <= seq < total
     "total": int,      # how many chunks the transfer has, >= 1
     "data": bytes}     # this chunk's slice of the message's bytes (empty only when total == 1)

Whole Raft messages (:meth:`actors.raft.values.Message.to_dict`) never have a
``"transfer"`` field, which is how :func:`is_chunk` tells the two apart.

:class:`Reassembler` keeps at most one unfinished transfer per sender, and
tolerates duplicates, reordering within a transfer, a new transfer replacing
an unfinished one, transfers that never finish (:meth:`Reassembler.expire`)
and senders that send too much (a per-sender byte bound). Malformed records
raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import msgpack

from transport import codec

FIELDS = frozenset({"transfer", "seq", "total", "data"})
MAX_TRANSFER_ID = 64
# Ids of finished or dropped transfers remembered per sender, so that late duplicates of their
# chunks are ignored instead of starting (and then dropping) a new partial transfer.
RECENT_TRANSFERS = 16

DropHandler = Callable[[bytes, str, str], None]


def pack(value) -> bytes:
    """``value`` as msgpack with the codec's options but without its size limit.

    For a whole message that may then be split: only its chunks, each far
    below the limit, cross a socket. Raises :class:`transport.codec.CodecError`
    if ``value`` cannot be encoded.
    """
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise codec.CodecError(f"cannot encode message: {exc}") from exc


def unpack(data: bytes, max_bytes: int):
    """Decode a reassembled message: :func:`transport.codec.decode` with the size limit raised to
    ``max_bytes`` (the nesting limit still applies). Raises CodecError (a ValueError)."""
    return codec.decode(data, max_bytes=max_bytes)


def split(message_bytes: bytes, transfer_id: str, chunk_size: int) -> list[dict]:
    """Chunk records for ``message_bytes``, in order, each with at most ``chunk_size`` bytes of data.

    Empty input gives one record with empty data. ``ValueError`` for a bad id or chunk size.
    """
    _check_transfer_id(transfer_id)
    if not _is_int(chunk_size) or chunk_size < 1:
        raise ValueError(f"chunk size must be a positive integer, not {chunk_size!r}")
    if not isinstance(message_bytes, (bytes, bytearray, memoryview)):
        raise ValueError("only bytes can be split into chunks")
    data = bytes(message_bytes)
    total = max(1, -(-len(data) // chunk_size))
    return [{"transfer": transfer_id, "seq": seq, "total": total,
             "data": data[seq * chunk_size:(seq + 1) * chunk_size]} for seq in range(total)]


def frames(message_bytes: bytes, transfer_id: str, chunk_size: int) -> list[bytes]:
    """What to put on the wire for an encoded message: the message itself when it fits in
    ``chunk_size`` bytes, otherwise its chunk records, each encoded with the codec."""
    if len(message_bytes) <= chunk_size:
        return [bytes(message_bytes)]
    return [codec.encode(record) for record in split(message_bytes, transfer_id, chunk_size)]


def is_chunk(value) -> bool:
    """Whether a decoded frame is meant as a chunk record (it may still be malformed)."""
    return isinstance(value, dict) and "transfer" in value


def check_record(record) -> tuple[str, int, int, bytes]:
    """``(transfer, seq, total, data)`` of a well-formed chunk record; ``ValueError`` otherwise."""
    if not isinstance(record, dict):
        raise ValueError("a chunk record is a map")
    keys = set(record)
    if keys != FIELDS:
        missing, extra = sorted(FIELDS - keys), sorted(map(repr, keys - FIELDS))
        raise ValueError(f"chunk record fields wrong (missing {missing}, unexpected {extra})")
    transfer, seq, total, data = record["transfer"], record["seq"], record["total"], record["data"]
    _check_transfer_id(transfer)
    if not _is_int(total) or total < 1:
        raise ValueError(f"chunk total must be a positive integer, not {total!r}")
    if not _is_int(seq) or not 0 <= seq < total:
        raise ValueError(f"chunk seq must be an integer in [0, {total}), not {seq!r}")
    if not isinstance(data, bytes):
        raise ValueError("chunk data must be bytes")
    if not data and total > 1:
        raise ValueError("chunk data may be empty only in a transfer of one chunk")
    return transfer, seq, total, data


@dataclass
class _Transfer:
    transfer: str
    total: int
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


@dataclass
class _Sender:
    current: _Transfer | None = None
    closed: dict[str, float] = field(default_factory=dict)  # transfer id -> when it was closed


class Reassembler:
    """Rebuilds chunked messages, one unfinished transfer per sender at a time.

    ``max_bytes`` bounds the chunk data buffered for one sender (so one
    transfer); a transfer that would exceed it is dropped. ``timeout`` is how
    long (in the caller's clock) a transfer may stay incomplete after its first
    chunk before :meth:`expire` drops it. Every drop is reported to
    ``on_drop(sender, transfer_id, reason)`` with reason "superseded",
    "expired", "too_large" or "inconsistent".
    """

    def __init__(self, max_bytes: int, timeout: float, on_drop: DropHandler | None = None):
        if not _is_int(max_bytes) or max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._on_drop = on_drop
        self._senders: dict[bytes, _Sender] = {}

    def add(self, sender: bytes, record, now: float) -> bytes | None:
        """Take one chunk record from ``sender``; the whole message's bytes when it was the last one
        missing, else None (also for duplicates and chunks of transfers already finished or dropped).

        ``ValueError`` for a malformed record, or one whose total disagrees with
        earlier chunks of its transfer (that transfer is then dropped too).
        """
        transfer, seq, total, data = check_record(record)
        state = self._senders.setdefault(sender, _Sender())
        if transfer in state.closed:
            return None
        current = state.current
        if current is not None and current.transfer != transfer:
            self._drop(sender, state, "superseded", now)
            current = None
        if current is None:
            current = state.current = _Transfer(transfer, total, now)
            if total > self.max_bytes:  # every chunk but a lone one holds at least a byte
                self._drop(sender, state, "too_large", now)
                return None
        if total != current.total:
            self._drop(sender, state, "inconsistent", now)
            raise ValueError(f"chunk total {total} disagrees with {current.total} in transfer {transfer!r}")
        if seq in current.parts:
            return None
        if current.size + len(data) > self.max_bytes:
            self._drop(sender, state, "too_large", now)
            return None
        current.parts[seq] = data
        current.size += len(data)
        if len(current.parts) < total:
            return None
        message = b"".join(current.parts[index] for index in range(total))
        self._close(state, now)
        return message

    def expire(self, now: float) -> int:
        """Drop every transfer incomplete for longer than the timeout, and forget old closed ids;
        the number of transfers dropped."""
        expired = 0
        for sender in list(self._senders):
            state = self._senders[sender]
            if state.current is not None and now - state.current.started > self.timeout:
                self._drop(sender, state, "expired", now)
                expired += 1
            for transfer, closed_at in list(state.closed.items()):
                if now - closed_at > self.timeout:
                    del state.closed[transfer]
            if state.current is None and not state.closed:
                del self._senders[sender]
        return expired

    def buffered(self, sender: bytes | None = None) -> int:
        """Chunk bytes held for ``sender`` (for every sender when None)."""
        states = self._senders.values() if sender is None else [self._senders.get(sender, _Sender())]
        return sum(state.current.size for state in states if state.current is not None)

    def senders(self) -> int:
        """How many senders anything is kept about (an unfinished transfer or recently closed ids)."""
        return len(self._senders)

    def pending(self, sender: bytes) -> str | None:
        """The id of ``sender``'s unfinished transfer, if any."""
        state = self._senders.get(sender)
        return None if state is None or state.current is None else state.current.transfer

    def _drop(self, sender: bytes, state: _Sender, reason: str, now: float) -> None:
        transfer = state.current.transfer
        self._close(state, now)
        if self._on_drop is not None:
            self._on_drop(sender, transfer, reason)

    @staticmethod
    def _close(state: _Sender, now: float) -> None:
        state.closed[state.current.transfer] = now
        state.current = None
        while len(state.closed) > RECENT_TRANSFERS:
            del state.closed[next(iter(state.closed))]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_transfer_id(transfer) -> None:
    if not isinstance(transfer, str) or not 1 <= len(transfer) <= MAX_TRANSFER_ID:
        raise ValueError(f"a transfer id is a string of 1 to {MAX_TRANSFER_ID} characters")

"""Raft messages between managers: one ROUTER to receive, one DEALER per peer to send.

Sending never blocks: a message to a peer whose queue is full or that has no
address is dropped and counted, which Raft tolerates (it retries by itself).
A received frame that is not a well-formed Raft message, or whose sender id
is not the node of the key that sent it (ZeroMQ's User-Id), is dropped,
counted and logged; the member keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Callable

import zmq
from prometheus_client import Counter

from actors.common.actor import ActorContext
from actors.common.hostconfig import ManagerAddress
from actors.raft import chunks
from actors.raft.values import MESSAGE_TYPES, Message
from transport import codec, limits, sockets
from transport.inbox import Inbox

SENT = Counter("shoal_raft_messages_sent_total", "Raft messages sent to peers", ["type"])
DROPPED = Counter("shoal_raft_messages_dropped_total", "Raft messages not sent (no route or full queue)", ["type"])
RECEIVED = Counter("shoal_raft_messages_received_total", "Raft messages received from peers", ["type"])
MALFORMED = Counter("shoal_raft_messages_malformed_total", "Frames on the peer socket that were not Raft messages")
CHUNKS_SENT = Counter("shoal_raft_chunks_sent_total", "Chunks of large Raft messages queued for peers")
CHUNKS_RECEIVED = Counter("shoal_raft_chunks_received_total", "Chunk records received from peers")
TRANSFERS_COMPLETED = Counter("shoal_raft_transfers_completed_total", "Chunked Raft messages fully reassembled")
TRANSFERS_DROPPED = Counter("shoal_raft_transfers_dropped_total", "Chunked Raft messages given up before completion",
                            ["reason"])
# Each type's child of SENT and RECEIVED, looked up once: ``labels()`` on every message costs more than the count.
_SENT = {kind: SENT.labels(kind) for kind in MESSAGE_TYPES}
_RECEIVED = {kind: RECEIVED.labels(kind) for kind in MESSAGE_TYPES}
SEND_HWM = 10000
# An encoded message larger than this travels as chunk records of at most this much data each: far
# below the codec's 16 MiB per-frame limit, and small enough that decoding one chunk is cheap.
CHUNK_BYTES = 1024 * 1024
# The largest message (in practice, store snapshot) sent or reassembled: the bound on what one sender
# may make this member buffer. A receiver holds a transfer about three times over while finishing it
# (chunks, joined bytes, decoded message), so this keeps the worst case near 1.5 GiB.
MAX_TRANSFER_BYTES = 512 * 1024 * 1024
# Seconds a chunked message may stay incomplete before its chunks are dropped. Chunks of one message
# are queued as one multipart ZeroMQ message, so they arrive together; this only clears out the
# leftovers of a sender that broke the protocol.
TRANSFER_TIMEOUT = 60.0


class PeerLinks:
    """The member's sockets to the other managers."""

    def __init__(self, actor: ActorContext, on_message: Callable[[Message], None],
                 sender_matches: Callable[[str, str], bool]):
        """``sender_matches(key, frm)`` says whether a message from node ``frm`` may come with ``key``."""
        self._actor = actor
        self._on_message = on_message
        self._sender_matches = sender_matches
        self._router = actor.serve(zmq.ROUTER, "raft_peer", "manager", limits.RAFT_PEER_FRAME_BYTES)
        # Sending sockets, as plain (not asyncio) sockets over the actor's: they only ever send, never
        # blocking, so the asyncio wrapper's futures and event bookkeeping on every message buy nothing.
        self._dealers: dict[str, zmq.Socket] = {}
        self._owned: dict[str, zmq.Socket] = {}  # the actor's socket under each, closed with the link
        self._addresses: dict[str, ManagerAddress] = {}

    def sync(self, peers: dict[str, ManagerAddress]) -> None:
        """Keep exactly one sending socket per manager in ``peers`` (never to itself): open links to
        new managers, reopen those whose address or key changed, close links to the others."""
        peers = {node_id: peer for node_id, peer in peers.items() if node_id != self._actor.config.node_id}
        for node_id in list(self._dealers):
            if self._addresses.get(node_id) != peers.get(node_id):
                self._dealers.pop(node_id)
                self._owned.pop(node_id).close(linger=0)
                self._addresses.pop(node_id)
        for node_id, peer in peers.items():
            if node_id not in self._dealers:
                sock = self._actor.connect(zmq.DEALER, peer.endpoint("raft_peer"), peer.public_key.encode())
                sock.setsockopt(zmq.SNDHWM, SEND_HWM)
                self._owned[node_id], self._addresses[node_id] = sock, peer
                self._dealers[node_id] = zmq.Socket.shadow(sock.underlying)

    def send(self, message: Message) -> bool:
        """Queue ``message`` for its peer; False when it had to be dropped.

        A message whose encoding exceeds CHUNK_BYTES (a snapshot of a large
        store) goes as chunk records (:mod:`actors.raft.chunks`), all parts of
        one multipart ZeroMQ message: ZeroMQ queues a multipart message whole or
        not at all and counts it as one message against the high-water mark, so
        a full queue refuses it at its first part, before anything is queued,
        and the peer never gets some chunks without the others.
        """
        sock = self._dealers.get(message.to)
        if sock is None:
            DROPPED.labels(message.type).inc()
            return False
        frames = self._frames(message)
        return frames is not None and self._queue(sock, message, frames)

    async def send_off_loop(self, message: Message) -> bool:
        """:meth:`send` for a message that may be large (a snapshot): packing and splitting it, which
        copies it several times, run in a thread with the event loop free; then the frames are queued."""
        if message.to not in self._dealers:
            DROPPED.labels(message.type).inc()
            return False
        frames = await asyncio.to_thread(self._frames, message)
        sock = self._dealers.get(message.to)  # the link may have closed meanwhile
        if sock is None:
            DROPPED.labels(message.type).inc()
            return False
        return frames is not None and self._queue(sock, message, frames)

    def _frames(self, message: Message) -> list[bytes] | None:
        """What goes on the wire for ``message``, or None (counted, logged) when it cannot be sent."""
        try:
            # Not codec.encode: it refuses anything over the codec's 16 MiB frame limit, which would
            # make a large snapshot unsendable, and raising that limit would loosen it for every
            # socket. So the whole message is packed by msgpack directly (the codec's options, no
            # limit) and only its chunks, each far below the limit, cross the socket; the receiver
            # bounds the reassembled message by MAX_TRANSFER_BYTES instead.
            data = chunks.pack(message.to_dict())
            if len(data) > MAX_TRANSFER_BYTES:
                raise codec.CodecError(f"message of {len(data)} bytes exceeds the limit of {MAX_TRANSFER_BYTES}")
            transfer_id = os.urandom(8).hex() if len(data) > CHUNK_BYTES else ""  # only chunks carry one
            return chunks.frames(data, transfer_id, CHUNK_BYTES)
        except codec.CodecError as exc:
            DROPPED.labels(message.type).inc()
            self._actor.log.warning("raft message not sendable", type=message.type, to=message.to, error=str(exc))
            return None

    @staticmethod
    def _queue(sock, message: Message, frames: list[bytes]) -> bool:
        """Queue ``frames`` as one multipart message without blocking; False when the queue is full."""
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            DROPPED.labels(message.type).inc()
            return False
        if len(frames) > 1:
            CHUNKS_SENT.inc(len(frames))
        _SENT[message.type].inc()
        return True

    async def receive(self) -> None:
        """Hand every well-formed incoming message to ``on_message``, until cancelled.

        Every frame after the sender's identity is a whole message or a chunk
        record. Chunks are reassembled per sender, keyed by the ROUTER identity
        of its link, and the message is handed on once its last chunk arrives;
        transfers left incomplete are expired on every receive.
        """
        def dropped(sender: bytes, transfer: str, reason: str) -> None:
            TRANSFERS_DROPPED.labels(reason).inc()
            self._actor.log.warning("dropped incomplete raft transfer", transfer=transfer, reason=reason)

        reassembler = chunks.Reassembler(MAX_TRANSFER_BYTES, TRANSFER_TIMEOUT, on_drop=dropped)
        # Read on a plain socket over the asyncio one (transport/inbox.py): the router only receives.
        async for parts in Inbox(zmq.Socket.shadow(self._router.underlying)).messages():
            key = sockets.sender_key(parts[-1])
            frames = [part.bytes for part in parts]
            now = time.monotonic()
            reassembler.expire(now)
            if len(frames) < 2:
                MALFORMED.inc()
                self._actor.log.warning("dropped malformed raft message", error="no frame after the identity")
                continue
            for frame in frames[1:]:
                try:
                    value = codec.decode(frame)
                    if chunks.is_chunk(value):
                        CHUNKS_RECEIVED.inc()
                        data = reassembler.add(frames[0], value, now)
                        if data is None:
                            await asyncio.sleep(0)  # let the loop run between the chunks of a transfer
                            continue
                        TRANSFERS_COMPLETED.inc()
                        # Decoding a transfer (a large snapshot) copies it: in a thread, the loop free.
                        value = await asyncio.to_thread(chunks.unpack, data, MAX_TRANSFER_BYTES)
                    message = Message.from_dict(value)
                    message.check()
                except (ValueError, IndexError) as exc:
                    MALFORMED.inc()
                    self._actor.log.warning("dropped malformed raft message", error=str(exc))
                    continue
                if not self._sender_matches(key, message.frm):
                    self._actor.log.warning("dropped raft message: its sender is not the node of the key that sent it",
                                            type=message.type,
                                            sender=message.frm[:64], key=key)
                    continue
                _RECEIVED[message.type].inc()
                self._on_message(message)

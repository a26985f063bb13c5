"""Raft messages between managers: one ROUTER to receive, one DEALER per peer to send.

Sending never blocks: a message to a peer whose queue is full or that has no
address is dropped and counted, which Raft tolerates (it retries by itself).
A received frame that is not a well-formed Raft message is dropped, counted
and logged; the member keeps serving.
"""

from __future__ import annotations

from typing import Callable

import zmq
from prometheus_client import Counter

from actors.common.actor import ActorContext
from actors.common.hostconfig import ManagerAddress
from actors.raft.values import Message
from transport import codec

SENT = Counter("shoal_raft_messages_sent_total", "Raft messages sent to peers", ["type"])
DROPPED = Counter("shoal_raft_messages_dropped_total", "Raft messages not sent (no route or full queue)", ["type"])
RECEIVED = Counter("shoal_raft_messages_received_total", "Raft messages received from peers", ["type"])
MALFORMED = Counter("shoal_raft_messages_malformed_total", "Frames on the peer socket that were not Raft messages")
SEND_HWM = 10000


class PeerLinks:
    """The member's sockets to the other managers."""

    def __init__(self, actor: ActorContext, on_message: Callable[[Message], None]):
        self._actor = actor
        self._on_message = on_message
        self._router = actor.serve(zmq.ROUTER, "raft_peer", "manager")
        self._dealers: dict[str, zmq.Socket] = {}
        self._addresses: dict[str, ManagerAddress] = {}

    def sync(self, peers: dict[str, ManagerAddress]) -> None:
        """Keep exactly one sending socket per manager in ``peers`` (never to itself): open links to
        new managers, reopen those whose address or key changed, close links to the others."""
        peers = {node_id: peer for node_id, peer in peers.items() if node_id != self._actor.config.node_id}
        for node_id in list(self._dealers):
            if self._addresses.get(node_id) != peers.get(node_id):
                self._dealers.pop(node_id).close(linger=0)
                self._addresses.pop(node_id)
        for node_id, peer in peers.items():
            if node_id not in self._dealers:
                sock = self._actor.connect(zmq.DEALER, peer.endpoint("raft_peer"), peer.public_key.encode())
                sock.setsockopt(zmq.SNDHWM, SEND_HWM)
                self._dealers[node_id], self._addresses[node_id] = sock, peer

    def send(self, message: Message) -> bool:
        """Queue ``message`` for its peer; False when it had to be dropped."""
        sock = self._dealers.get(message.to)
        if sock is None:
            DROPPED.labels(message.type).inc()
            return False
        try:
            sock.send(codec.encode(message.to_dict()), zmq.NOBLOCK)
        except (zmq.Again, codec.CodecError):
            DROPPED.labels(message.type).inc()
            return False
        SENT.labels(message.type).inc()
        return True

    async def receive(self) -> None:
        """Hand every well-formed incoming message to ``on_message``, until cancelled."""
        while True:
            frames = await self._router.recv_multipart()
            try:
                message = Message.from_dict(codec.decode(frames[-1]))
                message.check()
            except (ValueError, IndexError) as exc:
                MALFORMED.inc()
                self._actor.log.warning("dropped malformed raft message", error=str(exc))
                continue
            RECEIVED.labels(message.type).inc()
            self._on_message(message)

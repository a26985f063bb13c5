"""CURVE-secured ZeroMQ sockets: servers with a ZAP domain, clients with a pinned server key.

Every socket bounds what it receives: ZMQ_MAXMSGSIZE makes ZeroMQ's decoder
refuse (and disconnect) any frame whose announced size is over the socket's
limit before it allocates a byte for it. The decoder is the same during the
CURVE handshake, so an unauthenticated stranger announcing a huge HELLO is cut
off at once; ZMQ_HANDSHAKE_IVL closes a connection that does not finish its
handshake in time.
"""

from __future__ import annotations

import zmq

from transport import limits
from transport.keys import KeyPair


def endpoint(addr: str, port: int) -> str:
    """The TCP endpoint string for ``addr:port``."""
    return f"tcp://{addr}:{port}"


def _bounded(context: zmq.Context, kind: int, max_message_bytes: int) -> zmq.Socket:
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
    sock.setsockopt(zmq.HANDSHAKE_IVL, limits.HANDSHAKE_MS)
    return sock


def server_socket(context: zmq.Context, kind: int, bind_to: str, keypair: KeyPair, zap_domain: str,
                  max_message_bytes: int) -> zmq.Socket:
    """A socket of type ``kind`` bound to ``bind_to`` that only talks CURVE.

    Clients are admitted by the ZAP handler under ``zap_domain``; the socket's
    identity to them is ``keypair``. A peer sending a frame larger than
    ``max_message_bytes`` (a limit from :mod:`transport.limits`), handshake
    included, is disconnected. Raises zmq.ZMQError if the address is taken.
    """
    sock = _bounded(context, kind, max_message_bytes)
    sock.curve_server = True
    sock.curve_publickey = keypair.public
    sock.curve_secretkey = keypair.secret
    sock.zap_domain = zap_domain.encode()
    if kind == zmq.ROUTER:
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    sock.bind(bind_to)
    return sock


def client_socket(context: zmq.Context, kind: int, connect_to: str, keypair: KeyPair, server_public: bytes,
                  max_message_bytes: int = limits.REPLY_MESSAGE_BYTES) -> zmq.Socket:
    """A CURVE client socket of type ``kind`` connected to ``connect_to``.

    ``server_public`` pins the server's key: a server with another key fails
    the handshake. Frames from the server over ``max_message_bytes`` break the
    connection. Reconnects are retried by ZeroMQ with a short back-off.
    """
    sock = _bounded(context, kind, max_message_bytes)
    sock.setsockopt(zmq.RECONNECT_IVL, 50)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    sock.curve_serverkey = server_public
    sock.curve_publickey = keypair.public
    sock.curve_secretkey = keypair.secret
    sock.connect(connect_to)
    return sock


def sender_key(frame: zmq.Frame) -> str:
    """The z85 CURVE public key of the peer that sent ``frame`` (ZeroMQ's User-Id, set by the ZAP
    handler), '' when there is none. Received with ``copy=False`` to have the property."""
    try:
        return frame.get("User-Id") or ""
    except zmq.ZMQError:
        return ""

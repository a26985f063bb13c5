"""CURVE-secured ZeroMQ sockets: servers with a ZAP domain, clients with a pinned server key."""

from __future__ import annotations

import zmq

from transport.keys import KeyPair


def endpoint(addr: str, port: int) -> str:
    """The TCP endpoint string for ``addr:port``."""
    return f"tcp://{addr}:{port}"


def server_socket(context: zmq.Context, kind: int, bind_to: str, keypair: KeyPair, zap_domain: str) -> zmq.Socket:
    """A socket of type ``kind`` bound to ``bind_to`` that only talks CURVE.

    Clients are admitted by the ZAP handler under ``zap_domain``; the socket's
    identity to them is ``keypair``. Raises zmq.ZMQError if the address is taken.
    """
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.curve_server = True
    sock.curve_publickey = keypair.public
    sock.curve_secretkey = keypair.secret
    sock.zap_domain = zap_domain.encode()
    if kind == zmq.ROUTER:
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    sock.bind(bind_to)
    return sock


def client_socket(context: zmq.Context, kind: int, connect_to: str, keypair: KeyPair, server_public: bytes) -> zmq.Socket:
    """A CURVE client socket of type ``kind`` connected to ``connect_to``.

    ``server_public`` pins the server's key: a server with another key fails
    the handshake. Reconnects are retried by ZeroMQ with a short back-off.
    """
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 50)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    sock.curve_serverkey = server_public
    sock.curve_publickey = keypair.public
    sock.curve_secretkey = keypair.secret
    sock.connect(connect_to)
    return sock

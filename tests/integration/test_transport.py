"""Real ZeroMQ sockets with CURVE and ZAP: who gets in, and what bad frames get back."""

import asyncio
import contextlib

import pytest
import zmq
import zmq.asyncio

from transport import auth, envelope, keys, limits, sockets
from transport.rpc import RpcClient, RpcError, RpcServer, RpcTimeout


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FORBIDDEN_RAN: list[str] = []  # keys whose "forbidden" request reached its handler (it never should)


async def start_server(context, server_keys, allowed: set[str]):
    policy = auth.DomainPolicy({"admin": lambda key: key in allowed})
    authenticator = auth.start_authenticator(context, policy)
    bind = sockets.endpoint("127.0.0.1", free_port())
    sock = sockets.server_socket(context, zmq.ROUTER, bind, server_keys, "admin", limits.CONTROL_MESSAGE_BYTES)

    async def ping(request):
        return {"pong": request.body, "peer": request.peer_key}

    async def forbidden(request):
        FORBIDDEN_RAN.append(request.peer_key)
        return {}

    def authorize(kind, key):
        return f"permission denied: {kind} is not for {key[:4]}" if kind == "forbidden" else None

    server = RpcServer(sock, {"ping": ping, "forbidden": forbidden}, authorize=authorize)
    return authenticator, bind, asyncio.ensure_future(server.serve())


@contextlib.asynccontextmanager
async def serving(allowed_clients: int = 1):
    """A CURVE ROUTER serving ``ping`` that admits the first ``allowed_clients`` of three client key pairs."""
    context = zmq.asyncio.Context()
    server_keys = keys.generate()
    clients = [keys.generate() for _ in range(3)]
    authenticator, bind, serving_task = await start_server(
        context, server_keys, {pair.public_text for pair in clients[:allowed_clients]})
    try:
        yield context, server_keys, clients, bind
    finally:
        serving_task.cancel()
        authenticator.stop()
        context.destroy(linger=0)


def client(context, bind, client_keys, server_public):
    return RpcClient(sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_public), "test server")


def run(coro):
    return asyncio.run(coro)


def test_known_key_is_served_and_sees_its_identity():
    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            reply = await client(context, bind, clients[0], server_keys.public).call("ping", 42, timeout=3)
            return reply, clients[0].public_text
    reply, public = run(scenario())
    assert reply == {"pong": 42, "peer": public}


def test_unknown_curve_key_gets_nowhere():
    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            with pytest.raises(RpcTimeout, match="no answer from test server"):
                await client(context, bind, clients[2], server_keys.public).call("ping", 1, timeout=1)
    run(scenario())


def test_wrong_pinned_server_key_gets_nowhere():
    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            with pytest.raises(RpcTimeout):
                await client(context, bind, clients[0], clients[1].public).call("ping", 1, timeout=1)
    run(scenario())


def test_malformed_frames_get_error_replies_and_the_server_keeps_serving():
    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            raw = sockets.client_socket(context, zmq.DEALER, bind, clients[0], server_keys.public)
            replies = []
            for frame in (b"\xc1garbage", envelope.codec.encode({"v": 1, "k": "ping"}),
                          envelope.pack("no-such-kind", {}, "c-9")):
                await raw.send(frame)
                replies.append(envelope.unpack(await asyncio.wait_for(raw.recv(), 3)))
            still_serving = await RpcClient(raw, "test server").call("ping", "after", timeout=3)
            return replies, still_serving
    replies, still_serving = run(scenario())
    assert [r.body["code"] for r in replies] == ["malformed", "malformed", "unknown_kind"]
    assert all(r.is_error for r in replies) and replies[2].id == "c-9"
    assert still_serving["pong"] == "after"


def test_error_replies_raise_with_the_servers_code():
    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            with pytest.raises(RpcError) as caught:
                await client(context, bind, clients[0], server_keys.public).call("nope", {}, timeout=3)
            return caught.value.code
    assert run(scenario()) == "unknown_kind"


CURVE_GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, 0]) + b"CURVE".ljust(20, b"\0") + b"\0" * 32


def test_a_stranger_announcing_a_huge_handshake_frame_is_cut_off_before_it_is_buffered():
    """ZMQ_MAXMSGSIZE bounds the CURVE handshake too: a HELLO announced at 300 MB closes the connection."""
    import socket
    import struct

    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            host, port = bind.removeprefix("tcp://").split(":")
            with socket.create_connection((host, int(port)), timeout=3) as raw:
                raw.sendall(CURVE_GREETING + b"\x06" + struct.pack(">Q", 300_000_000) + b"\x05HELLO")
                sent = 0
                try:
                    for _ in range(1000):  # at most 64 MB, but the server hangs up long before
                        await asyncio.to_thread(raw.sendall, b"x" * 65536)
                        sent += 65536
                except OSError:
                    pass
            return sent
    assert run(scenario()) < limits.CONTROL_MESSAGE_BYTES


def test_a_request_the_authorize_hook_refuses_gets_permission_denied_and_never_reaches_its_handler():
    async def scenario():
        async with serving() as (context, server_keys, clients, bind):
            rpc = client(context, bind, clients[0], server_keys.public)
            with pytest.raises(RpcError) as caught:
                await rpc.call("forbidden", {}, timeout=3)
            return caught.value, await rpc.call("ping", "still", timeout=3)
    refusal, still_serving = run(scenario())
    assert refusal.code == "permission_denied" and refusal.message.startswith("permission denied: forbidden")
    assert FORBIDDEN_RAN == [] and still_serving["pong"] == "still"

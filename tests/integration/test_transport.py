"""Real ZeroMQ sockets with CURVE and ZAP: who gets in, and what bad frames get back."""

import asyncio

import pytest
import zmq
import zmq.asyncio

from transport import auth, envelope, keys, sockets
from transport.rpc import RpcClient, RpcError, RpcServer, RpcTimeout


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(context, server_keys, allowed: set[str]):
    policy = auth.DomainPolicy({"admin": lambda key: key in allowed})
    authenticator = auth.start_authenticator(context, policy)
    bind = sockets.endpoint("127.0.0.1", free_port())
    sock = sockets.server_socket(context, zmq.ROUTER, bind, server_keys, "admin")

    async def ping(request):
        return {"pong": request.body, "peer": request.peer_key}

    server = RpcServer(sock, {"ping": ping})
    return authenticator, bind, asyncio.ensure_future(server.serve())


def run(coro):
    return asyncio.run(coro)


def test_known_key_is_served_and_sees_its_identity():
    async def scenario():
        context = zmq.asyncio.Context()
        server_keys, client_keys = keys.generate(), keys.generate()
        authenticator, bind, serving = await start_server(context, server_keys, {client_keys.public_text})
        client = RpcClient(sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_keys.public), "test server")
        reply = await client.call("ping", 42, timeout=3)
        serving.cancel()
        authenticator.stop()
        context.destroy(linger=0)
        return reply, client_keys.public_text
    reply, public = run(scenario())
    assert reply == {"pong": 42, "peer": public}


def test_unknown_curve_key_gets_nowhere():
    async def scenario():
        context = zmq.asyncio.Context()
        server_keys, known, stranger = keys.generate(), keys.generate(), keys.generate()
        authenticator, bind, serving = await start_server(context, server_keys, {known.public_text})
        client = RpcClient(sockets.client_socket(context, zmq.DEALER, bind, stranger, server_keys.public), "test server")
        try:
            with pytest.raises(RpcTimeout, match="no answer from test server"):
                await client.call("ping", 1, timeout=1)
        finally:
            serving.cancel()
            authenticator.stop()
            context.destroy(linger=0)
    run(scenario())


def test_wrong_pinned_server_key_gets_nowhere():
    async def scenario():
        context = zmq.asyncio.Context()
        server_keys, client_keys, impostor = keys.generate(), keys.generate(), keys.generate()
        authenticator, bind, serving = await start_server(context, server_keys, {client_keys.public_text})
        client = RpcClient(sockets.client_socket(context, zmq.DEALER, bind, client_keys, impostor.public), "test server")
        try:
            with pytest.raises(RpcTimeout):
                await client.call("ping", 1, timeout=1)
        finally:
            serving.cancel()
            authenticator.stop()
            context.destroy(linger=0)
    run(scenario())


def test_malformed_frames_get_error_replies_and_the_server_keeps_serving():
    async def scenario():
        context = zmq.asyncio.Context()
        server_keys, client_keys = keys.generate(), keys.generate()
        authenticator, bind, serving = await start_server(context, server_keys, {client_keys.public_text})
        raw = sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_keys.public)
        replies = []
        for frame in (b"\xc1garbage", envelope.codec.encode({"v": 1, "k": "ping"}),
                      envelope.pack("no-such-kind", {}, "c-9")):
            await raw.send(frame)
            replies.append(envelope.unpack(await asyncio.wait_for(raw.recv(), 3)))
        client = RpcClient(raw, "test server")
        still_serving = await client.call("ping", "after", timeout=3)
        serving.cancel()
        authenticator.stop()
        context.destroy(linger=0)
        return replies, still_serving
    replies, still_serving = run(scenario())
    assert [r.body["code"] for r in replies] == ["malformed", "malformed", "unknown_kind"]
    assert all(r.is_error for r in replies) and replies[2].id == "c-9"
    assert still_serving["pong"] == "after"


def test_error_replies_raise_with_the_servers_code():
    async def scenario():
        context = zmq.asyncio.Context()
        server_keys, client_keys = keys.generate(), keys.generate()
        authenticator, bind, serving = await start_server(context, server_keys, {client_keys.public_text})
        client = RpcClient(sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_keys.public), "test server")
        try:
            with pytest.raises(RpcError) as caught:
                await client.call("nope", {}, timeout=3)
            return caught.value.code
        finally:
            serving.cancel()
            authenticator.stop()
            context.destroy(linger=0)
    assert run(scenario()) == "unknown_kind"

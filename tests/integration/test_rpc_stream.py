"""Streamed replies over real CURVE sockets: parts of at most PAGE_BYTES, reassembled in order and bounded."""

import asyncio
import contextlib

import pytest
import zmq
import zmq.asyncio

from tests.integration.test_transport import client, free_port
from transport import auth, envelope, keys, sockets
from transport.limits import CONTROL_MESSAGE_BYTES, PAGE_BYTES
from transport.rpc import PART, RpcClient, RpcError, RpcServer, Stream
from transport.rpccall import call_blocking

ITEM = "x" * 1000


def broken_items():
    yield ITEM
    raise ValueError("the source went away")


@contextlib.asynccontextmanager
async def streaming():
    """A server whose ``many`` request streams ``body`` items of 1 kB each, ``broken`` fails mid-stream and
    ``push_many`` pushes ``body`` items (in parts) before it answers."""
    context = zmq.asyncio.Context()
    server_keys, client_keys = keys.generate(), keys.generate()
    authenticator = auth.start_authenticator(context, auth.DomainPolicy({"admin": lambda key: True}))
    bind = sockets.endpoint("127.0.0.1", free_port())

    async def many(request):
        return Stream(ITEM for _ in range(request.body))

    async def broken(request):
        return Stream(broken_items())

    async def push_many(request):
        await server.push(request.routing_id, "assignments", {"session_id": "s1", "tasks": [ITEM] * request.body},
                          stream="tasks")
        return {}

    async def push_twice_at_once(request):
        await asyncio.gather(*(server.push(request.routing_id, "assignments", {"session_id": session, "tasks": [ITEM] * request.body},
                                           stream="tasks") for session in ("s1", "s2")))
        return {}

    server = RpcServer(sockets.server_socket(context, zmq.ROUTER, bind, server_keys, "admin", CONTROL_MESSAGE_BYTES),
                       {"many": many, "broken": broken, "push_many": push_many,
                        "push_twice_at_once": push_twice_at_once}, authorize=lambda kind, key: None)
    serving = asyncio.ensure_future(server.serve())
    try:
        yield client(context, bind, client_keys, server_keys.public), context, bind, client_keys, server_keys
    finally:
        serving.cancel()
        authenticator.stop()
        context.destroy(linger=0)


def test_a_stream_larger_than_a_message_arrives_whole_in_parts_of_at_most_a_page():
    count = 20 * PAGE_BYTES // len(ITEM)  # about 20 MB: more than any single message may carry

    async def scenario():
        async with streaming() as (rpc, context, bind, client_keys, server_keys):
            items = await rpc.call("many", count, timeout=5, max_bytes=40 * PAGE_BYTES)
            raw = sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_keys.public)
            await raw.send(envelope.pack("many", 3000, "c-1"))
            sizes, last = [], False
            while not last:
                frame = await asyncio.wait_for(raw.recv(), 5)
                message = envelope.unpack(frame)
                assert message.kind == PART and message.id == "c-1"
                sizes.append(len(frame))
                last = message.body["last"]
            return items, sizes
    items, sizes = asyncio.run(scenario())
    assert len(items) == count and set(items) == {ITEM}
    assert len(sizes) == 3 and max(sizes) <= PAGE_BYTES + 1024


def test_an_empty_stream_is_an_empty_list():
    async def scenario():
        async with streaming() as (rpc, *_):
            return await rpc.call("many", 0, timeout=5)
    assert asyncio.run(scenario()) == []


def test_a_stream_over_the_callers_bound_is_refused_and_the_server_keeps_serving():
    async def scenario():
        async with streaming() as (rpc, *_):
            with pytest.raises(RpcError) as caught:
                await rpc.call("many", 5000, timeout=5, max_bytes=2 * PAGE_BYTES)
            return caught.value, await rpc.call("many", 2, timeout=5)
    refused, after = asyncio.run(scenario())
    assert refused.code == "too_large" and "exceeds" in refused.message
    assert after == [ITEM, ITEM]


def test_a_source_failing_mid_stream_ends_the_call_with_an_error():
    async def scenario():
        async with streaming() as (rpc, *_):
            with pytest.raises(RpcError) as caught:
                await rpc.call("broken", None, timeout=5)
            return caught.value
    assert asyncio.run(scenario()).code == "malformed"


def test_a_push_with_a_large_list_arrives_whole_in_parts():
    count = 5 * PAGE_BYTES // len(ITEM)
    pushed = []

    async def scenario():
        async with streaming() as (_, context, bind, client_keys, server_keys):
            rpc = RpcClient(sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_keys.public),
                            "test server", on_push=lambda kind, body: pushed.append((kind, body)))
            await rpc.call("push_many", count, timeout=5)
            await rpc.call("push_many", 1, timeout=5)
    asyncio.run(scenario())
    assert [(kind, body["session_id"], len(body["tasks"])) for kind, body in pushed] == [
        ("assignments", "s1", count), ("assignments", "s1", 1)]


def test_pushes_whose_parts_interleave_are_reported_lost_not_mixed():
    count = 3 * PAGE_BYTES // len(ITEM)
    pushed, lost = [], []

    async def scenario():
        async with streaming() as (_, context, bind, client_keys, server_keys):
            rpc = RpcClient(sockets.client_socket(context, zmq.DEALER, bind, client_keys, server_keys.public),
                            "test server", on_push=lambda kind, body: pushed.append((body["session_id"], len(body["tasks"]))),
                            on_push_lost=lambda: lost.append(1))
            await rpc.call("push_twice_at_once", count, timeout=5)
            await rpc.call("push_many", 1, timeout=5)
    asyncio.run(scenario())
    assert lost, "the interleaved pushes were not reported lost"
    assert pushed[-1] == ("s1", 1)  # a later push still arrives
    assert all(tasks == count for _, tasks in pushed[:-1])  # whatever was handed on is a whole push, never a mix


def test_the_blocking_client_of_the_cli_gets_streams_whole_errors_and_bounds():
    """transport/rpccall.call_blocking (the CLI's one call, no asyncio) against the same server."""
    count = 3 * PAGE_BYTES // len(ITEM)

    def blocking(bind, client_keys, server_keys, kind, body, max_bytes):
        sync = zmq.Context()
        try:
            sock = sockets.client_socket(sync, zmq.DEALER, bind, client_keys, server_keys.public)
            return call_blocking(sock, "server", kind, body, timeout=5, max_bytes=max_bytes)
        except RpcError as exc:
            return exc
        finally:
            sync.destroy(linger=0)

    async def scenario():
        async with streaming() as (rpc, context, bind, client_keys, server_keys):
            loop = asyncio.get_running_loop()
            whole = await loop.run_in_executor(None, blocking, bind, client_keys, server_keys, "many", count,
                                               10 * PAGE_BYTES)
            assert whole == [ITEM] * count
            bounded = await loop.run_in_executor(None, blocking, bind, client_keys, server_keys, "many", count,
                                                 PAGE_BYTES)
            assert isinstance(bounded, RpcError) and bounded.code == "too_large"
            broken = await loop.run_in_executor(None, blocking, bind, client_keys, server_keys, "broken", None,
                                                PAGE_BYTES)
            assert isinstance(broken, RpcError) and "the source went away" in broken.message
    asyncio.run(scenario())

"""The executor notices at once that its dispatcher closed the link (real ZeroMQ sockets on loopback)."""

import asyncio

import zmq
import zmq.asyncio

from actors.executor.linkwatch import LinkWatch


def watched_pair(context):
    """A ROUTER on a loopback port, and a DEALER connected to it whose link is watched."""
    server = context.socket(zmq.ROUTER)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = context.socket(zmq.DEALER)
    client.connect(f"tcp://127.0.0.1:{port}")
    link = LinkWatch(client)
    return server, client, link, asyncio.ensure_future(link.lost())


def test_a_closed_link_is_noticed_at_once_and_a_refused_one_is_not():
    async def scenario():
        context = zmq.asyncio.Context()
        server, client, link, watch = watched_pair(context)
        await client.send(b"hello")
        assert (await asyncio.wait_for(server.recv_multipart(), 5))[1] == b"hello"
        link.established()  # as the executor says once a session reply came (the handshake may predate the monitor)
        await asyncio.sleep(0.2)
        assert not watch.done()  # a live link is left alone
        server.close(linger=0)
        await asyncio.wait_for(watch, 2)  # the peer closed it: seen well within a heartbeat's deadline
        # Nobody listens any more: ZeroMQ's refused reconnects are not a lost link of a new watch.
        again = asyncio.ensure_future(LinkWatch(client).lost())
        await asyncio.sleep(0.3)
        assert not again.done()
        again.cancel()
        await asyncio.gather(again, return_exceptions=True)
        client.close(linger=0)
        context.term()
    asyncio.run(scenario())

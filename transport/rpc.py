"""Request/reply over CURVE sockets: an asyncio ROUTER server and a DEALER client.

Every request of a known kind is authorised before its handler runs: the
server's ``authorize(kind, peer key)`` hook returns None to serve it or the
reason for an ``error`` reply with code ``permission_denied`` (an unknown kind
gets ``unknown_kind``). The server runs each request's handler in its own task, so a slow request
(a proposal waiting for commit) does not hold up the others; a malformed
request gets an ``error`` reply with code ``malformed`` and the server keeps
serving. The client matches replies to requests by correlation id and gives
up after a deadline, so a caller never blocks forever on a dead peer.
Messages from the server that answer no pending request are *pushes*
(the dispatcher's assignments) and go to the client's ``on_push`` callback.

A reply that may be large (a store snapshot, a list) is a :class:`Stream`:
the server sends its items as consecutive ``part`` messages
``{"seq": n, "items": [...], "last": bool}`` of at most PAGE_BYTES each under
the request's correlation id, letting other work run between parts; the client
checks their order, bounds their total by the caller's ``max_bytes``, and
returns the items as one list. So no single message carries the whole store.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Awaitable, Callable, Iterable

import zmq
import zmq.asyncio

from transport import envelope, sockets
from transport.codec import CodecError
from transport.inbox import Inbox
from transport.limits import PAGE_BYTES, REPLY_MESSAGE_BYTES, STORE_BYTES
from transport.pages import pages
from transport.rpccall import PART, Parts, RpcError, RpcTimeout

__all__ = ["PART", "Request", "RpcClient", "RpcError", "RpcServer", "RpcTimeout", "Stream"]

@dataclasses.dataclass(frozen=True)
class Request:
    """What a handler sees: the decoded envelope, the peer's CURVE key and routing id."""

    kind: str
    body: object
    peer_key: str
    routing_id: bytes
    correlation_id: str


@dataclasses.dataclass(frozen=True)
class Stream:
    """A reply sent in parts: what a handler returns instead of a value when the reply may be large.

    ``items`` is iterated while the parts go out, with the event loop free in
    between, so it must read a consistent copy of its source (a shallow copy
    of the store's tables: committed objects are never mutated), not state that
    changes meanwhile. The caller of :meth:`RpcClient.call` gets the items as a list.
    """

    items: Iterable


Handler = Callable[[Request], Awaitable[object]]
# (request kind, peer's CURVE key) -> None to serve the request, or the one-line reason it is refused.
Authorize = Callable[[str, str], "str | None"]


class RpcServer:
    """Serves requests on a ROUTER socket, one handler per message kind, each request authorised first.

    Requests are received and replies sent on a plain socket over the asyncio one (:mod:`transport.inbox`):
    the asyncio wrapper's future and event bookkeeping on every message cost about as much as the rest
    of a small request's path."""

    def __init__(self, sock: zmq.asyncio.Socket, handlers: dict[str, Handler], *, authorize: Authorize,
                 on_error=None, max_in_flight: int = 4096, page_bytes: int = PAGE_BYTES):
        self._sock = sock  # owns the socket (closing it closes the plain one too)
        self._raw = zmq.Socket.shadow(sock.underlying)
        self._inbox = Inbox(self._raw)
        self._page_bytes = page_bytes
        self._handlers = dict(handlers)
        self._authorize = authorize
        self._on_error = on_error or (lambda code, text: None)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        """Receive and dispatch requests until cancelled."""
        async for frames in self._inbox.messages():
            if len(frames) != 2:
                self._on_error("malformed", f"expected 2 frames, got {len(frames)}")
                continue
            routing_id, frame = frames[0].bytes, frames[1]
            peer_key = sockets.sender_key(frame)
            try:
                message = envelope.unpack(frame.bytes)
            except envelope.MalformedMessage as exc:
                self._on_error("malformed", str(exc))
                await self._send(routing_id, envelope.pack_error("malformed", str(exc), exc.correlation_id))
                continue
            await self._slots.acquire()
            task = asyncio.ensure_future(self._handle(Request(message.kind, message.body, peer_key, routing_id, message.id)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def push(self, routing_id: bytes, kind: str, body, stream: str | None = None) -> None:
        """Send an unsolicited message to the client with ``routing_id``.

        With ``stream``, ``body[stream]`` (a list that may be large: a node's
        assignments) goes in parts of at most PAGE_BYTES, the rest of ``body``
        with the first; the client hands its ``on_push`` the body whole again.
        """
        if stream is None:
            await self._send(routing_id, envelope.pack(kind, body))
            return
        correlation_id = envelope.next_id()
        async for seq, items, last in self._parts(body[stream]):
            part = {"seq": seq, "items": items, "last": last, "push": kind, "field": stream}
            if seq == 0:
                part["head"] = {key: value for key, value in body.items() if key != stream}
            await self._send(routing_id, envelope.pack(PART, part, correlation_id))

    async def _handle(self, request: Request) -> None:
        try:
            handler = self._handlers.get(request.kind)
            if handler is None:  # no secret: every socket's kinds are in docs/security.md
                raise RpcError("unknown_kind", f"unknown request kind {request.kind[:64]!r}")
            refusal = self._authorize(request.kind, request.peer_key)
            if refusal is not None:
                raise RpcError("permission_denied", refusal)
            reply = await handler(request)
            data = None if isinstance(reply, Stream) else envelope.pack(request.kind, reply, request.correlation_id)
        except Exception as exc:
            reply, data = None, self._error_reply(request, exc)
        finally:
            self._slots.release()
        if data is None:
            await self._send_stream(request, reply)
        else:
            await self._send(request.routing_id, data)

    async def _send_stream(self, request: Request, stream: Stream) -> None:
        """Send ``stream``'s items as parts; an error while iterating ends it with an error reply."""
        try:
            async for seq, items, last in self._parts(stream.items):
                await self._send(request.routing_id, envelope.pack(PART, {"seq": seq, "items": items, "last": last},
                                                                   request.correlation_id))
        except Exception as exc:
            await self._send(request.routing_id, self._error_reply(request, exc))

    async def _parts(self, items):
        """``(seq, items, last)`` for each part of a stream of ``items`` (one empty part for none),
        giving the event loop a turn between parts."""
        seq, page = 0, None
        for next_page in pages(items, self._page_bytes):
            if page is not None:
                yield seq, page, False
                await asyncio.sleep(0)
                seq += 1
            page = next_page
        yield seq, page or [], True

    def _error_reply(self, request: Request, exc: Exception) -> bytes:
        """The error reply for a handler's exception, reported to ``on_error``."""
        if isinstance(exc, RpcError):
            code, text = exc.code, exc.message
        elif isinstance(exc, CodecError):
            code, text = "internal", str(exc)
        elif isinstance(exc, (KeyError, TypeError, ValueError, AttributeError)):
            code, text = "malformed", f"bad {request.kind} request: {type(exc).__name__}: {exc}"
        else:  # a handler bug must cost one request, never the server
            code, text = "internal", f"{request.kind} failed: {type(exc).__name__}: {exc}"
        self._on_error(code, text)
        return envelope.pack_error(code, text, request.correlation_id)

    async def _send(self, routing_id: bytes, data: bytes) -> None:
        # A ROUTER never blocks a send: it drops a message it cannot route or queue, as it would here.
        try:
            self._raw.send_multipart([routing_id, data], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the peer went away; nothing to tell it
        self._inbox.recheck()


class _Call(Parts):
    """A call waiting for its reply: the future, and the parts of a streamed reply so far."""

    def __init__(self, future: asyncio.Future, max_bytes: int):
        super().__init__(max_bytes)
        self.future = future


class _Push(Parts):
    """A push arriving in parts: its kind, the rest of its body, and the field its items go into."""

    def __init__(self, correlation_id: str, first: dict, max_bytes: int):
        super().__init__(max_bytes)
        self.correlation_id = correlation_id
        self.kind = str(first.get("push", ""))
        self.field = str(first.get("field", ""))
        self.head = first.get("head") if isinstance(first.get("head"), dict) else {}


class RpcClient:
    """Calls an RpcServer over a DEALER socket with per-call deadlines."""

    def __init__(self, sock: zmq.asyncio.Socket, peer_name: str, on_push: Callable[[str, object], None] | None = None,
                 max_push_bytes: int = STORE_BYTES, on_push_lost: Callable[[], None] | None = None):
        """``on_push`` gets each push whole; ``on_push_lost`` is called when a push in parts had to be
        dropped (a part missing or out of order, or too large), so the caller can ask for it again."""
        self._sock = sock
        self._peer_name = peer_name
        self._on_push = on_push
        self._on_push_lost = on_push_lost or (lambda: None)
        self._max_push_bytes = max_push_bytes
        self._push: _Push | None = None  # a push arriving in parts (one at a time)
        self._pending: dict[str, _Call] = {}
        self._reader: asyncio.Task | None = None

    async def call(self, kind: str, body, timeout: float = 5.0, max_bytes: int = REPLY_MESSAGE_BYTES):
        """Send a request and return the reply body (for a streamed reply, the list of its items).

        Raises RpcError with the server's code for an error reply, RpcError
        ``too_large`` when a streamed reply's parts add up to more than
        ``max_bytes``, and RpcTimeout when nothing came within ``timeout``
        seconds: of the request, or of the last part of a streamed reply. The
        deadline covers the send too: a DEALER with no connected peer (server
        down, or it refused our key) holds the message until one connects.
        """
        self._ensure_reader()
        correlation_id = envelope.next_id()
        call = self._pending[correlation_id] = _Call(asyncio.get_running_loop().create_future(), max_bytes)

        async def exchange():
            await self._sock.send(envelope.pack(kind, body, correlation_id))
            return await call.future

        task = asyncio.ensure_future(exchange())
        try:
            while True:
                parts_seen = call.parts
                done, _ = await asyncio.wait({task}, timeout=timeout)
                if done:
                    return task.result()
                if call.parts == parts_seen:
                    raise RpcTimeout(f"no answer from {self._peer_name} within {timeout:g}s")
        finally:
            task.cancel()
            self._pending.pop(correlation_id, None)

    async def send(self, kind: str, body) -> None:
        """Send a one-way message (no reply expected)."""
        self._ensure_reader()
        await self._sock.send(envelope.pack(kind, body))

    def close(self) -> None:
        """Stop reading and close the socket; pending calls fail with RpcTimeout at their deadline."""
        if self._reader is not None:
            self._reader.cancel()
        self._sock.close(linger=0)

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self._sock.recv()
            try:
                message = envelope.unpack(frame)
            except envelope.MalformedMessage:
                continue
            call = self._pending.get(message.id)
            if call is not None and not call.future.done():
                if message.is_error:
                    body = message.body if isinstance(message.body, dict) else {}
                    call.future.set_exception(RpcError(str(body.get("code", "error")), str(body.get("message", ""))))
                elif message.kind == PART:
                    self._add_part(call, message.body, len(frame))
                else:
                    call.future.set_result(message.body)
            elif self._on_push is not None and message.kind == PART:
                self._add_push_part(message.id, message.body, len(frame))
            elif self._on_push is not None and not message.is_error:
                self._on_push(message.kind, message.body)

    def _add_part(self, call: _Call, body, size: int) -> None:
        """Add one part of a streamed reply; the call ends with the last part, or with an error for a
        part out of order or one that takes the reply past its ``max_bytes``."""
        problem = call.add(body, size)
        if problem is not None:
            call.future.set_exception(RpcError(problem[0], f"the reply from {self._peer_name}: {problem[1]}"))
        elif body.get("last"):
            call.future.set_result(call.items)

    def _add_push_part(self, correlation_id: str, body, size: int) -> None:
        """Add one part of a push; the whole push goes to ``on_push`` with its last part. A part out of
        order, or past ``max_push_bytes``, drops the push and calls ``on_push_lost``."""
        if isinstance(body, dict) and body.get("seq") == 0:
            if self._push is not None:
                self._on_push_lost()  # a new push began before the last one finished
            self._push = _Push(correlation_id, body, self._max_push_bytes)
        push = self._push
        if push is None or push.correlation_id != correlation_id or push.add(body, size) is not None:
            self._push = None
            self._on_push_lost()
            return
        if body.get("last"):
            self._push = None
            self._on_push(push.kind, {**push.head, push.field: push.items})

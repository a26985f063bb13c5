"""Request/reply over CURVE sockets: an asyncio ROUTER server and a DEALER client.

The server runs each request's handler in its own task, so a slow request
(a proposal waiting for commit) does not hold up the others; a malformed
request gets an ``error`` reply with code ``malformed`` and the server keeps
serving. The client matches replies to requests by correlation id and gives
up after a deadline, so a caller never blocks forever on a dead peer.
Messages from the server that answer no pending request are *pushes*
(the dispatcher's assignments) and go to the client's ``on_push`` callback.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Awaitable, Callable

import zmq
import zmq.asyncio

from transport import envelope
from transport.codec import CodecError


class RpcError(Exception):
    """An error with a machine-readable ``code``; servers send it back as an error reply."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class RpcTimeout(RpcError):
    """No reply arrived before the deadline."""

    def __init__(self, message: str):
        super().__init__("timeout", message)


@dataclasses.dataclass(frozen=True)
class Request:
    """What a handler sees: the decoded envelope, the peer's CURVE key and routing id."""

    kind: str
    body: object
    peer_key: str
    routing_id: bytes
    correlation_id: str


Handler = Callable[[Request], Awaitable[object]]


class RpcServer:
    """Serves requests on a ROUTER socket, one handler per message kind."""

    def __init__(self, sock: zmq.asyncio.Socket, handlers: dict[str, Handler], on_error=None, max_in_flight: int = 4096):
        self._sock = sock
        self._handlers = dict(handlers)
        self._on_error = on_error or (lambda code, text: None)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        """Receive and dispatch requests until cancelled."""
        while True:
            frames = await self._sock.recv_multipart(copy=False)
            if len(frames) != 2:
                self._on_error("malformed", f"expected 2 frames, got {len(frames)}")
                continue
            routing_id, frame = frames[0].bytes, frames[1]
            peer_key = _user_id(frame)
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

    async def push(self, routing_id: bytes, kind: str, body) -> None:
        """Send an unsolicited message to the client with ``routing_id``."""
        await self._send(routing_id, envelope.pack(kind, body))

    async def _handle(self, request: Request) -> None:
        try:
            handler = self._handlers.get(request.kind)
            if handler is None:
                raise RpcError("unknown_kind", f"unknown request kind {request.kind!r}")
            reply = await handler(request)
            data = envelope.pack(request.kind, reply, request.correlation_id)
        except RpcError as exc:
            self._on_error(exc.code, exc.message)
            data = envelope.pack_error(exc.code, exc.message, request.correlation_id)
        except CodecError as exc:
            self._on_error("internal", str(exc))
            data = envelope.pack_error("internal", str(exc), request.correlation_id)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            text = f"bad {request.kind} request: {type(exc).__name__}: {exc}"
            self._on_error("malformed", text)
            data = envelope.pack_error("malformed", text, request.correlation_id)
        except Exception as exc:  # a handler bug must cost one request, never the server
            text = f"{request.kind} failed: {type(exc).__name__}: {exc}"
            self._on_error("internal", text)
            data = envelope.pack_error("internal", text, request.correlation_id)
        finally:
            self._slots.release()
        await self._send(request.routing_id, data)

    async def _send(self, routing_id: bytes, data: bytes) -> None:
        try:
            await self._sock.send_multipart([routing_id, data])
        except zmq.ZMQError:
            pass  # the peer went away; nothing to tell it


def _user_id(frame: zmq.Frame) -> str:
    try:
        return frame.get("User-Id") or ""
    except zmq.ZMQError:
        return ""


class RpcClient:
    """Calls an RpcServer over a DEALER socket with per-call deadlines."""

    def __init__(self, sock: zmq.asyncio.Socket, peer_name: str, on_push: Callable[[str, object], None] | None = None):
        self._sock = sock
        self._peer_name = peer_name
        self._on_push = on_push
        self._pending: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def call(self, kind: str, body, timeout: float = 5.0):
        """Send a request and return the reply body.

        Raises RpcError with the server's code for an error reply and RpcTimeout
        when no reply came within ``timeout`` seconds. The deadline covers the
        send too: a DEALER with no connected peer (server down, or it refused
        our key) holds the message until one connects.
        """
        self._ensure_reader()
        correlation_id = envelope.next_id()
        future = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future

        async def exchange():
            await self._sock.send(envelope.pack(kind, body, correlation_id))
            return await future

        try:
            return await asyncio.wait_for(exchange(), timeout)
        except asyncio.TimeoutError:
            raise RpcTimeout(f"no answer from {self._peer_name} within {timeout:g}s") from None
        finally:
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
            future = self._pending.get(message.id)
            if future is not None and not future.done():
                if message.is_error:
                    body = message.body if isinstance(message.body, dict) else {}
                    future.set_exception(RpcError(str(body.get("code", "error")), str(body.get("message", ""))))
                else:
                    future.set_result(message.body)
            elif self._on_push is not None and not message.is_error:
                self._on_push(message.kind, message.body)

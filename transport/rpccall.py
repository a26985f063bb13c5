"""What a caller of an :class:`transport.rpc.RpcServer` needs, without asyncio: the errors, the
assembly of a streamed reply, and :func:`call_blocking`, one call over a plain (blocking) socket.

A short-lived program (the CLI) makes one or two calls and exits: importing
asyncio would cost it more than the calls themselves. The asyncio client in
transport/rpc.py uses the same errors and the same :class:`Parts`.
"""

from __future__ import annotations

import time

import zmq

from transport import envelope
from transport.limits import REPLY_MESSAGE_BYTES

PART = "part"  # the envelope kind of one part of a streamed reply


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


class Parts:
    """The parts of one streamed message received so far."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.items: list = []
        self.parts = 0
        self.bytes = 0

    def add(self, body, size: int) -> tuple[str, str] | None:
        """Add the next part (``size`` bytes on the wire); ``(code, reason)`` when it is out of order (a
        part was lost) or takes the total past ``max_bytes``, and nothing was added."""
        if not isinstance(body, dict) or body.get("seq") != self.parts or not isinstance(body.get("items"), list):
            return "malformed", f"a part out of order (expected part {self.parts}): a part was lost"
        if self.bytes + size > self.max_bytes:
            return "too_large", f"exceeds the limit of {self.max_bytes} bytes"
        self.bytes += size
        self.items.extend(body["items"])
        self.parts += 1
        return None


def call_blocking(sock: zmq.Socket, peer_name: str, kind: str, body, timeout: float = 5.0,
                  max_bytes: int = REPLY_MESSAGE_BYTES):
    """One request over the blocking DEALER ``sock``; the reply body (for a streamed reply, the list of
    its items). Errors as :meth:`transport.rpc.RpcClient.call` raises them: RpcError with the server's
    code, ``too_large`` past ``max_bytes``, RpcTimeout when nothing came within ``timeout`` seconds
    of the request (the send included) or of the last part. Messages answering no request (pushes,
    stale replies) are skipped."""
    correlation_id = envelope.next_id()
    sock.setsockopt(zmq.SNDTIMEO, max(1, int(timeout * 1000)))
    try:
        sock.send(envelope.pack(kind, body, correlation_id))
    except zmq.Again:
        raise RpcTimeout(f"no answer from {peer_name} within {timeout:g}s") from None
    parts = Parts(max_bytes)
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not sock.poll(int(remaining * 1000) + 1):
            raise RpcTimeout(f"no answer from {peer_name} within {timeout:g}s")
        frame = sock.recv()
        try:
            message = envelope.unpack(frame)
        except envelope.MalformedMessage:
            continue
        if message.id != correlation_id:
            continue
        if message.is_error:
            error = message.body if isinstance(message.body, dict) else {}
            raise RpcError(str(error.get("code", "error")), str(error.get("message", "")))
        if message.kind != PART:
            return message.body
        problem = parts.add(message.body, len(frame))
        if problem is not None:
            raise RpcError(problem[0], f"the reply from {peer_name}: {problem[1]}")
        if message.body.get("last"):
            return parts.items
        deadline = time.monotonic() + timeout

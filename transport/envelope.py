"""The message envelope: ``{"v": version, "k": kind, "id": correlation id, "b": body}``.

Requests and replies share the shape; a reply carries its request's ``id``.
An error reply has kind ``error`` and body ``{"code", "message"}``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os

from transport import codec

PROTOCOL_VERSION = 1
ERROR = "error"

_counter = itertools.count(1)
_prefix = os.urandom(4).hex()


class MalformedMessage(ValueError):
    """A frame that is not a valid envelope; ``correlation_id`` is set when it could be read."""

    def __init__(self, message: str, correlation_id: str | None = None):
        super().__init__(message)
        self.correlation_id = correlation_id


@dataclasses.dataclass(frozen=True)
class Envelope:
    """One decoded message."""

    kind: str
    id: str
    body: object

    @property
    def is_error(self) -> bool:
        """True for an error reply."""
        return self.kind == ERROR


def next_id() -> str:
    """A correlation id unique within this process (and very likely across processes)."""
    return f"{_prefix}-{next(_counter)}"


def pack(kind: str, body, correlation_id: str | None = None) -> bytes:
    """Encode an envelope; a fresh correlation id is made when none is given."""
    return codec.encode({"v": PROTOCOL_VERSION, "k": kind, "id": correlation_id or next_id(), "b": body})


def pack_error(code: str, message: str, correlation_id: str | None) -> bytes:
    """Encode an error reply."""
    return pack(ERROR, {"code": code, "message": message}, correlation_id or "")


def unpack(frame: bytes) -> Envelope:
    """Decode and validate an envelope; raises MalformedMessage with a precise reason."""
    try:
        raw = codec.decode(frame)
    except codec.CodecError as exc:
        raise MalformedMessage(str(exc)) from exc
    if not isinstance(raw, dict):
        raise MalformedMessage("message is not a map")
    correlation_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    if raw.get("v") != PROTOCOL_VERSION:
        raise MalformedMessage(f"unsupported protocol version {raw.get('v')!r}", correlation_id)
    if not isinstance(raw.get("k"), str) or not raw["k"]:
        raise MalformedMessage("message has no kind", correlation_id)
    if correlation_id is None:
        raise MalformedMessage("message has no correlation id")
    return Envelope(kind=raw["k"], id=correlation_id, body=raw.get("b"))

"""Read-index requests waiting for the leader to confirm it still leads (thesis §6.4).

The leader records its commit index for each request, then sends a heartbeat
round tagged with the request's context. Once a quorum answered a round, the
request and every older one are confirmed: no other leader can have committed
anything newer than the recorded index at the time the request arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReadRequest:
    """One pending read: the commit index when it arrived, its context, who asked, who acknowledged."""

    index: int
    context: bytes
    requester: str
    acks: set[str] = field(default_factory=set)


class ReadOnlyQueue:
    """Pending read requests in arrival order, by context."""

    def __init__(self):
        self._requests: dict[bytes, ReadRequest] = {}

    def add(self, index: int, context: bytes, requester: str) -> bool:
        """Queue a request; False (and ignored) when its context is already pending."""
        if context in self._requests:
            return False
        self._requests[context] = ReadRequest(index, context, requester)
        return True

    def acknowledge(self, context: bytes, member: str) -> set[str] | None:
        """``member`` answered the round tagged ``context``; the acknowledgers so far (None if unknown)."""
        request = self._requests.get(context)
        if request is None:
            return None
        request.acks.add(member)
        return request.acks

    def release_through(self, context: bytes) -> list[ReadRequest]:
        """Remove and return the request tagged ``context`` and all older ones, oldest first."""
        released = []
        for key in list(self._requests):
            released.append(self._requests.pop(key))
            if key == context:
                break
        return released

    def last_context(self) -> bytes:
        """The context of the newest pending request (b"" when none)."""
        return next(reversed(self._requests), b"")

    def clear(self) -> None:
        """Drop everything (leadership lost: the requesters will time out and retry)."""
        self._requests.clear()

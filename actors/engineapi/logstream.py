"""``GET /services/{id}/logs`` and ``GET /tasks/{id}/logs`` as dockerd answers them (no IO).

:func:`log_query` reads dockerd's query parameters; a :class:`LogRounds` turns
the control API's ``service_logs`` rounds (actors/controlapi/logs.py) into the
bytes of the response, keeping the cursors between rounds as ``shoal service
logs`` does (actors/cli/logview.py), so a line is sent once and none is lost.
Each line is ``[TIMESTAMP ]DETAILS TEXT\\n`` (dockerd's order; ``DETAILS``, with
``details=1``, is ``com.docker.swarm.node.id=N,com.docker.swarm.service.id=S,
com.docker.swarm.task.id=T``, which the docker CLI parses for its
``NAME.SLOT.TASK@NODE`` prefix), framed for a service without a terminal as
dockerd's multiplexed stream: 8 bytes (stream 1 stdout, 2 stderr, 3 the
daemon's own error; three zero bytes; the length, big-endian uint32), then
the line. A terminal's output is sent raw. A node that could not answer is
dockerd's ``Error grabbing logs: ...`` on stream 3 (the docker CLI shows it and
exits 1, as with swarmkit's "incomplete log stream").
"""

from __future__ import annotations

import dataclasses
import struct
import urllib.parse

from actors.common.logview import Follower, Options, parse_since
from actors.common.loglines import format_timestamp
from actors.engineapi.translate import EngineError, query_bool
from transport import limits

STREAM_NUMBERS = {"stdout": 1, "stderr": 2, "warning": 3}
MULTIPLEXED, RAW = "application/vnd.docker.multiplexed-stream", "application/vnd.docker.raw-stream"


@dataclasses.dataclass(frozen=True)
class LogQuery:
    """dockerd's log parameters: which streams, ``follow``, ``since_ns`` (0: from the start), ``tail`` (-1:
    all), ``timestamps`` and ``details`` before each line."""

    stdout: bool
    stderr: bool
    follow: bool = False
    since_ns: int = 0
    tail: int = -1
    timestamps: bool = False
    details: bool = False


def log_query(query: dict[str, str], now_ns: int) -> LogQuery:
    """The parameters of a logs request (``since`` as the docker CLI sends it, Unix seconds with up to nine
    decimals; ``tail`` a count or ``all``); EngineError 400 with dockerd's reason for what it refuses."""
    stdout, stderr = query_bool(query, "stdout"), query_bool(query, "stderr")
    if not (stdout or stderr):
        raise EngineError(400, "Bad parameters: you must choose at least one stream")
    tail = query.get("tail", "")
    if tail not in ("", "all") and not tail.isdigit():
        raise EngineError(400, 'tail value must be a positive integer or "all"')
    try:
        since_ns = parse_since(query.get("since", ""), now_ns)
    except ValueError:
        raise EngineError(400, f"invalid since {query['since'][:64]!r}: Unix seconds are expected") from None
    return LogQuery(stdout, stderr, query_bool(query, "follow"), since_ns,
                    min(int(tail), limits.COUNT) if tail.isdigit() else -1,
                    query_bool(query, "timestamps"), query_bool(query, "details"))


def frame(stream: str, payload: bytes) -> bytes:
    """One frame of dockerd's multiplexed stream: ``stream``'s number, three zero bytes, the length, the bytes."""
    return struct.pack(">BxxxI", STREAM_NUMBERS[stream], len(payload)) + payload


def details(task: dict) -> str:
    """The attributes dockerd puts before a swarm task's line with ``details=1``: sorted by key, each key and
    value query-escaped (Go's url.QueryEscape), joined by commas."""
    pairs = sorted({"com.docker.swarm.node.id": task.get("node_id", ""),
                    "com.docker.swarm.service.id": task.get("service_id", ""),
                    "com.docker.swarm.task.id": task.get("id", "")}.items())
    return ",".join(f"{urllib.parse.quote_plus(key)}={urllib.parse.quote_plus(value)}" for key, value in pairs)


class LogRounds(Follower):
    """One logs response: :meth:`request` is the next ``service_logs`` body, :meth:`chunk` the bytes of a
    round's reply; ``more`` (ask again at once) and ``ended`` (nothing more will come) as the CLI's follower."""

    def __init__(self, ref: str, query: LogQuery):
        super().__init__(ref, query.since_ns, query.tail, Options(raw=True))  # lines shaped by _shown below
        self._query = query
        self.tty = False

    def chunk(self, items: list[dict]) -> bytes:
        """The response bytes of one round's ``items``: the wanted streams' lines, framed unless the
        containers have a terminal; then each node's (or task's) warning once, as dockerd's error stream."""
        self.tty = self.tty or any(item.get("tty") for item in items if "target" in item)
        out, warnings = bytearray(), bytearray()
        for stream, text in self.take(items):
            if stream == "warning":
                warnings += self.error(text)
            elif (stream == "stdout" and self._query.stdout) or (stream == "stderr" and self._query.stderr):
                out += text.encode() if self.tty else frame(stream, text.encode())
        return bytes(out + warnings)  # the docker CLI stops at the error stream: the lines go first

    def again(self) -> bool:
        """Whether to ask another round: a node's answer was cut, or following goes on."""
        return self.more or (self._query.follow and not self.ended)

    def error(self, message: str) -> bytes:
        """dockerd's error stream saying ``message`` (a node's warning, or a round that failed)."""
        payload = f"Error grabbing logs: {message}\n".encode()
        return payload if self.tty else frame("warning", payload)

    def _shown(self, task: dict | None, ns: int, text: str) -> str:
        line = f"{details(task or {})} {text}\n" if self._query.details else f"{text}\n"
        return f"{format_timestamp(ns)} {line}" if self._query.timestamps else line

"""What an executor answers to a ``logs`` push: its containers' output for the tasks asked, bounded.

The dispatcher relays a ``service logs`` request as a push
``{"request", "tasks": [{"id", "cursors": {stream: [ns, count]}}], "since", "tail"}``;
:func:`read_request` reads each task's stdout and stderr from the engine
(blocking: run it in a thread) and returns one entry per task:
``{"id", "lines": [[ns, stream, text]], "cursors": {stream: [ns, count]}, "more": bool}``,
``{"id", "missing": True}`` when this node has no container of the task, or
``{"id", "error": text}`` when the engine refused. The whole answer holds at
most LOG_LINES_PER_REPLY lines and LOG_BYTES_PER_REPLY bytes of text; a task
cut short says ``more`` and is read on from its cursors next time.
"""

from __future__ import annotations

from actors.common.loglines import STREAMS, Cursor, LineSplitter, merged
from actors.executor.engine import EngineError
from transport import limits


class Budget:
    """Lines and bytes left for one answer."""

    def __init__(self, lines: int = limits.LOG_LINES_PER_REPLY, size: int = limits.LOG_BYTES_PER_REPLY):
        self.lines, self.bytes = lines, size

    def spend(self, splitter: LineSplitter) -> None:
        """Count what ``splitter`` kept."""
        self.lines -= len(splitter.lines)
        self.bytes -= splitter.bytes

    @property
    def spent(self) -> bool:
        """True once nothing is left."""
        return self.lines <= 0 or self.bytes <= 0


def read_request(engine, body: dict, now_ns: int) -> list[dict]:
    """The answer to one ``logs`` push ``body`` from ``engine`` (DockerEngine.read_logs), ``now_ns`` being
    this host's clock when the read began (the cursor of a stream read with ``tail`` 0)."""
    since_ns, tail = int(body.get("since") or 0), int(body.get("tail", -1))
    budget = Budget()
    answers = []
    for asked in list(body.get("tasks") or [])[:limits.LOG_TASKS_PER_REQUEST]:
        task_id = str(asked["id"])
        if budget.spent:
            answers.append({"id": task_id, "lines": [], "cursors": asked.get("cursors") or {}, "more": True})
            continue
        try:
            answers.append({"id": task_id, **read_task(engine, task_id, asked.get("cursors") or {}, since_ns, tail,
                                                       now_ns, budget)})
        except EngineError as exc:
            answers.append({"id": task_id, "error": str(exc)[:limits.STATUS_MESSAGE_CHARS]})
    return answers


def read_task(engine, task_id: str, cursors: dict, since_ns: int, tail: int, now_ns: int, budget: Budget) -> dict:
    """One task's new lines on both streams, read on from ``cursors`` (a stream without one from ``since_ns``,
    its last ``tail`` lines), within ``budget``; ``{"missing": True}`` without a container."""
    per_stream, after, more = {}, {}, False
    for stream in STREAMS:
        known = stream in cursors
        cursor = Cursor.from_wire(cursors[stream]) if known else Cursor(since_ns, 0)
        splitter = LineSplitter(stream, cursor, budget.lines, budget.bytes)
        if not engine.read_logs(task_id, stream, cursor.since_seconds() if cursor.ns else 0,
                                -1 if known else tail, splitter.add):
            return {"missing": True}
        lines = splitter.finish()
        budget.spend(splitter)
        more = more or splitter.full
        per_stream[stream] = lines
        # A stream read once has a cursor from then on, so the tail is never applied to it again; one read
        # with tail 0 showed nothing and goes on with what comes from now on.
        empty_tail = not known and tail == 0
        after[stream] = (Cursor(max(now_ns, since_ns), 0) if empty_tail else cursor.after(lines)).wire()
    # Tail cuts the union of the streams, unless a bound cut a read (then all that was read goes, in order).
    lines = merged(per_stream, -1 if more else tail if not cursors else -1)
    return {"lines": [line.wire() for line in lines], "cursors": after, "more": more}

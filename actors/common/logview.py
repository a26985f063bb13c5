"""What ``shoal service logs`` prints from the control API's rounds, and what it asks next (no IO).

A :class:`Follower` turns each round's items (actors/controlapi/logs.py)
into output lines, Docker's way: ``NAME.SLOT.TASKID@NODE    | text``
(``--no-task-ids`` drops the id, ``--no-resolve`` shows the service's and
the node's ids for their names, ``--raw`` the whole prefix, ``-t`` puts the
time before it; the output of containers with a terminal only ``--raw``), stdout and stderr lines to the matching stream, each round's
lines in time order; it keeps each task's cursors for the next round (and
the tasks it has all the output of, not to be asked about again), shows
one warning per node (or task) per run, and says whether to ask again at once (a node's answer
was cut by its bounds), later (following), or stop.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from actors.common.durations import parse_duration
from actors.common.loglines import format_timestamp
from transport import limits

TRUNC = 12  # characters of a task id shown without --no-trunc, as Docker's TruncateID
_UNIX = re.compile(r"[0-9]+(\.[0-9]{1,9})?")


def parse_tail(text: str) -> int:
    """``--tail``: a count of lines, or -1 for all (``all``, or anything that is not a count, as Docker)."""
    return min(int(text), limits.COUNT) if text.isdigit() else -1


def parse_since(text: str, now_ns: int) -> int:
    """``--since`` in nanoseconds since the epoch: a Go duration before ``now_ns`` (``42m``), an RFC 3339
    time or date (``2013-01-02T13:23:37Z``, ``2013-01-02``), or Unix seconds (``1700000000.5``); 0 for "".
    ValueError, in one line, for anything else."""
    if not text:
        return 0
    if _UNIX.fullmatch(text):
        seconds, _, fraction = text.partition(".")
        return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)
    try:
        return max(now_ns - parse_duration(text), 0)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid value for --since: {text!r}: use a duration (42m), an RFC 3339 time "
                         "(2013-01-02T13:23:37Z) or Unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return max(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000, 0)


@dataclasses.dataclass(frozen=True)
class Options:
    """How lines are shown."""

    timestamps: bool = False
    no_task_ids: bool = False
    no_trunc: bool = False
    raw: bool = False
    no_resolve: bool = False


def prefix(task: dict, options: Options) -> str:
    """``NAME.SLOT.TASKID@NODE`` (``NAME.SLOT@NODE`` with no_task_ids) for a task item ``{"id", "name", "node",
    "pad"}``, and its ``pad`` spaces (Docker aligns slots to the digits of the replicas)."""
    name, node = task["name"], task["node"]
    if options.no_resolve:  # ids where names would be, as Docker's --no-resolve
        name = f"{task['service_id']}.{name.rpartition('.')[2]}"
        node = task["node_id"]
    if not options.no_task_ids:
        name += "." + (task["id"] if options.no_trunc else task["id"][:TRUNC])
    return f"{name}@{node}" + " " * task.get("pad", 0)


class Follower:
    """One ``service logs`` run: the next request, and the output of each round."""

    def __init__(self, ref: str, since_ns: int, tail: int, options: Options):
        self._ref, self._known = ref, False
        self._since, self._tail = since_ns, tail
        self._options = options
        self._tasks: dict[str, dict] = {}
        self._cursors: dict[str, dict] = {}
        self._finished: set[str] = set()  # tasks whose whole output was read: not asked about again
        self._warned: set[str] = set()
        self.more = False  # a node's answer was cut by its bounds: ask again at once
        self.ended = ""  # why following is over, once it is

    def request(self) -> dict:
        """The body of the next ``service_logs`` request."""
        return {"ref": self._ref, "known": self._known, "since": self._since, "tail": self._tail,
                "cursors": self._cursors, "finished": sorted(self._finished)}

    def take(self, items: list[dict]) -> list[tuple[str, str]]:
        """The output of one round's ``items``: ``(stream, text)`` pairs, stream ``stdout``, ``stderr``, or
        ``warning`` (shown on stderr), in the order to print them. ValueError when the containers have a
        terminal and the lines are not ``raw`` (Docker cannot tell their streams apart either)."""
        self._known = True
        lines, out, self.more = [], [], False
        for item in items:
            if "target" in item:
                self._ref = item["target"]
                if item.get("tty") and not self._options.raw:
                    raise ValueError("tty service logs only supported with --raw")
            elif "task" in item:
                self._tasks[item["task"]["id"]] = item["task"]
            elif "line" in item:
                lines.append(item["line"])
            elif "cursor" in item:
                cursor = item["cursor"]
                if cursor.get("final"):
                    self._finished.add(cursor["id"])
                    self._cursors.pop(cursor["id"], None)
                else:
                    self._cursors[cursor["id"]] = cursor["cursors"]
                self.more = self.more or cursor["more"]
            elif "warning" in item and item.get("about", item["warning"]) not in self._warned:
                self._warned.add(item.get("about", item["warning"]))  # one per node (or task) per run
                out.append(("warning", f"warning: {item['warning']}"))
            elif "end" in item:
                self.ended = item["end"]
        for task_id, ns, stream, text in sorted(lines, key=lambda line: line[1]):
            out.append((stream, self._shown(self._tasks.get(task_id), ns, text)))
        return out

    def _shown(self, task: dict | None, ns: int, text: str) -> str:
        stamp = f"{format_timestamp(ns)} " if self._options.timestamps else ""
        if self._options.raw or task is None:
            return stamp + text
        return f"{stamp}{prefix(task, self._options)}    | {text}"

"""``service_logs``: the control API gathers container output from the dispatchers of the nodes that ran the tasks.

One request is one round: logplan.py says which dispatcher to ask about
which tasks; every node is asked at once, each for at most LOG_NODE_SECONDS,
with the host key over CURVE (a manager's key may make ``logs`` requests on
a dispatcher socket). The reply (streamed in parts) is a list of items:
``{"target": id, "tty": bool}`` of the service or task shown; ``{"task": {"id",
"name", "node", "pad"}}`` for each task shown; ``{"line": [task id, ns, stream, text]}``;
``{"cursor": {"id", "cursors", "more", "final"}}`` where a task's reading now
stands (``final``: the task had ended before this read, which got all of its
output); ``{"warning": text, "about": node or task id}`` for a node or task
that could not answer; and
``{"end": reason}`` when following is over. Only the tasks asked of a node are
taken from its answer, and only well-formed lines and cursors: a node speaks
for its own tasks alone. A follower (the CLI) asks again by the target's id,
``known`` (a target gone then ends the stream instead of failing), with the
cursors it was given and the tasks it has all of (``finished``, not asked
again); nothing is kept here between requests.
"""

from __future__ import annotations

import asyncio

import zmq

from actors.common.loglines import STREAMS, Cursor, Line
from actors.controlapi import logplan
from transport import limits
from transport.rpc import RpcClient, RpcError, RpcTimeout


class LogGatherer:
    """Asks dispatchers for tasks' output on behalf of ``service_logs`` requests."""

    def __init__(self, actor):
        self._actor = actor
        self._clients: dict[str, RpcClient] = {}  # dispatcher endpoint -> client, while it answers

    async def gather(self, view, body: dict) -> list[dict]:
        """The reply items for one ``service_logs`` request ``{"ref", "known"?, "since"?, "tail"?, "cursors"?}``."""
        cursors = _checked_cursors(body.get("cursors"))
        since, tail = _count(body.get("since", 0), 0), _count(body.get("tail", -1), -1)
        plan = logplan.plan(view.table("services"), view.table("tasks"), view.table("nodes"), body.get("ref"),
                            bool(body.get("known")), _checked_ids(body.get("finished")))
        items = [{"target": plan.target, "tty": plan.tty}] + [{"task": described} for described in plan.tasks] + [{"warning": text, "about": node_id}
                                                                     for node_id, text in plan.warnings.items()]
        answers = await asyncio.gather(*(self._ask(ask, cursors, since, tail, plan.terminal) for ask in plan.asks))
        for found in answers:
            items.extend(found)
        if plan.ended:
            items.append({"end": plan.ended})
        return items

    async def _ask(self, ask: logplan.Ask, cursors: dict, since: int, tail: int, terminal: frozenset) -> list[dict]:
        """The items of one node's answer, or one warning when it gave none."""
        client = self._clients.get(ask.endpoint)
        if client is None:
            sock = self._actor.connect(zmq.DEALER, ask.endpoint, ask.server_key.encode(),
                                       max_message_bytes=limits.DISPATCHER_MESSAGE_BYTES)
            client = self._clients[ask.endpoint] = RpcClient(sock, f"dispatcher at {ask.endpoint}")
        body = {"node_id": ask.node_id, "since": since, "tail": tail,
                "tasks": [{"id": task_id, "cursors": cursors.get(task_id, {})} for task_id in ask.task_ids]}
        try:
            answer = await client.call("logs", body, timeout=limits.LOG_NODE_SECONDS)
        except RpcError as exc:
            if isinstance(exc, RpcTimeout):  # a dispatcher that does not answer gets a fresh connection next time
                self._clients.pop(ask.endpoint, None)
                client.close()
            return [{"warning": f"node {ask.hostname}: {exc.message}: the output of its tasks is not shown",
                     "about": ask.node_id}]
        return answer_items(ask, answer, terminal)


def answer_items(ask: logplan.Ask, answer, terminal: frozenset = frozenset()) -> list[dict]:
    """The reply items a node's ``answer`` (logs.read_request's list) gives, for the tasks asked of it only;
    a task of ``terminal`` (ended before it was read) whose answer was not cut is ``final``."""
    items = []
    for entry in answer if isinstance(answer, list) else []:
        task_id = entry.get("id") if isinstance(entry, dict) else None
        if task_id not in ask.task_ids:
            continue
        if entry.get("error"):
            items.append({"warning": f"task {task_id} on node {ask.hostname}: {str(entry['error'])[:200]}",
                          "about": task_id})
            continue
        try:
            lines = [Line.from_wire(line) for line in entry.get("lines") or []]
            cursors = {stream: Cursor.from_wire(cursor).wire() for stream, cursor in (entry.get("cursors") or {}).items()
                       if stream in STREAMS}
        except (ValueError, AttributeError):
            items.append({"warning": f"node {ask.hostname} sent malformed logs for task {task_id}", "about": task_id})
            continue
        items.extend({"line": [task_id, *line.wire()]} for line in lines)
        more = bool(entry.get("more"))
        items.append({"cursor": {"id": task_id, "cursors": cursors, "more": more,
                                 "final": task_id in terminal and not more}})
    return items


def _checked_ids(value) -> frozenset[str]:
    """The request's ``finished`` task ids, checked; RpcError ``malformed`` otherwise."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or len(value) > limits.LOG_TASKS_PER_REQUEST * 10 or \
            not all(isinstance(task_id, str) and len(task_id) <= limits.ID_CHARS for task_id in value):
        raise RpcError("malformed", "finished is a list of task ids")
    return frozenset(value)


def _count(value, default: int) -> int:
    """An integer field of the request within msgpack's range (``default`` when absent)."""
    if value is None:
        return default
    if not isinstance(value, int) or not -1 <= value <= limits.COUNT:
        raise RpcError("malformed", "since and tail are integers")
    return value


def _checked_cursors(value) -> dict:
    """The request's cursors, ``{task id: {stream: [ns, count]}}``, checked; RpcError ``malformed`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > limits.LOG_TASKS_PER_REQUEST * 10:
        raise RpcError("malformed", "cursors map task ids to {stream: [nanoseconds, count]}")
    try:
        return {str(task_id): {stream: Cursor.from_wire(cursor).wire() for stream, cursor in streams.items()
                               if stream in STREAMS} for task_id, streams in value.items()}
    except (ValueError, AttributeError):
        raise RpcError("malformed", "cursors map task ids to {stream: [nanoseconds, count]}") from None

"""``service logs`` through a dispatcher: a manager's ``logs`` request, pushed to the node's session, answered
by the node's ``logs_reply``.

The control API asks the dispatcher that holds a node's session (the node's
``Shoal.Dispatcher``) for the output of some of the node's tasks; the
dispatcher pushes the request to the node's executor under a fresh request id
and waits, at most its deadline, for the executor's ``logs_reply`` carrying
that id, accepted only from the node it was sent to. A node that does not
answer in time costs its caller one ``unavailable`` error, never a hang.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Awaitable, Callable

from transport import limits
from transport.rpc import RpcError

# The dispatcher answers a little before the control API gives up on it, so the caller hears why.
ANSWER_SECONDS = limits.LOG_NODE_SECONDS - 0.5


class LogRelay:
    """Logs requests waiting for their node's answer, by request id."""

    def __init__(self):
        self._pending: dict[str, tuple[str, asyncio.Future]] = {}

    async def ask(self, node_id: str, body: dict, push: Callable[[dict], Awaitable[None]],
                  timeout: float = ANSWER_SECONDS) -> list:
        """Push ``body`` (with a request id) to ``node_id`` by ``push`` and return the tasks of its answer;
        RpcError ``unavailable`` when it gives none within ``timeout`` seconds."""
        request = secrets.token_hex(8)
        future = asyncio.get_running_loop().create_future()
        self._pending[request] = (node_id, future)
        try:
            await push({**body, "request": request})
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise RpcError("unavailable", f"node {node_id} did not send its logs within {timeout:g}s") from None
        finally:
            self._pending.pop(request, None)

    def answer(self, node_id: str, request: str, tasks: list) -> bool:
        """Hand ``tasks`` to the request ``request`` waiting for ``node_id``; False when none is (too late, or
        an id this node was not asked under)."""
        waiting = self._pending.get(request) if isinstance(request, str) else None
        if waiting is None or waiting[0] != node_id:
            return False
        if not waiting[1].done():
            waiting[1].set_result(tasks)
        return True

"""The control API's ``events`` request: its view's changes into an event log, and a bounded wait for new ones.

The feed observes the view (every change it applies, as events.py turns it
into task and node transitions); an ``events`` request
``{"epoch"?, "after"?, "since"?, "filters"?, "wait"?}`` gets the events
events.EventLog chooses, waiting up to ``wait`` seconds (at most
WAIT_SECONDS) for one when there are none yet, so a follower asks about once
per WAIT_SECONDS when nothing happens. A snapshot of the view (at start, or
after a gap in the change stream) replaces it without saying what changed:
the transitions in between are not in the log.
"""

from __future__ import annotations

import asyncio

from actors.controlapi.events import EventLog, checked_filters
from transport import limits
from transport.rpc import RpcError

WAIT_SECONDS = 2.0


class EventFeed:
    """An EventLog fed by ``view``'s changes."""

    def __init__(self, view):
        self.log = EventLog()
        self._added = asyncio.Event()  # set, and replaced, whenever events are added: no waiter takes another's
        view.observe(self)

    def record(self, table: str, object_id: str, old: dict | None, new: dict | None) -> None:
        """The view applied one change (see StoreView.observe)."""
        if self.log.record(table, object_id, old, new):
            self._added.set()
            self._added = asyncio.Event()

    def record_everything(self) -> None:
        """The view was replaced by a snapshot: what changed meanwhile is unknown."""

    async def request(self, body: dict) -> dict:
        """The reply to one ``events`` request (see the module docstring); RpcError ``malformed`` for a bad one."""
        try:
            filters = checked_filters(body.get("filters"))
        except ValueError as exc:
            raise RpcError("malformed", str(exc)) from None
        after, since, wait = body.get("after"), body.get("since") or 0, body.get("wait") or 0
        if not (after is None or isinstance(after, int)) or not isinstance(since, int) or not 0 <= since <= limits.COUNT \
                or not isinstance(wait, (int, float)):
            raise RpcError("malformed", "after and since are integers, wait a number of seconds")
        epoch = str(body.get("epoch") or "")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(wait, 0), WAIT_SECONDS)
        while True:
            added = self._added
            reply = self.log.reply(epoch, after, since, filters)
            if reply["events"] or loop.time() >= deadline:
                return reply
            try:
                await asyncio.wait_for(added.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                pass

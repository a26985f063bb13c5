"""What changed in a view since one consumer last looked.

A consumer asks its :class:`~actors.common.view.StoreView` to ``watch()`` and
gets its own :class:`ChangeSet`, in which the view records every change it
applies: the ids of changed tasks and the services and nodes they touch (a
task's change touches the service and node of its old and of its new object;
a service's or node's own change touches it), and the names of the changed
tables. After a snapshot the set says ``everything``: what happened in between
is unknown. :meth:`ChangeSet.take` hands over what was gathered and starts
afresh; :meth:`ChangeSet.wait` waits until something was gathered. Each
consumer has its own set, so one never takes another's wake-up.
"""

from __future__ import annotations

import asyncio
import dataclasses


@dataclasses.dataclass
class Changes:
    """Ids changed since the last look, by kind; ``everything`` when a snapshot replaced the view."""

    tasks: set = dataclasses.field(default_factory=set)
    services: set = dataclasses.field(default_factory=set)
    nodes: set = dataclasses.field(default_factory=set)
    tables: set = dataclasses.field(default_factory=set)
    everything: bool = False

    def __bool__(self) -> bool:
        return self.everything or bool(self.tables)


class ChangeSet:
    """One consumer's gathered changes (to the ``tables`` named, or all), and an event set while there
    are any."""

    def __init__(self, tables: frozenset[str] | None = None):
        self._tables = tables
        self._changes = Changes()
        self._event = asyncio.Event()

    def record(self, table: str, object_id: str, old: dict | None, new: dict | None) -> None:
        """Note the change of ``object_id`` in ``table`` from ``old`` to ``new`` (None: absent)."""
        if self._tables is not None and table not in self._tables:
            return
        changes = self._changes
        changes.tables.add(table)
        if table == "tasks":
            changes.tasks.add(object_id)
            for task in (old, new):
                if task is not None:
                    changes.services.add(task.get("ServiceID"))
                    changes.nodes.add(task.get("NodeID") or "")
        elif table == "services":
            changes.services.add(object_id)
        elif table == "nodes":
            changes.nodes.add(object_id)
        self._event.set()

    def record_everything(self) -> None:
        """Note that the whole view was replaced."""
        self._changes.everything = True
        self._event.set()

    def take(self) -> Changes:
        """What changed since the last take (possibly nothing), and start gathering afresh."""
        changes, self._changes = self._changes, Changes()
        self._event.clear()
        return changes

    async def wait(self, timeout: float | None) -> bool:
        """Wait until something was gathered (at once if it already was) or ``timeout`` seconds pass;
        True if something was."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

"""The scheduler's node load, kept current from its view's changes instead of rebuilt every pass.

A pass needs what every node carries (:class:`~actors.common.placement.load.NodeLoad`).
Built from the view, that is a walk over every task of the store on every
pass, by every shard: at 100k running tasks it costs more than placing a
few pending ones. :class:`KeptLoad` builds it once, then moves it one
changed task at a time, from the tasks its own
:class:`~actors.common.changeset.ChangeSet` names (again from scratch after a
snapshot). It remembers what it counted for each task, so a task's change
takes back exactly its old weight. A pass's own placements count only
during the pass (:meth:`NodeLoad.tentative`): once the store has them,
their changes count them.
"""

from __future__ import annotations

from actors.common.placement.load import Footprint, NodeLoad, footprint
from actors.common.viewindex import is_unassigned


class KeptLoad:
    """The load of the tasks of ``view`` (a StoreView, or anything with its ``watch`` and ``table``), as of
    the last :meth:`current`."""

    def __init__(self, view):
        self._view = view
        self._changes = view.watch(frozenset({"tasks"}))
        self._rebuild()

    def current(self) -> NodeLoad:
        """The load of the view's tasks now (the same object every time: a pass reads it, and records on it
        inside :meth:`NodeLoad.tentative` only)."""
        changes = self._changes.take()
        if changes.everything:
            self._rebuild()
            return self.load
        tasks = self._view.table("tasks")
        for task_id in changes.tasks:
            self._count(task_id, tasks.get(task_id))
        return self.load

    def _rebuild(self) -> None:
        self.load = NodeLoad()
        self._counted: dict[str, tuple[str, Footprint]] = {}  # task id -> its node and the weight counted there
        self._weights: dict[Footprint, Footprint] = {}  # one object per distinct weight: tasks share them
        for task_id, task in self._view.table("tasks").items():
            self._count(task_id, task)

    def _count(self, task_id: str, task: dict | None) -> None:
        """Take back what ``task_id`` weighed, and count what it weighs now (``task`` None: it is gone)."""
        old = self._counted.pop(task_id, None)
        if old is not None:
            self.load.add(*old, -1)
        if task is None or is_unassigned(task):
            return
        weight = footprint(task)
        if not (weight.active or weight.holding):
            return  # an ended task of the history weighs nothing
        weight = self._weights.setdefault(weight, weight)
        self._counted[task_id] = (task["NodeID"], weight)
        self.load.add(task["NodeID"], weight)

"""Live groupings of a tasks table, kept current one change at a time.

A :class:`TaskIndex` groups the tasks of a table three ways:

- by service: each service's tasks oldest first (:func:`age_key` order), and
  split into their histories: by slot (replicated tasks) and by node (the
  slot-less tasks of global services), also merged over all services;
- by node: the tasks on each node (``""``: not assigned yet);
- by state: the tasks of each (desired state, observed state) pair, so the
  pending ones are one lookup away.

:meth:`TaskIndex.put` moves one task from its old object to its new one
(either may be None: created, deleted); :meth:`TaskIndex.rebuild` starts again
from a whole table (after a snapshot). A status change, the common case, costs
a few dict writes: a task's age key never changes once it is created, so the
service's order and histories are patched in place rather than rebuilt. The
groups hold the table's own dicts; readers must not modify what they are
given, nor keep it past the next change. Empty groups are dropped,
so an index kept current equals one rebuilt from the same table.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from transport import schema


def age_key(task: dict) -> tuple:
    """Sort key putting older tasks first: creation time, then restart attempt, then id."""
    return (task.get("CreatedAt") or "", attempt_of(task), task.get("ID", ""))


def attempt_of(task: dict) -> int:
    """How many times the task's slot was restarted before this task (``Shoal.Attempt``)."""
    return int((task.get("Shoal") or {}).get("Attempt") or 0)


def state_key(task: dict) -> tuple[str, str]:
    """(desired state, observed state) of ``task``; the observed state is ``new`` when missing."""
    return task.get("DesiredState") or "", (task.get("Status") or {}).get("State") or schema.NEW


class AgeOrdered:
    """One service's tasks in age order: their sorted age keys and the tasks by id, with the ordered
    list and the histories computed when first asked for after a change."""

    __slots__ = ("_keys", "_tasks", "_listed", "_histories")

    def __init__(self, tasks: list[dict] = ()):
        self._tasks = {task["ID"]: task for task in tasks}
        self._keys = sorted(age_key(task) for task in tasks)
        self._listed: list[dict] | None = None
        self._histories: tuple[dict, dict] | None = None

    def __len__(self) -> int:
        return len(self._tasks)

    def put(self, task: dict) -> bool:
        """Add ``task``, or replace the object of the same id. A replacement of the same age in the same
        history (a status change) is written into the lists already made instead of dropping them.
        True if the histories were dropped (to be made again when asked for)."""
        old = self._tasks.get(task["ID"])
        self._tasks[task["ID"]] = task
        key, old_key = age_key(task), old is not None and age_key(old)
        if key == old_key:
            if self._listed is not None:
                self._listed[bisect.bisect_left(self._keys, key)] = task
            if self._histories is not None and _history_of(task) == _history_of(old):
                part, place = _history_of(task)
                history = self._histories[part][place]
                history[next(i for i, kept in enumerate(history) if kept is old)] = task
                return False
            self._histories = None
            return True
        if old is not None:
            self._drop_key(old_key)
        bisect.insort(self._keys, key)
        self._listed = self._histories = None
        return True

    def remove(self, task: dict) -> None:
        """Remove the task of ``task``'s id (nothing if absent)."""
        old = self._tasks.pop(task["ID"], None)
        if old is not None:
            self._drop_key(age_key(old))
            self._listed = self._histories = None

    def _drop_key(self, key: tuple) -> None:
        del self._keys[bisect.bisect_left(self._keys, key)]

    def listed(self) -> list[dict]:
        """The tasks, oldest first."""
        if self._listed is None:
            self._listed = [self._tasks[key[-1]] for key in self._keys]
        return self._listed

    def histories(self) -> tuple[dict[int, list[dict]], dict[str, list[dict]]]:
        """(slot -> tasks in that slot, node id -> slot-less tasks on that node), oldest first."""
        if self._histories is None:
            histories = (defaultdict(list), defaultdict(list))
            for task in self.listed():
                part, key = _history_of(task)
                histories[part][key].append(task)
            self._histories = dict(histories[0]), dict(histories[1])
        return self._histories


def history_key(task: dict) -> tuple:
    """The group a task's history is kept in: (service, slot), or (service, "node:" + node) for slot-less
    tasks."""
    slot = task.get("Slot")
    return (task.get("ServiceID"), slot) if slot else (task.get("ServiceID"), "node:" + (task.get("NodeID") or ""))


def _history_of(task: dict) -> tuple[int, int | str]:
    """Where ``task``'s history is in :meth:`AgeOrdered.histories`: (0, its slot), or (1, its node) when
    it has no slot."""
    return (0, int(task["Slot"])) if task.get("Slot") else (1, task.get("NodeID") or "")


class TaskIndex:
    """Tasks by service (age-ordered), by node and by (desired, observed) state."""

    def __init__(self, tasks: dict[str, dict] | None = None):
        self.rebuild(tasks or {})

    def rebuild(self, tasks: dict[str, dict]) -> None:
        """Forget everything and index ``tasks`` (id -> task)."""
        per_service: dict[str, list[dict]] = defaultdict(list)
        self._by_node: dict[str, dict[str, dict]] = defaultdict(dict)
        self._by_state: dict[tuple, dict[str, dict]] = defaultdict(dict)
        for task in tasks.values():
            per_service[task.get("ServiceID")].append(task)
            self._by_node[task.get("NodeID") or ""][task["ID"]] = task
            self._by_state[state_key(task)][task["ID"]] = task
        self._by_service = {service_id: AgeOrdered(own) for service_id, own in per_service.items()}
        self._all_histories: dict[tuple, list[dict]] | None = None

    def put(self, old: dict | None, new: dict | None) -> None:
        """Index ``new`` in place of ``old`` (the same task's previous object); None for either side
        when the task is created or deleted."""
        if new is None:
            if old is not None:
                self._leave_service(old)
                _leave(self._by_node, old.get("NodeID") or "", old)
                _leave(self._by_state, state_key(old), old)
            return
        if old is not None and old.get("ServiceID") != new.get("ServiceID"):
            self._leave_service(old)
        group = self._by_service.get(new.get("ServiceID"))
        if group is None:
            group = self._by_service[new.get("ServiceID")] = AgeOrdered()
        if group.put(new):
            self._all_histories = None
        _move(self._by_node, old and (old.get("NodeID") or ""), new.get("NodeID") or "", old, new)
        _move(self._by_state, old and state_key(old), state_key(new), old, new)

    def _leave_service(self, task: dict) -> None:
        group = self._by_service.get(task.get("ServiceID"))
        if group is not None:
            self._all_histories = None
            group.remove(task)
            if not group:
                del self._by_service[task.get("ServiceID")]

    def service_ids(self):
        """Ids of the services that have tasks (a task's ServiceID, None included, as stored)."""
        return self._by_service.keys()

    def of_service(self, service_id: str) -> list[dict]:
        """Tasks of ``service_id``, oldest first (empty if none)."""
        group = self._by_service.get(service_id)
        return group.listed() if group is not None else []

    def histories_of(self, service_id: str) -> tuple[dict[int, list[dict]], dict[str, list[dict]]]:
        """``service_id``'s (slot -> tasks in that slot, node id -> slot-less tasks on that node), oldest
        first (``""``: not assigned yet)."""
        group = self._by_service.get(service_id)
        return group.histories() if group is not None else ({}, {})

    def all_histories(self) -> dict[tuple, list[dict]]:
        """:func:`history_key` -> the tasks of that history, oldest first, for every service; kept
        between calls while only tasks' states change (their lists are patched in place)."""
        if self._all_histories is None:
            merged = {}
            for service_id in self._by_service:
                slots, nodes = self.histories_of(service_id)
                merged.update(((service_id, slot), tasks) for slot, tasks in slots.items())
                merged.update(((service_id, "node:" + node_id), tasks) for node_id, tasks in nodes.items())
            self._all_histories = merged
        return self._all_histories

    def on_node(self, node_id: str) -> dict[str, dict]:
        """Task id -> task of the tasks on ``node_id`` (``""``: the unassigned ones)."""
        return self._by_node.get(node_id, {})

    def node_ids(self):
        """Ids of the nodes that have tasks (``""`` for unassigned tasks)."""
        return self._by_node.keys()

    def in_state(self, desired: str, observed: str) -> dict[str, dict]:
        """Task id -> task of the tasks desired ``desired`` and observed ``observed``."""
        return self._by_state.get((desired, observed), {})

    def state_keys(self):
        """The (desired, observed) pairs some task is in."""
        return self._by_state.keys()


def _move(groups: dict, old_key, new_key, old: dict | None, new: dict) -> None:
    """Put ``new`` in ``groups[new_key]``, first taking ``old`` (if any) out of ``groups[old_key]``
    when that is another group."""
    if old is not None and old_key != new_key:
        _leave(groups, old_key, old)
    groups[new_key][new["ID"]] = new


def _leave(groups: dict, key, task: dict) -> None:
    """Remove ``task`` from ``groups[key]``, dropping the group when it empties."""
    group = groups.get(key)
    if group is not None and group.pop(task["ID"], None) is not None and not group:
        del groups[key]

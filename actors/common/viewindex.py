"""Read-only helpers shared by the pure controller cores (orchestrator, allocator, scheduler).

- :class:`Decision` is what every core returns: the store ops to propose and
  when it wants to be called again.
- :class:`ViewIndex` wraps a view (a :class:`~actors.common.view.StoreView`,
  a dict ``{"cluster", "nodes", "services", "tasks"}`` or any object with those
  attributes) and lazily builds the groupings the cores need.
- The remaining functions classify tasks and nodes and build version-checked
  ops, so the three cores say the same thing the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from transport import schema

TABLE_NAMES = ("nodes", "services", "tasks")

# Status.Message of a task waiting in ``pending`` for a node (Docker's wording).
PENDING_MESSAGE = "pending task scheduling"


@dataclass
class Decision:
    """Store ops to propose (in order, one batch) and when to run again (epoch seconds, None = on change)."""

    ops: list[dict] = field(default_factory=list)
    wake_at: float | None = None

    def wake_no_later_than(self, moment: float) -> None:
        """Lower ``wake_at`` to ``moment`` if that is earlier (or nothing is set)."""
        if self.wake_at is None or moment < self.wake_at:
            self.wake_at = moment


class ViewIndex:
    """The cluster, nodes, services and tasks of a view, with cached groupings of the tasks."""

    def __init__(self, view):
        self.cluster, tables = _read_view(view)
        self.nodes: dict[str, dict] = tables["nodes"]
        self.services: dict[str, dict] = tables["services"]
        self.tasks: dict[str, dict] = tables["tasks"]

    @cached_property
    def tasks_by_service(self) -> dict[str, list[dict]]:
        """Service id -> its tasks, oldest first."""
        return _group(self.tasks.values(), lambda task: task.get("ServiceID"))

    @cached_property
    def tasks_by_history(self) -> dict[tuple, list[dict]]:
        """:func:`history_key` -> tasks sharing that slot (or node, for slot-less tasks), oldest first."""
        return _group(self.tasks.values(), history_key)

    @cached_property
    def placement_load(self):
        """The :class:`~actors.common.placement.load.NodeLoad` of every task: what each node carries.
        Built once per view; a core may record on it the placements it decides, for later decisions."""
        from actors.common.placement.load import NodeLoad  # imported here: placement builds on this module
        return NodeLoad(self.tasks.values())

    @cached_property
    def ready_node_ids(self) -> frozenset[str]:
        """Ids of the nodes that take new tasks: those the scheduler's first filter lets through."""
        from actors.common.placement.filters import ReadyFilter  # imported here: placement builds on this module
        ready = ReadyFilter()
        return frozenset(node_id for node_id, node in self.nodes.items() if ready.accepts(node, {}))

    @cached_property
    def sorted_nodes(self) -> list[dict]:
        """Every node, by id."""
        return [self.nodes[node_id] for node_id in sorted(self.nodes)]

    def service_tasks(self, service_id: str) -> list[dict]:
        """Tasks of ``service_id``, oldest first (empty if none)."""
        return self.tasks_by_service.get(service_id, [])

    def service_slots(self, service_id: str) -> dict[int, list[dict]]:
        """Slot number -> tasks of ``service_id`` in that slot, oldest first (slot-less tasks left out)."""
        slots: dict[int, list[dict]] = defaultdict(list)
        for task in self.service_tasks(service_id):
            if task.get("Slot"):
                slots[int(task["Slot"])].append(task)
        return dict(slots)

    def service_nodes(self, service_id: str) -> dict[str, list[dict]]:
        """Node id -> slot-less (global) tasks of ``service_id`` on that node, oldest first."""
        nodes: dict[str, list[dict]] = defaultdict(list)
        for task in self.service_tasks(service_id):
            if not task.get("Slot"):
                nodes[task.get("NodeID") or ""].append(task)
        return dict(nodes)

    def node_lost(self, node_id: str) -> bool:
        """True if a task on ``node_id`` cannot run there any more: the node is down or gone.

        An empty ``node_id`` (task not assigned yet) is never lost.
        """
        if not node_id:
            return False
        node = self.nodes.get(node_id)
        return node is None or schema.get_path(node, "Status.State") == schema.NODE_DOWN

    def retention_limit(self) -> int:
        """The cluster's ``TaskHistoryRetentionLimit`` (5 when unset)."""
        limit = schema.get_path(self.cluster or {}, "Spec.Orchestration.TaskHistoryRetentionLimit")
        return 5 if limit is None else int(limit)


def _read_view(view) -> tuple[dict | None, dict[str, dict]]:
    if isinstance(view, dict):
        return view.get("cluster"), {name: view.get(name) or {} for name in TABLE_NAMES}
    if callable(getattr(view, "table", None)):  # a StoreView
        return view.cluster, {name: view.table(name) for name in TABLE_NAMES}
    return getattr(view, "cluster", None), {name: getattr(view, name, None) or {} for name in TABLE_NAMES}


def _group(tasks: Iterable[dict], key) -> dict:
    groups: dict = defaultdict(list)
    for task in sorted(tasks, key=age_key):
        groups[key(task)].append(task)
    return dict(groups)


def age_key(task: dict) -> tuple:
    """Sort key putting older tasks first: creation time, then restart attempt, then id."""
    return (task.get("CreatedAt") or "", attempt_of(task), task.get("ID", ""))


def history_key(task: dict) -> tuple:
    """The group a task's history is kept in: (service, slot), or (service, node) for slot-less tasks."""
    slot = task.get("Slot")
    return (task.get("ServiceID"), slot) if slot else (task.get("ServiceID"), "node:" + (task.get("NodeID") or ""))


def attempt_of(task: dict) -> int:
    """How many times the task's slot was restarted before this task (``Shoal.Attempt``)."""
    return int(schema.get_path(task, "Shoal.Attempt", 0) or 0)


def observed_state(task: dict) -> str:
    """The task's observed ``Status.State`` (``new`` when missing)."""
    return schema.get_path(task, "Status.State") or schema.NEW


def wants_running(task: dict) -> bool:
    """True if the task's desired state is ``running`` (it is meant to run, or to be replaced when it ends)."""
    return task.get("DesiredState") == schema.RUNNING


def is_ended(task: dict) -> bool:
    """True if the task's observed state is terminal."""
    return schema.is_terminal(observed_state(task))


def is_running(task: dict) -> bool:
    """True if the task is observed ``running`` and meant to be (what ``service ls`` counts as running)."""
    return wants_running(task) and observed_state(task) == schema.RUNNING


def is_unassigned(task: dict) -> bool:
    """True if no node was chosen for the task yet."""
    return not task.get("NodeID")


def is_active(task: dict) -> bool:
    """True if the task occupies its node: desired running and not ended."""
    return wants_running(task) and not is_ended(task)


def patch_op(table: str, obj: dict, changes: dict) -> dict:
    """A patch of ``changes`` (dotted path -> value) on ``obj``, refused if ``obj`` changed since it was read."""
    return {"op": "patch", "table": table, "id": obj["ID"], "set": changes, "version": schema.version_of(obj)}


def delete_op(table: str, obj: dict) -> dict:
    """A delete of ``obj``, refused if it changed since it was read."""
    return {"op": "delete", "table": table, "id": obj["ID"], "version": schema.version_of(obj)}


def status_note_op(task: dict, message: str, err: str) -> dict | None:
    """Patch the task's ``Status.Message``/``Status.Err`` to explain why it waits; None if already said."""
    if schema.get_path(task, "Status.Message") == message and schema.get_path(task, "Status.Err") == err:
        return None
    return patch_op("tasks", task, {"Status.Message": message, "Status.Err": err})

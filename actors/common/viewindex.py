"""Read-only helpers shared by the pure controller cores (orchestrator, allocator, scheduler).

- :class:`Decision` is what every core returns: the store ops to propose and
  when it wants to be called again.
- :class:`ViewIndex` wraps a view (a :class:`~actors.common.view.StoreView`,
  a dict ``{"cluster", "nodes", "services", "tasks"}`` or any object with those
  attributes) and gives the cores the groupings they need: from the view's
  live :class:`~actors.common.taskindex.TaskIndex` when it keeps one (a
  StoreView does, so a pass does not regroup every task), else from one built
  for this pass.
- The remaining functions classify tasks and nodes and build version-checked
  ops, so the three cores say the same thing the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from actors.common.taskindex import TaskIndex, age_key, attempt_of, history_key
from transport import schema

__all__ = ["TABLE_NAMES", "PENDING_MESSAGE", "Decision", "ViewIndex", "age_key", "attempt_of", "history_key", "read_table",
           "observed_state", "wants_running", "is_ended", "is_running", "is_unassigned", "is_active", "patch_op",
           "delete_op", "status_note_op"]

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
    """The cluster, nodes, services and tasks of a view, with groupings of the tasks.

    The lists and dicts it hands out may be the live index's own: read them, never modify them."""

    def __init__(self, view):
        self.cluster, tables = _read_view(view)
        self.nodes: dict[str, dict] = tables["nodes"]
        self.services: dict[str, dict] = tables["services"]
        self.tasks: dict[str, dict] = tables["tasks"]
        self._live: TaskIndex | None = getattr(view, "task_index", None)
        self._in_state_by_service: dict[tuple[str, str], dict[str, list[dict]]] = {}

    @cached_property
    def task_index(self) -> TaskIndex:
        """The view's live task index, or one built from its tasks on first use."""
        return self._live if self._live is not None else TaskIndex(self.tasks)

    @cached_property
    def tasks_by_service(self) -> dict[str, list[dict]]:
        """Service id -> its tasks, oldest first."""
        index = self.task_index
        return {service_id: index.of_service(service_id) for service_id in index.service_ids()}

    @cached_property
    def tasks_by_history(self) -> dict[tuple, list[dict]]:
        """:func:`history_key` -> tasks sharing that slot (or node, for slot-less tasks), oldest first."""
        return self.task_index.all_histories()

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
        return self.task_index.of_service(service_id)

    def service_slots(self, service_id: str) -> dict[int, list[dict]]:
        """Slot number -> tasks of ``service_id`` in that slot, oldest first (slot-less tasks left out)."""
        return dict(self.task_index.histories_of(service_id)[0])

    def service_nodes(self, service_id: str) -> dict[str, list[dict]]:
        """Node id -> slot-less (global) tasks of ``service_id`` on that node, oldest first."""
        return dict(self.task_index.histories_of(service_id)[1])

    def tasks_in_state(self, desired: str, observed: str) -> dict[str, dict]:
        """Task id -> task of the tasks desired ``desired`` and observed ``observed`` (e.g. the pending
        ones: ``tasks_in_state("running", "pending")``)."""
        return self.task_index.in_state(desired, observed)

    def service_tasks_in_state(self, service_id: str, desired: str, observed: str) -> list[dict]:
        """Tasks of ``service_id`` desired ``desired`` and observed ``observed``, oldest first: read from
        the tasks in that state, grouped once per pass (not from all the service's tasks)."""
        grouped = self._in_state_by_service.get((desired, observed))
        if grouped is None:
            grouped = self._in_state_by_service[(desired, observed)] = defaultdict(list)
            for task in sorted(self.tasks_in_state(desired, observed).values(), key=age_key):
                grouped[task.get("ServiceID")].append(task)
        return grouped.get(service_id, [])

    def node_tasks(self, node_id: str) -> dict[str, dict]:
        """Task id -> task of the tasks on ``node_id``."""
        return self.task_index.on_node(node_id)

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


def read_table(view, name: str) -> dict[str, dict]:
    """Table ``name`` of a view: a StoreView, a dict of tables, or an object with one attribute per table
    ({} when it has none)."""
    if isinstance(view, dict):
        return view.get(name) or {}
    if callable(getattr(view, "table", None)):  # a StoreView
        return view.table(name)
    return getattr(view, name, None) or {}


def _read_view(view) -> tuple[dict | None, dict[str, dict]]:
    cluster = view.get("cluster") if isinstance(view, dict) else getattr(view, "cluster", None)
    return cluster, {name: read_table(view, name) for name in TABLE_NAMES}


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

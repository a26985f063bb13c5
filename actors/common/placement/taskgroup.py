"""Placing pending tasks group by group, as swarmkit does: screen the nodes once, then hand out from a heap.

Tasks of one service and spec version that ask the same of a node (the same
``Spec`` and ``Endpoint``, all a filter reads besides the service) form a
*group*: every filter gives them the same answer on a node with the same
load. So the
nodes are screened once per group, and the group's tasks are then handed out
one at a time by :class:`GroupPlacement`, which picks for each the node
:func:`~actors.common.placement.spread.best_node` would pick, keeping its
ranking current after each placement instead of ranking every candidate
again. A pass over P pending tasks in G groups on N nodes then costs about
G x N filter checks plus P heap steps, instead of P x N.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from typing import Callable, Iterable

from actors.common.placement.filters import Pipeline
from actors.common.placement.load import NodeLoad, footprint
from actors.common.placement.spread import spread_labels, spread_path
from actors.common.viewindex import age_key


def demands(task: dict) -> tuple:
    """What the filters read of ``task`` besides its service: its ``Spec`` and ``Endpoint``."""
    return task.get("Spec"), task.get("Endpoint")


def task_groups(tasks: Iterable[dict], wanted: Callable[[dict], bool] = lambda task: True,
                services: Callable[[str | None], bool] = lambda service_id: True) -> list[list[dict]]:
    """``tasks`` split into groups that place alike (same service, spec version and :func:`demands`),
    each group oldest first, the groups in the order of their oldest tasks; only the groups whose tasks
    are ``wanted`` (asked of one task per group: a predicate of what the group shares), and only of the
    ``services`` named (asked once per service, before its tasks are compared: a shard skips the
    tasks of the services it cannot own at the cost of a dictionary look-up each)."""
    by_version: defaultdict[tuple, list[tuple[tuple, list[dict]]]] = defaultdict(list)
    looked_at: dict[str | None, bool] = {}
    for task in tasks:
        service_id = task.get("ServiceID")
        taken = looked_at.get(service_id)
        if taken is None:
            taken = looked_at[service_id] = services(service_id)
        if not taken:
            continue
        alike = by_version[(service_id, (task.get("SpecVersion") or {}).get("Index"))]
        asks = demands(task)
        for seen, members in alike:
            if seen == asks:
                members.append(task)
                break
        else:
            alike.append((asks, [task]))
    groups = [sorted(members, key=age_key) for alike in by_version.values() for _, members in alike
              if wanted(members[0])]
    return sorted(groups, key=lambda group: age_key(group[0]))


class GroupPlacement:
    """Hands out the tasks of one group over the nodes that take them, making for each task the choice
    :func:`~actors.common.placement.spread.best_node` would make after the earlier ones were placed.

    The candidates sit in one heap per spread group (a node's values of the spread labels), keyed by the
    node's tasks of the service, its tasks overall and its id; a task goes to the top of the heap whose
    groups hold the fewest of the service's tasks, outermost first (without spread preferences there is
    one heap). A placement changes only the chosen node: it is screened again (resources, host ports and
    MaxReplicas may now refuse it) and goes back into its heap, or leaves the candidates for the reason.
    """

    def __init__(self, nodes: list[dict], task: dict, pipeline: Pipeline, load: NodeLoad):
        self.load, self.service, self.weight = load, task.get("ServiceID"), footprint(task)
        self.narrowing = pipeline.applying(task)
        self.explain = pipeline.explain
        labels = spread_labels(task)
        candidates, self.rejected = pipeline.screen(nodes, task)
        self.paths: dict[str, tuple] = {}
        self.heaps: defaultdict[tuple, list] = defaultdict(list)
        # Tasks of the service under each spread-group prefix, over the candidates only (as Ranking counts).
        self.in_group: Counter = Counter()
        for node in candidates:
            path = self.paths[node["ID"]] = spread_path(node, labels)
            self.heaps[path].append(self._entry(node))
            self._count(path, load.of_service(node["ID"], self.service))
        for heap in self.heaps.values():
            heapq.heapify(heap)

    def take(self, task: dict) -> dict | None:
        """The node ``task`` goes to, with the task counted there from now on; None when no node takes it
        (:meth:`reason` says why)."""
        if not self.heaps:
            return None
        path = next(iter(self.heaps)) if len(self.heaps) == 1 else min(
            self.heaps, key=lambda path: self._group_counts(path) + self.heaps[path][0][:3])
        heap = self.heaps[path]
        node = heapq.heappop(heap)[3]
        before = self.load.of_service(node["ID"], self.service)
        self.load.add(node["ID"], self.weight)
        failed = next((number for number, rule in self.narrowing if not rule.accepts(node, task)), None)
        if failed is None:
            self._count(path, self.load.of_service(node["ID"], self.service) - before)
            heapq.heappush(heap, self._entry(node))
        else:
            self._count(path, -before)
            self.rejected[failed] += 1
            if not heap:
                del self.heaps[path]
        return node

    def reason(self) -> str:
        """Why no node takes the group's next task, in Swarm's words."""
        return self.explain(self.rejected)

    def _entry(self, node: dict) -> tuple:
        node_id = node["ID"]
        return self.load.of_service(node_id, self.service), self.load.total[node_id], node_id, node

    def _count(self, path: tuple, tasks: int) -> None:
        for depth in range(1, len(path) + 1):
            self.in_group[path[:depth]] += tasks

    def _group_counts(self, path: tuple) -> tuple:
        return tuple(self.in_group[path[:depth]] for depth in range(1, len(path) + 1))

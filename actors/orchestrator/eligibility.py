"""Which nodes may hold a service's tasks: drain, pause, node loss and the constraint enforcer.

A node *takes new tasks* of a service when it is ready, its availability is
``active`` and it satisfies the service's placement constraints (global
services create tasks only there). A task must *leave* its node, at once and
whatever the restart policy, when the node is down or gone, drained, or no
longer satisfies the constraints (a label removed: Swarm's constraint
enforcer). A paused node, or one whose state is not known yet, keeps the
tasks it has but takes no new ones.
"""

from __future__ import annotations

from actors.common import constraints, nodes
from actors.common.viewindex import ViewIndex
from transport import schema

DOWN = "node is down"
GONE = "node was removed"
DRAINED = "node is drained"
UNSATISFIED = "node no longer satisfies the service's constraints"


class NodeRules:
    """The node rules of one service in one view, its constraints parsed once and each node judged once
    (a service has many tasks per node)."""

    def __init__(self, index: ViewIndex, service: dict):
        self.index = index
        self.constraints = constraints.of_service(service)
        self._evictions: dict[str, str | None] = {}

    def eviction(self, node_id: str) -> str | None:
        """Why a task of the service on ``node_id`` must leave it now, or None when it may stay
        (an unassigned task, with an empty ``node_id``, always may)."""
        if node_id not in self._evictions:
            self._evictions[node_id] = self._judge(node_id)
        return self._evictions[node_id]

    def _judge(self, node_id: str) -> str | None:
        if not node_id:
            return None
        node = self.index.nodes.get(node_id)
        if node is None:
            return GONE
        if schema.get_path(node, "Status.State") == schema.NODE_DOWN:
            return DOWN
        if nodes.availability(node) == schema.DRAIN:
            return DRAINED
        if not constraints.matches(self.constraints, node):
            return UNSATISFIED
        return None

    def takes_new_tasks(self, node: dict) -> bool:
        """True if ``node`` may be given a new task of the service: ready, active, constraints hold."""
        return nodes.takes_new_tasks(node) and constraints.matches(self.constraints, node)

"""Choosing among the nodes that may take a task: spread preferences, then the least loaded node.

Like swarmkit's placement tree, the candidates are grouped by the value of
the first ``Placement.Preferences`` spread label, each group by the second,
and so on (nodes lacking a label form a group of their own, value ""). The
task goes to the group holding the fewest tasks of its service at the first
level, within it to the group with the fewest at the second, and so on; among
the nodes of the final group it goes to the one with the fewest tasks of its
service, then the fewest tasks overall, then the lowest id. Placing tasks one
at a time this way evens out every level, as swarmkit's tree does.
"""

from __future__ import annotations

from collections import Counter

from actors.common import constraints
from actors.common.placement.filters import placement
from actors.common.placement.load import NodeLoad


def spread_labels(task: dict) -> list[str]:
    """The label keys of the task's spread preferences, outermost first (malformed ones skipped)."""
    labels = []
    for preference in placement(task).get("Preferences") or []:
        descriptor = ((preference or {}).get("Spread") or {}).get("SpreadDescriptor") or ""
        try:
            labels.append(constraints.parse_spread(descriptor))
        except ValueError:  # the control API refuses these; one that got in anyway spreads over nothing
            continue
    return labels


def spread_path(node: dict, labels: list[str]) -> tuple:
    """The node's values of the spread ``labels``, outermost first ("" where it lacks one): its group
    at each level."""
    return tuple(constraints.attribute(label, node) for label in labels)


class Ranking:
    """The candidates for one task, ranked: lower :meth:`key` is better."""

    def __init__(self, candidates: list[dict], task: dict, load: NodeLoad):
        self.candidates, self.load, self.service = candidates, load, task.get("ServiceID")
        self.labels = spread_labels(task)
        self.paths = {node["ID"]: spread_path(node, self.labels) for node in candidates}
        # Tasks of the service under each group prefix, counted over the candidates only, as swarmkit's tree is.
        self.in_group: Counter = Counter()
        for node in candidates:
            for depth in range(1, len(self.labels) + 1):
                self.in_group[self.paths[node["ID"]][:depth]] += load.of_service(node["ID"], self.service)

    def spread_key(self, node: dict) -> tuple:
        """How crowded the candidate ``node`` is with the service: its groups' task counts, outermost
        first, then its own count."""
        path = self.paths[node["ID"]]
        groups = tuple(self.in_group[path[:depth]] for depth in range(1, len(self.labels) + 1))
        return groups + (self.load.of_service(node["ID"], self.service),)

    def key(self, node: dict) -> tuple:
        """:meth:`spread_key`, then the node's tasks overall, then its id."""
        return self.spread_key(node) + (self.load.total[node["ID"]], node["ID"])

    def best(self) -> dict:
        """The best candidate (there must be one)."""
        return min(self.candidates, key=self.key)


def best_node(candidates: list[dict], task: dict, load: NodeLoad) -> dict:
    """The candidate (non-empty list) ``task`` goes to: spread preferences first, then the least loaded."""
    return Ranking(candidates, task, load).best()

"""The rules a node must pass to take a task, each explaining its refusals in Swarm's words.

In the order Swarm applies them: the node is up and active, has the
resources the task reserves, satisfies its constraints, runs one of its
platforms, has its host-mode published ports free, and holds fewer than
MaxReplicas tasks of its service. A
:class:`Pipeline` runs them and words the ``no suitable node (...)`` error.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Protocol, Sequence

from actors.common import constraints, nodes
from actors.common.placement.load import NodeLoad, host_ports, reservations
from transport import schema


class Filter(Protocol):
    """A rule a node must pass to take a task.

    It reads of the task only its ``ServiceID``, ``Spec`` and ``Endpoint`` (what
    :func:`~actors.common.placement.taskgroup.demands` compares), so a task group is screened once.
    Two optional promises make screening cheaper (a filter that makes neither is asked every time):

    - ``reads_load = False``: its answer depends only on the node and the task's ``Spec.Placement``
      (a :class:`Pipeline` keeps it for the pass);
    - ``applies_to(task)`` False: it accepts every node for ``task`` (asks nothing of what it counts).
      Only the filters that read the load and apply to a task are asked again after a placement."""

    def accepts(self, node: dict, task: dict) -> bool:
        """True if ``node`` may take ``task``."""

    def explain(self, rejected: int) -> str:
        """Why ``rejected`` (> 0) nodes failed this filter, in Swarm's words."""


def on_nodes(rejected: int) -> str:
    """``1 node`` or ``N nodes``."""
    return f"{rejected} node{'' if rejected == 1 else 's'}"


def placement(task: dict) -> dict:
    """The task's ``Spec.Placement`` ({} when it has none)."""
    return schema.get_path(task, "Spec.Placement") or {}


class LoadBlind:
    """A filter whose answer depends only on the node and the task's ``Spec.Placement``."""

    reads_load = False


class ReadyFilter(LoadBlind):
    """Only nodes that are ``ready`` and ``active`` take new tasks."""

    def accepts(self, node: dict, task: dict) -> bool:
        """True if the node is up and its availability is ``active``."""
        return nodes.takes_new_tasks(node)

    def explain(self, rejected: int) -> str:
        """``1 node not available for new tasks``, as Swarm says."""
        return f"{on_nodes(rejected)} not available for new tasks"


class ResourceFilter:
    """The node's reported CPUs and memory, less what its tasks reserve, cover the task's reservations."""

    def __init__(self, load: NodeLoad):
        self.load = load

    def applies_to(self, task: dict) -> bool:
        """True if the task reserves something."""
        return reservations(task) != (0, 0)

    def accepts(self, node: dict, task: dict) -> bool:
        """True if the task reserves nothing, or no more than the node has free."""
        cpus, memory = reservations(task)
        if not cpus and not memory:
            return True
        free_cpus, free_memory = self.load.free(node)
        return cpus <= free_cpus and memory <= free_memory

    def explain(self, rejected: int) -> str:
        """``insufficient resources on 2 nodes``, as Swarm says."""
        return f"insufficient resources on {on_nodes(rejected)}"


@lru_cache(maxsize=1024)
def _parsed(expressions: tuple[str, ...]) -> list[constraints.Constraint] | None:
    try:
        return constraints.parse(expressions)
    except ValueError:  # the control API refuses these; one that got in anyway matches no node
        return None


class ConstraintFilter(LoadBlind):
    """The node satisfies every expression of the task's ``Placement.Constraints``."""

    def accepts(self, node: dict, task: dict) -> bool:
        """True if every constraint holds on the node (and always when there are none)."""
        parsed = _parsed(tuple(placement(task).get("Constraints") or ()))
        return parsed is not None and constraints.matches(parsed, node)

    def explain(self, rejected: int) -> str:
        """``scheduling constraints not satisfied on 3 nodes``, as Swarm says."""
        return f"scheduling constraints not satisfied on {on_nodes(rejected)}"


# Docker reports the engine's architecture as uname does; images name Go's.
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i386": "386", "i686": "386"}


def _architecture(name: str) -> str:
    return _ARCHITECTURES.get(name.lower(), name.lower())


class PlatformFilter(LoadBlind):
    """The node runs one of the task's ``Placement.Platforms`` (an empty field matches any)."""

    def accepts(self, node: dict, task: dict) -> bool:
        """True if the task names no platforms, the node reports none, or one matches the node's."""
        platforms = placement(task).get("Platforms") or []
        reported = schema.get_path(node, "Description.Platform") or {}
        if not platforms or not reported:
            return True
        os, arch = (reported.get("OS") or "").lower(), _architecture(reported.get("Architecture") or "")
        return any((not wanted.get("OS") or wanted["OS"].lower() == os)
                   and (not wanted.get("Architecture") or _architecture(wanted["Architecture"]) == arch)
                   for wanted in platforms)

    def explain(self, rejected: int) -> str:
        """``unsupported platform on 1 node``, as Swarm says."""
        return f"unsupported platform on {on_nodes(rejected)}"


class HostPortFilter:
    """No task on the node holds a host-mode port the task publishes."""

    def __init__(self, load: NodeLoad):
        self.load = load

    def applies_to(self, task: dict) -> bool:
        """True if the task publishes a host-mode port."""
        return bool(host_ports(task))

    def accepts(self, node: dict, task: dict) -> bool:
        """True if every host-mode published port of the task is free on the node."""
        return not any(self.load.port_taken(node["ID"], port) for port in host_ports(task))

    def explain(self, rejected: int) -> str:
        """``host-mode port already in use on 1 node``, as Swarm says."""
        return f"host-mode port already in use on {on_nodes(rejected)}"


class MaxReplicasFilter:
    """The node holds fewer active tasks of the task's service than ``Placement.MaxReplicas`` (0: no limit)."""

    def __init__(self, load: NodeLoad):
        self.load = load

    def applies_to(self, task: dict) -> bool:
        """True if the service sets a limit."""
        return bool(placement(task).get("MaxReplicas"))

    def accepts(self, node: dict, task: dict) -> bool:
        """True if the service sets no limit or the node is below it."""
        limit = placement(task).get("MaxReplicas") or 0
        return not limit or self.load.of_service(node["ID"], task.get("ServiceID")) < limit

    def explain(self, rejected: int) -> str:
        """``max replicas per node limit exceed``, as Swarm says (without a count)."""
        return "max replicas per node limit exceed"


class Pipeline:
    """Filters, in order; a node is counted against the first filter it fails. One pipeline serves one
    pass, over nodes that do not change meanwhile: it keeps what the filters that do not read the load
    say of a list of nodes, for the next task with the same ``Spec.Placement``."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = list(filters)
        self._blind = [(number, rule) for number, rule in enumerate(self.filters)
                       if not getattr(rule, "reads_load", True)]
        self._reading = [(number, rule) for number, rule in enumerate(self.filters)
                         if getattr(rule, "reads_load", True)]
        self._blind_verdicts: dict[tuple, tuple[list[dict], list[int | None]]] = {}

    def first_failure(self, node: dict, task: dict) -> int | None:
        """The number of the first filter refusing ``node`` for ``task``; None when every filter accepts it."""
        return next((number for number, rule in enumerate(self.filters) if not rule.accepts(node, task)), None)

    def applying(self, task: dict) -> list[tuple[int, Filter]]:
        """(number, filter) of the filters that read the load and apply to ``task`` (see :class:`Filter`):
        the only ones whose answer on a node changes when a task alike is placed there."""
        return [(number, rule) for number, rule in self._reading
                if getattr(rule, "applies_to", lambda task: True)(task)]

    def screen(self, nodes: list[dict], task: dict) -> tuple[list[dict], Counter]:
        """Nodes that pass every filter for ``task`` (in the order given), and filter number -> nodes it
        refused first."""
        applying = self.applying(task)
        passed, rejected = [], Counter()
        for node, failed in zip(nodes, self._blind_failures(nodes, task)):
            for number, rule in applying:
                if failed is not None and number > failed:
                    break
                if not rule.accepts(node, task):
                    failed = number
                    break
            if failed is None:
                passed.append(node)
            else:
                rejected[failed] += 1
        return passed, rejected

    def _blind_failures(self, nodes: list[dict], task: dict) -> list[int | None]:
        """Per node, the first filter not reading the load that refuses it for ``task`` (None: none)."""
        key = (id(nodes), repr(placement(task)))
        kept = self._blind_verdicts.get(key)
        if kept is None or kept[0] is not nodes:  # the list is kept with its verdicts, so its id is not reused
            failures = [next((number for number, rule in self._blind if not rule.accepts(node, task)), None)
                        for node in nodes]
            kept = self._blind_verdicts[key] = (nodes, failures)
        return kept[1]

    def explain(self, rejected: Counter) -> str:
        """``no suitable node (...)`` for users: each refusing filter's explanation, the one that refused most
        nodes first, as Swarm orders them."""
        ranked = sorted(((number, count) for number, count in rejected.items() if count),
                        key=lambda item: (-item[1], item[0]))
        reasons = [self.filters[number].explain(count) for number, count in ranked]
        return "no suitable node" + (f" ({'; '.join(reasons)})" if reasons else "")

    def candidates(self, nodes: list[dict], task: dict) -> tuple[list[dict], str]:
        """Nodes that pass every filter for ``task``, and (when there are none) why: :meth:`explain`."""
        passed, rejected = self.screen(nodes, task)
        return passed, self.explain(rejected)


def default_pipeline(load: NodeLoad) -> Pipeline:
    """The filters every placement goes through, in Swarm's order, reading ``load`` for the pass."""
    return Pipeline([ReadyFilter(), ResourceFilter(load), ConstraintFilter(), PlatformFilter(), HostPortFilter(load),
                     MaxReplicasFilter(load)])

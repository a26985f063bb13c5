"""What each node already carries: task counts (for spread and MaxReplicas) and reserved resources.

A :class:`NodeLoad` is built per view (``ViewIndex.placement_load``) from
the store's tasks, or kept from the view's changes (the scheduler's
``KeptLoad``), and then told about every placement (or, for the
rebalancer, every move) a pass decides, so the filters and the spread see
the tasks placed moments earlier in the same pass.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from typing import Iterator, NamedTuple

from actors.common.viewindex import is_active, is_ended, is_unassigned
from transport import schema


def reservations(task: dict) -> tuple[int, int]:
    """The task's reserved (NanoCPUs, MemoryBytes), 0 for what it does not reserve."""
    reserved = schema.get_path(task, "Spec.Resources.Reservations") or {}
    return int(reserved.get("NanoCPUs") or 0), int(reserved.get("MemoryBytes") or 0)


def host_ports(task: dict) -> set[tuple[str, int]]:
    """The (protocol, port) pairs the task publishes in host mode on its node (dynamic ones left out)."""
    return {((port.get("Protocol") or "tcp"), port["PublishedPort"])
            for port in schema.get_path(task, "Endpoint.Ports") or []
            if port.get("PublishMode") == "host" and port.get("PublishedPort")}


def capacity(node: dict) -> tuple[int, int]:
    """The node's reported (NanoCPUs, MemoryBytes), 0 for what it does not report."""
    reported = schema.get_path(node, "Description.Resources") or {}
    return int(reported.get("NanoCPUs") or 0), int(reported.get("MemoryBytes") or 0)


class Footprint(NamedTuple):
    """What a task weighs on its node."""

    service: str | None
    active: bool  # it counts among the node's tasks (and its service's): desired running, not ended
    holding: bool  # it holds its reservations and host ports: not ended
    cpus: int
    memory: int
    ports: frozenset  # host-mode (protocol, port) pairs


def footprint(task: dict) -> Footprint:
    """What ``task`` weighs on its node. A task told to stop still holds its reservation and ports until it
    has ended: freeing them earlier would let a replacement over-commit the node while the old container
    still runs."""
    cpus, memory = reservations(task)
    return Footprint(task.get("ServiceID"), is_active(task), not is_ended(task), cpus, memory,
                     frozenset(host_ports(task)))


class NodeLoad:
    """Per node: active tasks in all and per service, and the resources and host-mode ports its unended
    tasks hold."""

    def __init__(self, tasks=()):
        self._journal: list[tuple[str, Footprint, int]] | None = None  # what to undo, inside :meth:`tentative`
        self.total: Counter = Counter()
        self.per_service: defaultdict[str, Counter] = defaultdict(Counter)  # service id -> node id -> tasks
        self.cpus: Counter = Counter()
        self.memory: Counter = Counter()
        self.ports: defaultdict[str, Counter] = defaultdict(Counter)  # node id -> (protocol, port) -> tasks
        for task in tasks:
            if not is_unassigned(task):
                self.record(task["NodeID"], task)

    def record(self, node_id: str, task: dict) -> None:
        """Count ``task`` as placed on ``node_id``."""
        self.add(node_id, footprint(task))

    def forget(self, node_id: str, task: dict) -> None:
        """Stop counting ``task`` on ``node_id`` (undoes :meth:`record`: to weigh moving it elsewhere)."""
        self.add(node_id, footprint(task), -1)

    def add(self, node_id: str, weight: Footprint, sign: int = 1) -> None:
        """Count a task of :func:`footprint` ``weight`` on ``node_id`` (``sign`` -1: stop counting it)."""
        if self._journal is not None:
            self._journal.append((node_id, weight, sign))
        if weight.active:
            self.total[node_id] += sign
            self.per_service[weight.service][node_id] += sign
        if weight.holding:
            self.cpus[node_id] += sign * weight.cpus
            self.memory[node_id] += sign * weight.memory
            for port in weight.ports:
                self.ports[node_id][port] += sign

    @contextlib.contextmanager
    def tentative(self) -> Iterator["NodeLoad"]:
        """Within the block, what is counted or forgotten counts; at its end it is undone (a pass's own
        decisions, which count once the store has them)."""
        self._journal = journal = []
        try:
            yield self
        finally:
            self._journal = None
            for node_id, weight, sign in reversed(journal):
                self.add(node_id, weight, -sign)

    def of_service(self, node_id: str, service_id: str) -> int:
        """Active tasks of ``service_id`` on ``node_id``."""
        return self.per_service[service_id][node_id]

    def nodes_of(self, service_id: str) -> Counter:
        """Node id -> active tasks of ``service_id`` on it (nodes it has left may show 0)."""
        return self.per_service[service_id]

    def port_taken(self, node_id: str, port: tuple[str, int]) -> bool:
        """True if a task on ``node_id`` holds the host-mode ``(protocol, port)``."""
        return self.ports[node_id][port] > 0

    def free(self, node: dict) -> tuple[int, int]:
        """The node's (NanoCPUs, MemoryBytes) not reserved by its tasks."""
        cpus, memory = capacity(node)
        return cpus - self.cpus[node["ID"]], memory - self.memory[node["ID"]]

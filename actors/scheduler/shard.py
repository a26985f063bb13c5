"""Which pending tasks one scheduler process places, when several share the work.

Shard K of N (``bin/shoal-actor scheduler --shard K/N``) places the tasks of
the services whose id hashes (CRC-32) to K modulo N, under its own lease:
``scheduler`` for shard 0, as an unsharded scheduler, and ``scheduler-K``
for the others, so each shard has one active instance cluster-wide and the
others on other managers stand by.

Shards place in parallel from their own views, each blind to the others'
placements until they are committed. That only blurs the spread (each
counts the other's tasks a moment late), except for what a node can hold
once: a task that reserves resources, publishes a host-mode port or sets
MaxReplicas is placed by shard 0 whatever its service, so the process that
checks those limits sees every placement that counts against them (other
shards place only tasks that hold none of them). The one gap: MaxReplicas
counts a service's tasks of every spec, so while an update that adds it
rolls, tasks of the old spec placed by another shard count against it only
once committed.
"""

from __future__ import annotations

import dataclasses
import zlib

from actors.common.hostconfig import MAX_SHARDS
from actors.common.placement.filters import placement
from actors.common.placement.load import host_ports, reservations

BASE_LEASE = "scheduler"


@dataclasses.dataclass(frozen=True)
class Shard:
    """Shard ``number`` of ``count`` (0 of 1: every task)."""

    number: int = 0
    count: int = 1

    def __post_init__(self):
        if not 0 <= self.number < self.count <= MAX_SHARDS:
            raise ValueError(f"shard {self.number} of {self.count}: want 0 <= K < N <= {MAX_SHARDS}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` -> Shard(K, N); ValueError when malformed or out of range."""
        number, slash, count = text.partition("/")
        if not slash or not number.isdigit() or not count.isdigit():
            raise ValueError(f"shard {text!r}: want K/N, e.g. 1/2")
        return cls(int(number), int(count))

    @property
    def lease(self) -> str:
        """The name of the lease this shard's active instance holds."""
        return BASE_LEASE if self.number == 0 else f"{BASE_LEASE}-{self.number}"

    def owns(self, task: dict) -> bool:
        """True if this shard places ``task``: a function of its ``ServiceID``, ``Spec`` and ``Endpoint``,
        so of its task group."""
        if self.count == 1:
            return True
        if holds_node_limits(task):
            return self.number == 0
        return _hashed(task.get("ServiceID"), self.count) == self.number

    def may_own_service(self, service_id: str | None) -> bool:
        """False only when none of ``service_id``'s tasks can be this shard's: the service hashes to another
        shard, and this is not shard 0 (which also places the tasks of every service that hold node limits)."""
        return self.count == 1 or self.number == 0 or _hashed(service_id, self.count) == self.number


def _hashed(service_id: str | None, count: int) -> int:
    """The shard of ``count`` whose services include ``service_id``."""
    return zlib.crc32((service_id or "").encode()) % count


EVERY_TASK = Shard()


def holds_node_limits(task: dict) -> bool:
    """True if ``task`` takes part of something a node holds a limited amount of: reserved resources,
    host-mode ports, or places under its service's MaxReplicas."""
    return reservations(task) != (0, 0) or bool(host_ports(task)) or bool(placement(task).get("MaxReplicas"))

"""The loop shared by the single-instance controllers (orchestrator, allocator, scheduler).

A controller holds a lease in the store and stamps every proposal with the
lease's epoch, so a stale instance's writes are refused (``fenced``). The lease
follows the Raft leader (actors/common/leases.py): the instance on the leader's
node takes it from an instance elsewhere, and at once from one on a member the
leader reports unreachable, so its writes are not forwarded and a dead
manager's controllers are replaced without waiting for their lease to lapse. While it
holds the lease it runs its pure decision function on its view whenever the
view changes or the function's wake-up time comes, proposes the ops, and
waits until its view includes its own write before deciding again. It tells
``on_lease`` when it takes and when it loses the lease, so the metrics only the
holder exports are removed from a standby's. A
decision's ops go in proposals of at most MAX_OPS_PER_PROPOSAL ops and
PROPOSAL_BYTES each, counting the objects they rewrite, so many large tasks
never make one oversized message or one long batch on the Raft loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from prometheus_client import Counter, Gauge, Histogram

from actors.common import leases
from actors.common.actor import ActorContext
from actors.common.series import start_at_zero
from actors.common.storeclient import StoreClient, StoreError
from actors.common.view import StoreView
from transport import limits
from transport.pages import encoded_size, pages

LEASE_TTL = 3.0
LEASE_RENEW = 1.0
IDLE_WAKE = 1.0
MAX_OPS_PER_PROPOSAL = 500

PASSES = Counter("shoal_reconcile_passes_total", "Decision passes run by this controller", ["controller"])
PASS_SECONDS = Histogram("shoal_reconcile_pass_seconds", "Time to compute one decision pass", ["controller"],
                         buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
OPS = Counter("shoal_controller_ops_total", "Store ops proposed by this controller", ["controller"])
PROPOSAL_ERRORS = Counter("shoal_controller_proposal_errors_total", "Proposals refused or failed", ["controller", "code"])
COMMIT_SECONDS = Histogram("shoal_controller_commit_seconds", "Proposal round trip until committed and applied", ["controller"],
                           buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
LEASE_HELD = Gauge("shoal_controller_lease_held", "1 while this instance holds its controller lease", ["controller"])
VIEW_INDEX = Gauge("shoal_view_index", "Last store index applied to this actor's view", ["actor"])
WALL_CLOCK_SKEW = Gauge("shoal_wall_clock_skew_seconds", "This host's wall clock minus the store's clock as this "
                        "actor's view has it (leases and delays follow the store's; a jump shows here)", ["actor"])

# The codes a controller's proposal is most often refused with (its series start at 0; others appear when met).
PROPOSAL_REFUSALS = ("conflict", "fenced", "no_leader", "timeout", "invalid", "disk_full", "unavailable")

# What a controller's view holds: the tables its core reads (ViewIndex) and the leases.
VIEW_TABLES = frozenset({"cluster", "nodes", "services", "tasks", "leases"})

Decide = Callable[[StoreView, float], object]  # returns an object with .ops and .wake_at


class Controller:
    """Runs ``decide`` under the lease ``name`` until cancelled."""

    def __init__(self, actor: ActorContext, name: str, decide: Decide, on_pass: Callable[[StoreView], None] | None = None,
                 tables: frozenset[str] = VIEW_TABLES, on_lease: Callable[[bool], None] | None = None):
        self._actor = actor
        self._name = name
        self._decide = decide
        self._on_pass = on_pass or (lambda view: None)
        self._on_lease = on_lease or (lambda held: None)
        LEASE_HELD.labels(name).set(0)
        for metric in (PASSES, PASS_SECONDS, OPS, COMMIT_SECONDS):
            start_at_zero(metric, [name])
        start_at_zero(PROPOSAL_ERRORS, [name], PROPOSAL_REFUSALS)
        self._holder = f"{actor.config.node_id}/{name}"
        self._store = StoreClient.for_actor(actor)
        self.view = StoreView(actor, self._store, tables=tables)  # must hold "leases"
        self._epoch: int | None = None
        self._lease_expires = 0.0
        self._lease_index = 0  # the store index at which the lease was last granted

    async def run(self) -> None:
        """Start the view, then keep the lease and reconcile until cancelled."""
        await self.view.start()
        view_task = asyncio.ensure_future(self.view.run())
        try:
            await self._loop()
        finally:
            view_task.cancel()

    async def _loop(self) -> None:
        while True:
            if not await self._hold_lease():
                # A node's ManagerStatus changing (a new leader, a member found unreachable) can make the lease
                # ours to take: look again on every change, and at least every LEASE_RENEW.
                await self.view.wait_changed(LEASE_RENEW)
                continue
            now = self.view.now()
            started = time.perf_counter()
            decision = self._decide(self.view, now)
            PASSES.labels(self._name).inc()
            PASS_SECONDS.labels(self._name).observe(time.perf_counter() - started)
            self._on_pass(self.view)
            VIEW_INDEX.labels(self._name).set(self.view.index)
            WALL_CLOCK_SKEW.labels(self._name).set(time.time() - now)
            if decision.ops:
                # A long pass may have outlived the lease: renew it first, and propose only if it is still
                # ours with the same epoch (else the fence would refuse every proposal of every long pass).
                epoch = self._epoch
                if await self._hold_lease() and self._epoch == epoch:
                    await self._propose(decision.ops)
                continue
            wake_at = decision.wake_at
            timeout = IDLE_WAKE if wake_at is None else max(0.0, min(IDLE_WAKE, wake_at - self.view.now()))
            await self.view.wait_changed(timeout)

    async def _hold_lease(self) -> bool:
        """Acquire or renew the lease when due; True while it is held. The lease follows the Raft leader
        (actors/common/leases.py): a controller on another node asks for it only when its view says the
        store would grant it, and gives it up as soon as its view shows it taken."""
        now = time.monotonic()
        lease = self.view.table("leases").get(self._name)
        if self._epoch is not None and self.view.index >= self._lease_index and lease is not None \
                and (lease["Holder"], lease["Epoch"]) != (self._holder, self._epoch):
            self._lose_lease(f"taken by {lease['Holder']} (epoch {lease['Epoch']})")
            return False
        if self._epoch is not None and now < self._lease_expires - (LEASE_TTL - LEASE_RENEW):
            return True
        if self._epoch is None and leases.refusal(lease, self._holder, self.view.table("nodes"), self.view.now(),
                                                  LEASE_TTL, follows_leader=True) is not None:
            return False
        try:
            result = await self._store.propose([{"op": "lease", "name": self._name, "holder": self._holder,
                                                 "ttl": LEASE_TTL, "follow_leader": True}])
        except StoreError as exc:
            self._lose_lease(str(exc))
            return False
        epoch = result["results"][0]["Epoch"]
        if epoch != self._epoch:
            self._actor.log.info("holding lease", lease=self._name, epoch=epoch)
        taken = self._epoch is None
        self._epoch, self._lease_expires, self._lease_index = epoch, now + LEASE_TTL, result["index"]
        LEASE_HELD.labels(self._name).set(1)
        if taken:
            self._on_lease(True)
        await self._wait_for_index(result["index"])
        return True

    def _lose_lease(self, reason: str) -> None:
        if self._epoch is not None:
            self._actor.log.warning("lost lease", lease=self._name, error=reason)
            self._on_lease(False)
        self._epoch = None
        LEASE_HELD.labels(self._name).set(0)

    async def _propose(self, ops: list[dict]) -> None:
        epoch = self._epoch
        fence = {"lease": self._name, "epoch": epoch}
        for number, chunk in enumerate(pages(ops, limits.PROPOSAL_BYTES, MAX_OPS_PER_PROPOSAL, self._written_bytes)):
            # The chunks of a large decision can take longer than the lease lives: renew it when due, and
            # stop (to decide again) once it is no longer ours with the same epoch.
            if number and not (await self._hold_lease() and self._epoch == epoch):
                return
            started = time.perf_counter()
            try:
                result = await self._store.propose(chunk, fence=fence)
            except StoreError as exc:
                PROPOSAL_ERRORS.labels(self._name, exc.code).inc()
                self._actor.log.info("proposal refused", code=exc.code, error=str(exc), ops=len(chunk))
                if exc.code == "fenced":
                    self._lose_lease("fenced")
                # The view will show what changed; decide again from there.
                await self.view.wait_changed(0.05 if exc.code == "conflict" else 0.5)
                return
            COMMIT_SECONDS.labels(self._name).observe(time.perf_counter() - started)
            OPS.labels(self._name).inc(len(chunk))
            await self._wait_for_index(result["index"])

    def _written_bytes(self, op: dict) -> int:
        """What ``op`` makes the Raft member validate, store and publish: the op, plus the object it rewrites
        or deletes (a small patch of a large task writes the whole task again)."""
        target = self.view.tables.get(op.get("table"), {}).get(op.get("id")) if "id" in op else None
        return encoded_size(op) + (encoded_size(target) if target is not None else 0)

    async def _wait_for_index(self, index: int) -> None:
        """Wait (bounded) until the view has applied ``index``, so the next pass sees our write."""
        await self.view.wait_index(index, 5.0)

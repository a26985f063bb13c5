"""The leader's reconfiguration loop: Raft membership and ManagerStatus follow the store's nodes.

Every MEMBERSHIP_SECONDS, on the leader only, it asks :mod:`actors.raft.roles`
for the next membership change (learner, promote, remove, or a leadership
transfer before its own removal), hands it to the core, and proposes the
``ManagerStatus`` patches for nodes whose status changed (one such proposal
in flight at a time).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from prometheus_client import Counter

from actors.raft import roles
from actors.raft.core import NotLeader, RaftCore
from actors.raft.store import Store
from actors.raft.values import ConfChangeRefused

MEMBERSHIP_SECONDS = 0.25
CATCH_UP_LAG = 64  # a learner this close to the leader's last index may vote

MEMBERSHIP_CHANGES = Counter("shoal_raft_membership_changes_total", "Membership changes proposed by this leader", ["action"])


class Reconfigurer:
    """Runs beside a member; acts only while that member leads."""

    def __init__(self, core: RaftCore, store: Store, submit: Callable[[dict], asyncio.Future],
                 wake: Callable[[], None], log, reachable: Callable[[], set[str]]):
        """``submit`` proposes a batch (a future of its result), ``wake`` has the member process the
        core's new work, ``reachable`` names the members heard from recently."""
        self._core = core
        self._store = store
        self._submit = submit
        self._wake = wake
        self._log = log
        self._reachable = reachable
        self._status_write: asyncio.Future | None = None

    async def run(self) -> None:
        """Reconcile every MEMBERSHIP_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(MEMBERSHIP_SECONDS)
            if self._core.role != "leader" or not self._store.list("cluster"):
                continue
            nodes = {node["ID"]: node for node in self._store.list("nodes")}
            self._change_membership(nodes)
            self._publish_manager_status(nodes)

    def _change_membership(self, nodes: dict[str, dict]) -> None:
        core = self._core
        match = {peer: progress["match"] for peer, progress in core.status().get("progress", {}).items()}
        change = roles.next_change(roles.wanted_managers(nodes), core.voters, core.learners, core.id,
                                   match, core.last_index, CATCH_UP_LAG)
        if change is None:
            return
        try:
            if change.action == roles.TRANSFER:
                core.transfer_leadership(change.node_id)
            else:
                core.propose_conf_change(change.action, change.node_id)
        except (ConfChangeRefused, NotLeader) as exc:
            self._log.debug("membership change deferred", action=change.action, node=change.node_id, reason=str(exc))
            return
        MEMBERSHIP_CHANGES.labels(change.action).inc()
        self._log.info("membership change", action=change.action, node=change.node_id)
        self._wake()

    def _publish_manager_status(self, nodes: dict[str, dict]) -> None:
        if self._status_write is not None and not self._status_write.done():
            return
        core = self._core
        ops = roles.manager_status_ops(nodes, core.voters, core.learners, core.id, self._reachable())
        if not ops:
            return
        try:
            self._status_write = self._submit({"ops": ops})
        except NotLeader:
            return
        self._status_write.add_done_callback(lambda f: f.cancelled() or f.exception())

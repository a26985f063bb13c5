"""The orchestrator's pass over what changed: only the services whose decision may have changed.

A service's decision (reconcile.py) reads its spec, its tasks, the nodes and
the cluster object, and the time. So after a pass, a service needs deciding
again only when one of those changed, or when its last pass left it
*unsettled* (:func:`~actors.orchestrator.reconcile.reconcile_services`: it
proposed ops, which may have been refused; it wants a wake-up; or the pass's
creation budget ran out for it). A change to a node or to the cluster object
makes every service dirty; so does a snapshot. With many services, a task's
status report costs the pass one service, not all of them (the reaper's
history too: it is kept per service).

One approximation, in the rebalancer only (rebalance.py): it weighs moves
against every task's reservations, so a move that another service's tasks
leaving a node makes possible is found on the service's next change or the
next node change, not at once.
"""

from __future__ import annotations

from actors.common.changeset import ChangeSet, Changes
from actors.common.viewindex import Decision
from actors.orchestrator.reconcile import reconcile_services
from actors.orchestrator.slots import IdFactory
from transport import schema

WATCHED = frozenset({"services", "tasks", "nodes", "cluster"})
EVERY_SERVICE = frozenset({"nodes", "cluster"})  # a change in these tables may change any service's decision


class DirtyServices:
    """The ids of the services the next pass decides for (None: every service)."""

    def __init__(self):
        self._every = True  # nothing decided yet
        self._ids: set = set()

    def note(self, changes: Changes) -> None:
        """Add what ``changes`` (a view's :class:`Changes` since the last pass) may have changed."""
        if changes.everything or changes.tables & EVERY_SERVICE:
            self._every = True
        self._ids |= changes.services

    def keep(self, unsettled: set) -> None:
        """Decide the ``unsettled`` services again on the next pass, whatever changes."""
        self._ids |= unsettled

    def take(self) -> set | None:
        """The services to decide for now (None: every one), and start gathering afresh."""
        chosen = None if self._every else self._ids
        self._every, self._ids = False, set()
        return chosen


class ChangedServicesReconcile:
    """The orchestrator's decide function (``Controller``'s ``decide``): :func:`reconcile_services` over
    the dirty services of a :class:`~actors.common.view.StoreView`, watched from the first call on
    (which decides for every service)."""

    def __init__(self, new_id: IdFactory = schema.new_id):
        self._new_id = new_id
        self._changes: ChangeSet | None = None
        self._dirty = DirtyServices()

    def __call__(self, view, now: float) -> Decision:
        if self._changes is None:
            self._changes = view.watch(WATCHED)
        else:
            self._dirty.note(self._changes.take())
        decision, unsettled = reconcile_services(view, now, self._dirty.take(), self._new_id)
        self._dirty.keep(unsettled)
        return decision

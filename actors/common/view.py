"""An actor's local view of the store, kept current from the change stream.

The view subscribes to the Raft member's change stream first, then reads a
snapshot, then applies every change with a higher index. A view made for
some tables (``StoreView(..., tables=...)``) reads only those from the
snapshot, skips the changes of the others, and refuses to hand them out. A gap in the
indexes (a dropped message), a missing part of a batch published in parts
(actors/common/changes.py; a batch applies only whole), or a ``reset`` (the
member installed a leader's snapshot), makes it read a fresh snapshot. Readers see
plain dicts ``tables[name][id] -> object``; they never write to them.
Tasks hold one copy per service of the parts they share (actors/common/sharing.py).
The view keeps :attr:`StoreView.task_index` (actors/common/taskindex.py) current
with each change and rebuilds it with each snapshot, and records each change in
the :class:`~actors.common.changeset.ChangeSet` of every consumer that asked to
:meth:`StoreView.watch`. :meth:`StoreView.wait_changed` is not woken by batches
that only renew leases (same holder, same epoch); :meth:`StoreView.wait_index` waits for a given batch.
:meth:`StoreView.now` is the store's time (actors/common/clock.py): judge
leases and deadlines by it, not by this host's wall clock.
"""

from __future__ import annotations

import asyncio
import time

import zmq

from actors.common.actor import ActorContext
from actors.common.changes import BatchAssembler, Gap
from actors.common.changeset import ChangeSet
from actors.common.clock import ViewClock
from actors.common.sharing import SharedParts
from actors.common.storeclient import StoreClient
from actors.common.taskindex import TaskIndex
from transport import codec


class StoreView:
    """Tables mirrored from the store, with an event that fires on each applied batch."""

    def __init__(self, actor: ActorContext, store: StoreClient, tables: frozenset[str] | None = None):
        self._actor = actor
        self._store = store
        self._subscribed = tables  # None: every table
        self.tables: dict[str, dict[str, dict]] = {}
        self.index = 0
        self.task_index = TaskIndex()
        self._shared = SharedParts()
        self._watchers: list[ChangeSet] = []
        self._clock = ViewClock()
        self._changed = asyncio.Event()  # set by a batch that did more than renew leases
        self._applied = asyncio.Event()  # set, and replaced, by every batch and snapshot
        self._sub = None
        self._parts = BatchAssembler()

    @property
    def cluster(self) -> dict | None:
        """The cluster object, or None before bootstrap."""
        return next(iter(self.table("cluster").values()), None)

    def now(self) -> float:
        """The store's time: the last applied batch's entry time plus the monotonic time since
        (this host's wall clock only until the first batch arrives)."""
        return self._clock.now(time.monotonic(), time.time())

    def table(self, name: str) -> dict[str, dict]:
        """Objects of table ``name`` by id (empty if none); ValueError if the view does not subscribe to it."""
        if self._subscribed is not None and name not in self._subscribed:
            raise ValueError(f"this view does not subscribe to table {name!r}")
        return self.tables.setdefault(name, {})

    def observe(self, observer) -> None:
        """Have ``observer.record(table, id, old, new)`` called for every change applied from now on, and
        ``observer.record_everything()`` for every snapshot (the control API's event feed)."""
        self._watchers.append(observer)

    def watch(self, tables: frozenset[str] | None = None) -> ChangeSet:
        """A new :class:`ChangeSet` of the changes applied from now on (to ``tables``, or to any table)."""
        watcher = ChangeSet(tables)
        self._watchers.append(watcher)
        return watcher

    async def start(self) -> None:
        """Subscribe, then load the first snapshot (retrying until the member answers)."""
        manager = self._actor.config.local_manager()
        self._sub = self._actor.connect(zmq.SUB, manager.endpoint("changes"), manager.public_key.encode())
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        self._sub.setsockopt(zmq.RCVHWM, 100000)
        await self._resnapshot()

    async def run(self) -> None:
        """Apply changes as they arrive, until cancelled."""
        while True:
            data = await self._sub.recv()
            try:
                batch = codec.decode(data)
            except codec.CodecError as exc:
                self._actor.log.warning("dropped malformed change", error=str(exc))
                continue
            if batch["index"] <= self.index:
                continue
            try:
                if batch["index"] != self.index + 1 or batch.get("reset"):
                    raise Gap(f"batch {batch['index']} follows {self.index}" if not batch.get("reset") else "store reset")
                batch = self._parts.add(batch)
            except Gap as gap:
                self._actor.log.info("change stream gap or store reset, taking a snapshot", have=self.index,
                                     got=batch["index"], reason=str(gap))
                await self._resnapshot()
                continue
            if batch is not None:
                self.apply(batch)

    def apply(self, batch: dict) -> None:
        """Apply one published batch (``{"index", "changes"}``) and signal waiters."""
        news = False  # anything but lease renewals
        for change in batch["changes"]:
            name, object_id = change["table"], change["id"]
            if self._subscribed is not None and name not in self._subscribed:
                continue
            table = self.table(name)
            if change["action"] == "delete":
                old, new = table.pop(object_id, None), None
            else:
                old, new = table.get(object_id), change["object"]
                if name == "tasks":
                    self._shared.share(new)
                table[object_id] = new
            if name == "tasks":
                self.task_index.put(old, new)
            elif name == "services" and new is None:
                self._shared.forget_service(object_id)
            news = news or name != "leases" or not _renewal(old, new)
            for watcher in self._watchers:
                watcher.record(name, object_id, old, new)
        self.index = batch["index"]
        if batch.get("time"):  # 0: a membership entry applied before the member knew any entry's time
            self._clock.observed(batch["time"], time.monotonic())
        # Renewals of leases (each controller's and dispatcher's, several a second) change nothing a
        # decision reads: they wake only those waiting for their index. A lease taken or let go wakes all.
        if news:
            self._changed.set()
        self._signal_applied()

    async def _resnapshot(self) -> None:
        while True:
            try:
                snap = await self._store.snapshot(tables=self._subscribed)
                break
            except Exception as exc:  # the member may still be starting; keep trying
                self._actor.log.info("waiting for the store", error=str(exc))
                await asyncio.sleep(0.2)
        self.load(snap)

    def load(self, snap: dict) -> None:
        """Replace the view with a snapshot (``{"index", "tables"}``; of the tables it subscribes to, any
        other left out) and signal waiters."""
        self.tables = {name: objects for name, objects in snap["tables"].items()
                       if self._subscribed is None or name in self._subscribed}
        self.index = snap["index"]
        tasks = self.tables.get("tasks", {})
        self._shared.clear()
        for task in tasks.values():
            self._shared.share(task)
        self.task_index.rebuild(tasks)
        for watcher in self._watchers:
            watcher.record_everything()
        self._parts.reset()
        self._changed.set()
        self._signal_applied()

    def _signal_applied(self) -> None:
        self._applied.set()
        self._applied = asyncio.Event()

    async def wait_changed(self, timeout: float | None) -> bool:
        """Wait until a batch that did more than renew leases (or a snapshot) is applied after the last
        wait, or ``timeout`` seconds; True if one was. To wait for a write to show, use :meth:`wait_index`."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self._changed.clear()
        return True

    async def wait_index(self, index: int, timeout: float) -> bool:
        """Wait until the view has applied ``index`` (any batch, leases included), at most ``timeout``
        seconds; True if it has. Every waiter is woken by every batch: none takes another's wake-up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.index < index:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._applied.wait(), remaining)
            except asyncio.TimeoutError:
                return self.index >= index
        return True


def _renewal(old: dict | None, new: dict | None) -> bool:
    """True if the lease write from ``old`` to ``new`` only renewed it: same holder, same epoch."""
    return (old is not None and new is not None and old.get("Holder") == new.get("Holder")
            and old.get("Epoch") == new.get("Epoch"))

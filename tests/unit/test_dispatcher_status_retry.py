"""Status reports the store did not take (no leader during an election) are proposed again, not dropped."""

import asyncio
import types

from prometheus_client import REGISTRY

from actors.common.peak import PEAK_WINDOW, WindowPeak
from actors.dispatcher.actor import Dispatcher
from actors.common.storeclient import StoreError


class FakeStore:
    """Refuses the first ``refusals`` proposals with ``no_leader``; records every proposal."""

    def __init__(self, refusals: int):
        self.refusals = refusals
        self.proposed = []
        self.queue_gauge = []  # the status-queue gauge as each proposal was made

    async def propose(self, ops, fence=None, timeout=5.0):
        self.proposed.append(ops)
        self.queue_gauge.append(REGISTRY.get_sample_value("shoal_dispatcher_status_queue"))
        if len(self.proposed) <= self.refusals:
            raise StoreError("no_leader", "the managers are electing one")
        return {"index": len(self.proposed), "results": []}


def dispatcher_with_fake_store(store, tasks):
    dispatcher = Dispatcher.__new__(Dispatcher)
    dispatcher._store = store
    dispatcher._view = types.SimpleNamespace(table=lambda name: tasks)
    dispatcher._log = types.SimpleNamespace(warning=lambda *a, **k: None)
    dispatcher._reports = {}
    dispatcher._reports_ready = asyncio.Event()
    dispatcher._proposing = dispatcher._queue_level = 0
    dispatcher._queue_peak = WindowPeak(PEAK_WINDOW, 0.0)
    return dispatcher


def test_reports_refused_for_want_of_a_leader_are_proposed_again_with_fake_store():
    tasks = {"t1": {"ID": "t1", "NodeID": "n1", "Status": {"State": "accepted"}, "Version": {"Index": 3}}}
    store = FakeStore(refusals=2)

    async def scenario():
        dispatcher = dispatcher_with_fake_store(store, tasks)
        dispatcher._reports = {"n1": {"t1": {"State": "running", "Message": "started", "Timestamp": "x"}}}
        dispatcher._reports_ready.set()
        flushing = asyncio.ensure_future(dispatcher._flush_loop())
        for _ in range(100):
            if len(store.proposed) >= 3:
                break
            await asyncio.sleep(0.05)
        flushing.cancel()
        await asyncio.gather(flushing, return_exceptions=True)

    asyncio.run(scenario())
    assert len(store.proposed) == 3
    assert [ops[0]["set"]["Status"]["State"] for ops in store.proposed] == ["running"] * 3
    # The report waiting was counted while it was proposed, each time; none waits at the end.
    assert store.queue_gauge == [1, 1, 1] and REGISTRY.get_sample_value("shoal_dispatcher_status_queue") == 0

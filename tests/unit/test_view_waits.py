"""StoreView's waits: renewals of leases (same holder, same epoch) do not wake wait_changed (the
controllers' idle wait), a lease taken or let go does, and wait_index sees every batch and wakes every
waiter."""

from __future__ import annotations

import asyncio

from actors.common.view import StoreView


def lease_batch(index: int, holder: str = "m1/scheduler", epoch: int = 1) -> dict:
    lease = {"ID": "scheduler", "Holder": holder, "Epoch": epoch, "Expires": index}
    return {"index": index, "time": 0, "changes": [{"table": "leases", "id": "scheduler", "action": "put", "object": lease}]}


def task_batch(index: int) -> dict:
    return {"index": index, "time": 0, "changes": [
        {"table": "tasks", "id": "t", "action": "put", "object": {"ID": "t", "ServiceID": "s"}}]}


def later(seconds: float, action) -> None:
    asyncio.get_running_loop().call_later(seconds, action)


def test_a_batch_that_only_renews_leases_does_not_wake_wait_changed():
    async def scenario():
        view = StoreView(None, None)
        view.load({"index": 1, "tables": {}})
        view.apply(lease_batch(2))
        assert await view.wait_changed(0.2)  # the snapshot, and the lease taken
        later(0.01, lambda: view.apply(lease_batch(3)))
        assert not await view.wait_changed(0.2)  # renewed
        assert view.table("leases")["scheduler"]["Expires"] == 3  # applied all the same
        later(0.01, lambda: view.apply(task_batch(4)))
        assert await view.wait_changed(0.2)
    asyncio.run(scenario())


def test_a_lease_taken_over_or_let_go_wakes_wait_changed():
    async def scenario():
        view = StoreView(None, None)
        view.apply(lease_batch(1))
        assert await view.wait_changed(0.2)  # taken
        later(0.01, lambda: view.apply(lease_batch(2, holder="m2/scheduler", epoch=2)))
        assert await view.wait_changed(0.2)
        later(0.01, lambda: view.apply({"index": 3, "time": 0, "changes": [
            {"table": "leases", "id": "scheduler", "action": "delete"}]}))
        assert await view.wait_changed(0.2)
    asyncio.run(scenario())


def test_wait_index_is_woken_by_lease_batches_and_wakes_every_waiter():
    async def scenario():
        view = StoreView(None, None)
        for index in (1, 2, 3):
            later(0.01 * index, lambda index=index: view.apply(lease_batch(index)))
        waits = [view.wait_index(3, 1.0), view.wait_index(3, 1.0), view.wait_index(2, 1.0)]
        assert await asyncio.gather(*waits) == [True, True, True]
        assert await view.wait_index(3, 0)  # already there: no wait
        assert not await view.wait_index(4, 0.05)
    asyncio.run(scenario())


def test_a_snapshot_reaching_the_index_ends_wait_index():
    async def scenario():
        view = StoreView(None, None)
        later(0.01, lambda: view.load({"index": 10, "tables": {}}))
        assert await view.wait_index(7, 1.0)
        assert await view.wait_changed(0.1)  # a snapshot wakes the controllers
    asyncio.run(scenario())

"""Version-checked writes decided again after a conflict (actors/common/checkedwrite.py)."""

import asyncio

import pytest

from actors.common.checkedwrite import propose_decided
from actors.common.storeclient import StoreError


class FakeStore:
    """Refuses the first ``conflicts`` proposals as conflicts; records each proposal and barrier."""

    def __init__(self, conflicts: int, code: str = "conflict"):
        self.conflicts, self.code = conflicts, code
        self.proposed, self.barriers = [], 0

    async def propose(self, ops):
        self.proposed.append(ops)
        if len(self.proposed) <= self.conflicts:
            raise StoreError(self.code, "lost the race")
        return {"index": 10 + len(self.proposed), "results": []}

    async def barrier(self):
        self.barriers += 1
        return 7


class FakeView:
    """A view that has applied up to ``index``; waiting for a later one fails."""

    def __init__(self, index: int):
        self.index = index
        self.version = 0

    async def wait_index(self, index, timeout):
        self.version += 1  # what the decision sees changes with each catch-up
        return self.index >= index


def decide_from(view):
    return lambda: ([{"op": "patch", "version": view.version}], view.version)


def run(coro):
    return asyncio.run(coro)


def test_a_conflict_is_decided_again_on_the_caught_up_view_with_fake_store():
    store, view = FakeStore(conflicts=2), FakeView(index=7)
    result, decided_on = run(propose_decided(store, view, decide_from(view), attempts=3))
    assert result["index"] == 13 and decided_on == 2
    assert [ops[0]["version"] for ops in store.proposed] == [0, 1, 2] and store.barriers == 2


def test_the_last_conflict_is_raised_when_every_attempt_lost_with_fake_store():
    store, view = FakeStore(conflicts=3), FakeView(index=7)
    with pytest.raises(StoreError) as caught:
        run(propose_decided(store, view, decide_from(view), attempts=3))
    assert caught.value.code == "conflict" and len(store.proposed) == 3


def test_other_refusals_are_not_retried_with_fake_store():
    store, view = FakeStore(conflicts=1, code="fenced"), FakeView(index=7)
    with pytest.raises(StoreError):
        run(propose_decided(store, view, decide_from(view), attempts=3))
    assert len(store.proposed) == 1 and store.barriers == 0


def test_nothing_to_write_proposes_nothing_with_fake_store():
    store, view = FakeStore(conflicts=0), FakeView(index=7)
    assert run(propose_decided(store, view, lambda: ([], "same"), attempts=3)) == (None, "same")
    assert store.proposed == []


def test_a_view_that_cannot_catch_up_is_unavailable_with_fake_store():
    store, view = FakeStore(conflicts=1), FakeView(index=3)
    with pytest.raises(StoreError) as caught:
        run(propose_decided(store, view, decide_from(view), attempts=3))
    assert caught.value.code == "unavailable"

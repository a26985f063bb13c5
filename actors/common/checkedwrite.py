"""Writes decided from a view and checked against the versions it showed.

An actor decides from its view and proposes ops that carry the version of each object as the view
showed it; if another writer got there first the store refuses them as ``conflict``. Then the view is
brought up to every write committed so far (the store's read barrier, then :meth:`StoreView.wait_index`,
which is exact) and the decision is taken again on what it now shows.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from actors.common.storeclient import StoreClient, StoreError
from actors.common.view import StoreView

CATCH_UP_SECONDS = 5.0
T = TypeVar("T")


async def catch_up(store: StoreClient, view: StoreView, timeout: float = CATCH_UP_SECONDS) -> None:
    """Return once ``view`` holds every write committed before the call; StoreError ``unavailable`` if it
    does not within ``timeout`` seconds (and whatever the barrier raises)."""
    index = await store.barrier()
    if not await view.wait_index(index, timeout):
        raise StoreError("unavailable", f"this manager's view is behind the store ({view.index} < {index})")


async def propose_decided(store: StoreClient, view: StoreView, decide: Callable[[], tuple[list[dict], T]],
                          attempts: int) -> tuple[dict | None, T]:
    """Propose the ops of ``decide()``, which returns them with what they were decided on (an object of the
    view, say); on ``conflict`` catch the view up and decide again, at most ``attempts`` (>= 1) times in all.
    Returns the store's result (``{"index", "results"}``, None when there were no ops) and what the last
    decision was taken on. Raises whatever ``decide`` raises, StoreError for any other refusal, and the last
    ``conflict`` when every attempt lost the race."""
    attempt = 1
    while True:
        ops, decided_on = decide()
        if not ops:
            return None, decided_on
        try:
            return await store.propose(ops), decided_on
        except StoreError as exc:
            if exc.code != "conflict" or attempt >= attempts:
                raise
        attempt += 1
        await catch_up(store, view)

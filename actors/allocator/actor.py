"""The allocator actor: allocates networks, addresses and published ports, and moves new tasks to pending
(see core.py)."""

from __future__ import annotations

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.allocator.core import WATCHED, Allocator


async def main(actor: ActorContext) -> None:
    """Entry point of the ``allocator`` actor."""
    await Controller(actor, "allocator", Allocator(), tables=WATCHED | {"leases"}).run()

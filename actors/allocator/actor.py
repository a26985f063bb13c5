"""The allocator actor: allocates published ports and moves new tasks to pending (see ports.py)."""

from __future__ import annotations

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.allocator.ports import allocate


async def main(actor: ActorContext) -> None:
    """Entry point of the ``allocator`` actor."""
    await Controller(actor, "allocator", allocate).run()

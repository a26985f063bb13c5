"""The scheduler actor: places pending tasks on nodes (see placement.py)."""

from __future__ import annotations

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.scheduler.placement import schedule


async def main(actor: ActorContext) -> None:
    """Entry point of the ``scheduler`` actor."""
    await Controller(actor, "scheduler", schedule).run()

"""The scheduler actor: places pending tasks on nodes (see placement.py), all of them or one shard's."""

from __future__ import annotations

import functools

from actors.common.actor import ActorContext
from actors.common.controller import Controller
from actors.scheduler.placement import schedule
from actors.scheduler.shard import EVERY_TASK, Shard


async def main(actor: ActorContext, shard: Shard = EVERY_TASK) -> None:
    """Entry point of the ``scheduler`` actor: places the tasks ``shard`` owns under the shard's lease."""
    await Controller(actor, shard.lease, functools.partial(schedule, shard=shard)).run()

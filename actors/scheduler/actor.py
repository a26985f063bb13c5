"""The scheduler actor: places pending tasks on nodes (see placement.py), all of them or one shard's."""

from __future__ import annotations

import gc

from actors.common.actor import ActorContext
from actors.common.controller import Controller, Decide
from actors.common.viewindex import Decision
from actors.scheduler.keptload import KeptLoad
from actors.scheduler.metrics import PendingMetrics
from actors.scheduler.placement import schedule
from actors.scheduler.shard import EVERY_TASK, Shard


def placing(shard: Shard) -> Decide:
    """The scheduler's pass for ``shard``: :func:`schedule` on the node load kept from the view's changes
    (:class:`KeptLoad`, made on the first pass), with the objects that exist when it starts (the view) left
    out of the cyclic garbage collector's walks until it ends. A pass makes an op per task it places, and
    every full collection meanwhile would walk each object of the view again (a quarter of a 100k-task
    pass); none of them is garbage of the pass, and refcounting still frees what is dropped."""
    kept: list[KeptLoad] = []

    def decide(view, now: float) -> Decision:
        if not kept:
            kept.append(KeptLoad(view))
        gc.freeze()
        try:
            with kept[0].current().tentative() as load:
                return schedule(view, now, shard=shard, load=load)
        finally:
            gc.unfreeze()
    return decide


async def main(actor: ActorContext, shard: Shard = EVERY_TASK) -> None:
    """Entry point of the ``scheduler`` actor: places the tasks ``shard`` owns under the shard's lease, and
    exports its queue (metrics.py)."""
    metrics = PendingMetrics(shard)
    controller = Controller(actor, shard.lease, placing(shard), on_pass=metrics.after_pass, on_lease=metrics.lease)
    metrics.attach(controller.view)
    await controller.run()

"""A controller whose decision pass outlasts its lease still gets its decision committed: it renews the
lease before proposing (with the same epoch, since nobody else took it) instead of being fenced on every
long pass. Real Raft member process; the controller runs in the test's own event loop."""

from __future__ import annotations

import asyncio
import time

import zmq.asyncio

from actors.common.actor import ActorContext
from actors.common.controller import LEASE_TTL, Controller
from actors.common.log import Logger
from actors.common.viewindex import Decision
from tests.integration import raftmembers
from tests.integration.cluster import wait_until
from transport import auth


def test_a_pass_longer_than_the_lease_is_committed_not_fenced(tmp_path):
    config = raftmembers.make_members(tmp_path, 1)[0]
    member = raftmembers.start(config)
    passes = []

    def slow_decide(view, now):
        done = "long-pass" in view.table("tasks")
        passes.append(done)
        if done:
            return Decision()
        time.sleep(LEASE_TTL + 1)  # a pass over a huge store, holding the loop past the lease's expiry
        return Decision(ops=[{"op": "create", "table": "tasks", "object": raftmembers.record("long-pass")}])

    async def scenario():
        context = zmq.asyncio.Context()
        actor = ActorContext("orchestrator", config, config.host_keys(), context, auth.DomainPolicy(),
                             Logger("orchestrator"))
        controller = asyncio.ensure_future(Controller(actor, "slow-controller", slow_decide).run())
        try:
            deadline = time.monotonic() + 4 * (LEASE_TTL + 1) + 10
            while not (passes and passes[-1]) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        finally:
            controller.cancel()
            context.destroy(linger=0)

    try:
        wait_until(lambda: raftmembers.leader_of([config]), 20, what="the member to lead")
        asyncio.run(scenario())
    finally:
        member.kill()
        member.wait()
    assert passes and passes[-1], f"the long pass's write never committed (passes: {passes})"
    assert passes.count(False) == 1, "the long pass had to be run again: its proposal was fenced"

"""A member killed at each crash point (before/after fsync, snapshot save, snapshot install) recovers
to a store identical to its peers', with every acknowledged write in it. Real processes; the member
exits at the point itself (actors/raft/crashpoints.py), as a kill -9 there would."""

from __future__ import annotations

import asyncio
import time

import pytest
import zmq.asyncio

from actors.common.storeclient import StoreError
from actors.raft.crashpoints import CRASH_EXIT_CODE
from tests.integration.cluster import wait_until
from tests.integration.raftmembers import connect, make_members, record, start

SNAPSHOT_EVERY = {"SHOAL_RAFT_SNAPSHOT_EVERY": "100"}
WRITES = 300
GIVE_UP_SECONDS = 60.0
# Which arrival at the point to crash on: mid-stream for persists, the second of ~3 compactions,
# the first snapshot received.
ARRIVAL = {"before_persist": 40, "after_persist": 40, "snapshot_saved": 2, "snapshot_installed": 1}


async def write_objects(configs, names: list[str]) -> list[str]:
    """Create one object per name through ``configs``' members, retrying unknown outcomes; the acknowledged ones."""
    context = zmq.asyncio.Context()
    acknowledged = []
    try:
        clients = [connect(context, config) for config in configs]
        deadline = time.monotonic() + GIVE_UP_SECONDS
        for number, name in enumerate(names):
            while time.monotonic() < deadline:
                try:
                    await clients[number % len(clients)].propose(
                        [{"op": "create", "table": "tasks", "object": record(name, N=number)}], timeout=2)
                    acknowledged.append(name)
                    break
                except StoreError as exc:
                    if exc.code == "exists":  # an earlier try was applied after all
                        break
                    await asyncio.sleep(0.05)
        return acknowledged
    finally:
        context.destroy(linger=0)


async def snapshot_of(config) -> dict:
    context = zmq.asyncio.Context()
    try:
        return await connect(context, config).snapshot(timeout=5)
    finally:
        context.destroy(linger=0)


def same_index_snapshots(configs) -> list[dict] | None:
    """Every member's tables, when all were taken at the same store index (else None: try again)."""
    snapshots = [asyncio.run(snapshot_of(config)) for config in configs]
    return [snap["tables"] for snap in snapshots] if len({snap["index"] for snap in snapshots}) == 1 else None


@pytest.mark.parametrize("point", ["before_persist", "after_persist", "snapshot_saved", "snapshot_installed"])
def test_a_member_killed_at_a_crash_point_recovers_to_its_peers_state(tmp_path, point):
    configs = make_members(tmp_path)
    victim, others = configs[0], configs[1:]
    armed = {**SNAPSHOT_EVERY, "SHOAL_RAFT_CRASH_AT": point, "SHOAL_RAFT_CRASH_AFTER": str(ARRIVAL[point])}
    processes = {config.node_id: start(config, SNAPSHOT_EVERY) for config in others}
    try:
        if point != "snapshot_installed":
            processes[victim.node_id] = start(victim, armed)
        acknowledged = asyncio.run(write_objects(others, [f"a{n}" for n in range(WRITES)]))
        if point == "snapshot_installed":  # far behind: the leader compacted past it and must send a snapshot
            processes[victim.node_id] = start(victim, armed)
        assert processes[victim.node_id].wait(30) == CRASH_EXIT_CODE, f"the member never reached {point}"
        acknowledged += asyncio.run(write_objects(others, [f"b{n}" for n in range(20)]))
        processes[victim.node_id] = start(victim, SNAPSHOT_EVERY)
        acknowledged += asyncio.run(write_objects(others, [f"c{n}" for n in range(20)]))
        stores = wait_until(lambda: same_index_snapshots(configs), 30, what="all members at the same index")
        assert all(store == stores[0] for store in stores), "a recovered member differs from its peers"
        assert set(acknowledged) <= set(stores[0]["tasks"]), "an acknowledged write was lost"
        written = {f"a{n}" for n in range(WRITES)} | {f"{p}{n}" for p in "bc" for n in range(20)}
        assert set(stores[0]["tasks"]) == written, "every write was acknowledged or found applied"
    finally:
        for process in processes.values():
            process.kill()
            process.wait()

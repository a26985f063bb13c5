"""Three Raft member processes on loopback: election, forwarding, and surviving the leader's kill -9."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import zmq.asyncio

from actors.common.storeclient import StoreError
from tests.integration.cluster import wait_until
from tests.integration.raftmembers import call, connect, leader_of, make_members, record, start, status
from transport import schema


@pytest.fixture
def members(tmp_path):
    configs = make_members(tmp_path)
    processes = {c.node_id: start(c) for c in configs}
    yield configs, processes
    for process in processes.values():
        process.kill()
        process.wait()


def create_service(config, name):
    ops = [{"op": "create", "table": "services", "object": {"ID": schema.new_id(), "Spec": {"Name": name}}}]
    return asyncio.run(call(config, lambda c: c.propose(ops, timeout=10)))


def test_three_members_elect_one_leader_and_followers_forward_writes(members):
    configs, _ = members
    leader = wait_until(lambda: leader_of(configs), 20, what="a leader")
    followers = [c for c in configs if c is not leader]
    for number, follower in enumerate(followers):
        assert create_service(follower, f"via-follower-{number}")["index"] > 0
    names = {s["Spec"]["Name"] for s in asyncio.run(call(followers[0], lambda c: c.list("services")))}
    assert {"via-follower-0", "via-follower-1"} <= names
    assert len({status(c)["term"] for c in configs}) == 1


def test_killing_the_leader_elects_another_and_keeps_acknowledged_writes(members):
    configs, processes = members
    leader = wait_until(lambda: leader_of(configs), 20, what="a leader")
    create_service(leader, "before")
    processes[leader.node_id].send_signal(signal.SIGKILL)
    processes[leader.node_id].wait()
    killed_at = time.monotonic()
    survivors = [c for c in configs if c is not leader]
    new_leader = wait_until(lambda: leader_of(survivors), 20, what="a new leader")
    create_service(survivors[0], "after")
    print(f"leader kill -9 to next acknowledged write: {time.monotonic() - killed_at:.2f}s")
    names = {s["Spec"]["Name"] for s in asyncio.run(call(new_leader, lambda c: c.list("services")))}
    assert {"before", "after"} <= names
    processes[leader.node_id] = start(leader)
    wait_until(lambda: (s := status(leader)) and s["applied"] >= status(new_leader)["commit"], 20,
               what="the restarted member to catch up")


async def burst(config, clients: int, each: int, ops_of) -> list:
    """``clients`` sockets proposing ``ops_of(client, n)`` for n < ``each`` at once; each outcome, a
    result or the StoreError."""
    context = zmq.asyncio.Context()
    try:
        sockets = [connect(context, config) for _ in range(clients)]

        async def one(number, client):
            outcomes = []
            for n in range(each):
                try:
                    outcomes.append(await client.propose(ops_of(number, n), timeout=10))
                except StoreError as exc:
                    outcomes.append(exc)
            return outcomes

        return [outcome for outcomes in await asyncio.gather(*(one(n, c) for n, c in enumerate(sockets)))
                for outcome in outcomes]
    finally:
        context.destroy(linger=0)


def test_proposals_arriving_together_share_entries_each_with_its_own_result(members):
    configs, _ = members
    leader = wait_until(lambda: leader_of(configs), 20, what="a leader")
    hot = asyncio.run(call(leader, lambda c: c.propose([{"op": "create", "table": "tasks", "object": record("hot")}])))
    before = status(leader)["last_index"]
    created = asyncio.run(burst(leader, 20, 10, lambda client, n: [
        {"op": "create", "table": "tasks", "object": record(f"t{client}-{n}")}]))
    assert all(isinstance(result, dict) for result in created), created
    used = status(leader)["last_index"] - before
    assert used < len(created), f"{len(created)} proposals took {used} entries"
    assert all(result["results"][0]["Version"]["Index"] == result["index"] for result in created)
    # Racing version-checked writes of one object: exactly one wins, the others fail alone.
    version = hot["results"][0]["Version"]["Index"]
    raced = asyncio.run(burst(leader, 20, 1, lambda client, n: [
        {"op": "patch", "table": "tasks", "id": "hot", "version": version, "set": {"V": client}}]))
    won = [result for result in raced if isinstance(result, dict)]
    assert len(won) == 1 and all(exc.code == "conflict" for exc in raced if not isinstance(exc, dict)), raced
    stored = asyncio.run(call(configs[0], lambda c: c.get("tasks", "hot")))
    assert stored["Version"]["Index"] == won[0]["index"]
    print(f"{len(created)} concurrent proposals in {used} entries")


def test_losing_quorum_makes_writes_fail_fast_with_a_clear_error_then_recover(members):
    configs, processes = members
    leader = wait_until(lambda: leader_of(configs), 20, what="a leader")
    survivor = next(c for c in configs if c is not leader)
    for config in configs:
        if config is not survivor:
            processes[config.node_id].send_signal(signal.SIGKILL)
            processes[config.node_id].wait()
    started = time.monotonic()
    with pytest.raises(StoreError) as refused:
        create_service(survivor, "lost")
    elapsed = time.monotonic() - started
    assert refused.value.code in ("no_leader", "timeout") and "leader" in str(refused.value), str(refused.value)
    print(f"write refused after {elapsed:.2f}s: {refused.value}")
    for config in configs:
        if config is not survivor:
            processes[config.node_id] = start(config)
    wait_until(lambda: leader_of(configs), 20, what="a leader again")
    assert create_service(survivor, "back")["index"] > 0


def test_five_members_keep_writing_after_losing_two_including_the_leader(tmp_path):
    configs = make_members(tmp_path, count=5)
    processes = {c.node_id: start(c) for c in configs}
    try:
        leader = wait_until(lambda: leader_of(configs), 20, what="a leader of five")
        create_service(leader, "five-before")
        victims = [leader] + [c for c in configs if c is not leader][:1]
        for victim in victims:
            processes[victim.node_id].send_signal(signal.SIGKILL)
            processes[victim.node_id].wait()
        survivors = [c for c in configs if c not in victims]
        new_leader = wait_until(lambda: leader_of(survivors), 20, what="a leader among the three survivors")
        create_service(survivors[-1], "five-after")
        names = {s["Spec"]["Name"] for s in asyncio.run(call(new_leader, lambda c: c.list("services")))}
        assert {"five-before", "five-after"} <= names
    finally:
        for process in processes.values():
            process.kill()
            process.wait()

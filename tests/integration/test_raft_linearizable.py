"""Concurrent clients against 3 real Raft members while leaders are killed and members are partitioned;
the recorded history must be linearizable, every acknowledged write must survive, and the members'
stores must end identical.

Clients write, compare-and-set (a patch with the version it expects) and read three keys through any
member (followers forward writes and serve reads after a read index). An answer that never came, or
a ``no_leader``/``timeout`` error, is an op of unknown outcome: it may have taken effect, or not.
The nemesis kills -9 the leader, partitions it from the others (the members' fault-injection
request), and kills a follower, on a fixed schedule; all load is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time

import zmq.asyncio

from actors.common.storeclient import StoreError
from tests.integration.cluster import wait_until
from tests.integration.raftmembers import connect, make_members, record, start, status
from tests.linearizability import Operation, check
from transport import schema

KEYS = ("k1", "k2", "k3")
CLIENTS = 6
RUN_SECONDS = 16.0
MAX_OPS_PER_CLIENT = 1500
OP_TIMEOUT = 2.0
TABLE = "tasks"  # a table the Raft member itself never looks into
DEFINITE_ERRORS = ("conflict",)


class Recorder:
    """The history of one run, and the acknowledged writes."""

    def __init__(self):
        self.history: list[Operation] = []
        self.acknowledged: dict[str, int] = {key: 0 for key in KEYS}  # highest acknowledged version per key

    def record(self, op: Operation) -> None:
        self.history.append(op)
        if op.completed is not None and op.kind in ("write", "cas"):
            version = op.result if op.kind == "write" else (op.result[1] if op.result[0] == "ok" else 0)
            self.acknowledged[op.key] = max(self.acknowledged[op.key], version)


async def one_op(client, rng: random.Random, client_id: int, number: int, seen: dict[str, int], recorder: Recorder):
    key = rng.choice(KEYS)
    kind = rng.choices(["read", "write", "cas"], [4, 3, 3])[0]
    value = f"c{client_id}-{number}"
    invoked = time.monotonic()
    arg, result, completed = None, None, None
    try:
        if kind == "read":
            obj = await client.get(TABLE, key, timeout=OP_TIMEOUT)
            result = (schema.version_of(obj), obj.get("Value"))
            seen[key] = result[0]
        elif kind == "write":
            arg = value
            reply = await client.propose([{"op": "patch", "table": TABLE, "id": key, "set": {"Value": value}}],
                                         timeout=OP_TIMEOUT)
            result = reply["index"]
        else:
            arg = (seen.get(key, 0), value)
            try:
                reply = await client.propose([{"op": "patch", "table": TABLE, "id": key, "version": arg[0],
                                               "set": {"Value": value}}], timeout=OP_TIMEOUT)
                result = ("ok", reply["index"])
            except StoreError as exc:
                if exc.code not in DEFINITE_ERRORS:
                    raise
                result = ("conflict", None)
        completed = time.monotonic()
    except StoreError:
        await asyncio.sleep(0.05)  # no leader, or no answer: outcome unknown; back off a little
    recorder.record(Operation(client_id, key, kind, arg, result, invoked, completed))


async def client_loop(client_id: int, clients: list, deadline: float, recorder: Recorder) -> None:
    rng = random.Random(client_id)
    seen: dict[str, int] = {}
    for number in range(MAX_OPS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        await one_op(rng.choice(clients), rng, client_id, number, seen, recorder)


async def set_faults(admin: dict, cut: dict[str, list[str]]) -> None:
    for node_id, client in admin.items():
        try:
            await client._rpc.call("faults", {"cut_off": cut.get(node_id, [])}, timeout=1.0)
        except StoreError:
            pass  # a killed member has nothing to heal


async def current_leader(admin: dict) -> str | None:
    for node_id, client in admin.items():
        try:
            if (await client.status(timeout=0.5))["role"] == "leader":
                return node_id
        except StoreError:
            continue
    return None


async def nemesis(configs, processes, admin, log: list[str]) -> None:
    """Kill the leader, partition the (new) leader away, kill a follower, kill the leader again."""
    by_id = {config.node_id: config for config in configs}

    async def leader():
        for _ in range(50):
            found = await current_leader(admin)
            if found:
                return found
            await asyncio.sleep(0.1)
        return None

    async def kill(node_id, down_for):
        processes[node_id].send_signal(signal.SIGKILL)
        processes[node_id].wait()
        log.append(f"kill -9 {node_id}")
        await asyncio.sleep(down_for)
        processes[node_id] = start(by_id[node_id])

    await asyncio.sleep(2.0)
    await kill(await leader(), 1.5)
    await asyncio.sleep(1.5)
    isolated = await leader()
    others = [n for n in by_id if n != isolated]
    await set_faults(admin, {isolated: others, **{n: [isolated] for n in others}})
    log.append(f"partition {isolated} from {others}")
    await asyncio.sleep(2.5)
    await set_faults(admin, {})
    log.append("heal")
    await asyncio.sleep(1.5)
    current = await leader()
    follower = next(n for n in by_id if n != current)
    await kill(follower, 1.0)
    await asyncio.sleep(1.5)
    await kill(await leader(), 1.0)


async def run(configs, processes) -> tuple[Recorder, list[str]]:
    context = zmq.asyncio.Context()
    recorder, log = Recorder(), []
    try:
        admin = {config.node_id: connect(context, config) for config in configs}
        ids = list(admin)
        for key in KEYS:  # the keys exist before the history starts: a completed write of None
            invoked = time.monotonic()
            reply = await admin[ids[0]].propose([{"op": "create", "table": TABLE, "object": record(key, Value=None)}],
                                                timeout=10)
            recorder.record(Operation(-1, key, "write", None, reply["index"], invoked, time.monotonic()))
        clients = [[connect(context, config) for config in configs] for _ in range(CLIENTS)]
        deadline = time.monotonic() + RUN_SECONDS
        await asyncio.gather(nemesis(configs, processes, admin, log),
                             *(client_loop(number, clients[number], deadline, recorder) for number in range(CLIENTS)))
        await set_faults(admin, {})
        for client_id, config in enumerate(configs):  # final reads through every member, after everything settled
            for key in KEYS:
                invoked = time.monotonic()
                obj = await admin[config.node_id].get(TABLE, key, timeout=10)
                recorder.record(Operation(100 + client_id, key, "read", None, (schema.version_of(obj), obj.get("Value")),
                                          invoked, time.monotonic()))
        return recorder, log
    finally:
        context.destroy(linger=0)


def test_history_under_leader_kills_and_partitions_is_linearizable(tmp_path):
    configs = make_members(tmp_path)
    processes = {config.node_id: start(config) for config in configs}
    try:
        wait_until(lambda: any((s := status(c)) and s["role"] == "leader" for c in configs), 20, what="a leader")
        recorder, log = asyncio.run(run(configs, processes))
        history = recorder.history
        completed = [op for op in history if op.completed is not None]
        unknown = len(history) - len(completed)
        result = check(history)
        print(f"\nnemesis: {'; '.join(log)}\n{len(history)} ops ({len(completed)} completed, {unknown} unknown), "
              f"checker explored {result.states_explored} states: {'linearizable' if result.ok else 'NOT linearizable'}")
        assert result.ok, f"key {result.key}: {result.explanation}"
        assert len(completed) > 500 and unknown > 0, "the run must do real work and see real faults"
        finals = {op.key: op.result[0] for op in history if op.client >= 100}
        for key, version in recorder.acknowledged.items():
            assert finals[key] >= version, f"acknowledged write of {key} at version {version} lost"
        # State machine safety: once caught up, every member holds the same store.
        wait_until(lambda: len({(s or {}).get("applied") for s in map(status, configs)}) == 1, 20,
                   what="all members at the same applied index")
        snapshots = [asyncio.run(snapshot_of(config)) for config in configs]
        assert all(snap == snapshots[0] for snap in snapshots)
    finally:
        for process in processes.values():
            process.kill()
            process.wait()


async def snapshot_of(config):
    context = zmq.asyncio.Context()
    try:
        return (await connect(context, config).snapshot(timeout=5))["tables"]
    finally:
        context.destroy(linger=0)

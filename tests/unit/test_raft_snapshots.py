"""Snapshot data as records: encoded and decoded in slices, the same as in one go, older format still read."""

import asyncio

import msgpack
import pytest

from actors.raft import snapshots
from transport import codec


def store_snapshot(services: int, size: int) -> dict:
    return {"index": 42, "tables": {
        "services": {f"s{n}": {"ID": f"s{n}", "Spec": {"Name": f"svc{n}", "Labels": {"pad": "x" * size}}}
                     for n in range(services)},
        "nodes": {"n1": {"ID": "n1", "Spec": {"Role": "manager"}}}, "tasks": {}}}


def test_slices_and_one_go_agree_and_round_trip_a_store_larger_than_a_message():
    snapshot = store_snapshot(40, 512 * 1024)  # 20 MB: more than the codec lets one message carry
    data = asyncio.run(snapshots.encode(snapshot))
    assert data == snapshots.encode_now(snapshot) and len(data) > codec.MAX_MESSAGE_BYTES
    decoded = asyncio.run(snapshots.decode(data))
    expected = {"index": 42, "tables": {name: objects for name, objects in snapshot["tables"].items() if objects}}
    assert decoded == expected == snapshots.decode_now(data)


def test_encoding_yields_to_the_loop_between_slices():
    ticks = []

    async def scenario():
        async def ticker():
            while True:
                ticks.append(1)
                await asyncio.sleep(0)
        other = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        before = len(ticks)
        await snapshots.decode(await snapshots.encode(store_snapshot(20, 256 * 1024)))
        other.cancel()
        return len(ticks) - before
    assert asyncio.run(scenario()) >= 8  # the other task ran while 5 MB were encoded and decoded


def test_a_snapshot_in_the_older_one_map_format_still_loads():
    snapshot = store_snapshot(3, 10)
    assert snapshots.decode_now(msgpack.packb(snapshot, use_bin_type=True))["tables"]["services"] == \
        snapshot["tables"]["services"]


def test_damaged_data_raises_a_codec_error():
    data = snapshots.encode_now(store_snapshot(3, 10))
    with pytest.raises(codec.CodecError):
        snapshots.decode_now(data[:-5] + b"\xc1\xc1\xc1\xc1\xc1")
    with pytest.raises(ValueError):
        snapshots.decode_now(msgpack.packb(["not", "a", "header"]))


def test_a_failed_snapshot_is_retried_only_after_a_pause_with_a_faked_failing_core():
    from actors.raft.crashpoints import CrashPoints
    from actors.raft.store import Store

    class FailingCore:
        first_index = 1
        compactions = 0

        def compact(self, index, data):
            FailingCore.compactions += 1
            raise OSError("No space left on device")

    class Log:
        def error(self, *args, **fields):
            pass

        info = error

    store = Store()
    store.index = 50

    async def scenario():
        compactor = snapshots.Compactor(FailingCore(), None, store, CrashPoints(), Log(), every=10, index=0)
        for _ in range(5):
            compactor.maybe_start()
            await asyncio.sleep(0.01)
        return compactor.index
    assert asyncio.run(scenario()) == 0 and FailingCore.compactions == 1

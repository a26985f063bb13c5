"""Several proposals in one Raft entry (actors/raft/proposals.py): packing, and each applying on its own."""

from __future__ import annotations

import pytest

from actors.raft import proposals
from actors.raft.store import Store
from transport import codec


def task(task_id: str, **fields) -> dict:
    """A task with the fields the model requires."""
    return {"ID": task_id, "ServiceID": "s", "DesiredState": "running", "Status": {"State": "new"}, **fields}


def create(task_id: str) -> dict:
    return {"ops": [{"op": "create", "table": "tasks", "object": task(task_id)}]}


def patch(task_id: str, version: int | None, value) -> dict:
    return {"ops": [{"op": "patch", "table": "tasks", "id": task_id, "version": version, "set": {"V": value}}]}


def one_entry(*batches: dict) -> bytes:
    """The data of the entry that carries ``batches`` as proposals p0, p1, ..."""
    queue = proposals.ProposalQueue()
    for number, batch in enumerate(batches):
        queue.add(f"p{number}", batch)
    (data, ids), = queue.take(1000.0)
    assert ids == [f"p{number}" for number in range(len(batches))]
    return data


def test_proposals_received_together_share_one_entry_in_order():
    queue = proposals.ProposalQueue()
    for number in range(10):
        queue.add(f"p{number}", create(f"t{number}"))
    entries = queue.take(5.0)
    assert len(entries) == 1 and len(queue) == 0 and queue.take(6.0) == []
    time, results, changes = proposals.apply_entry(Store(), entries[0][0], 3)
    assert time == 5.0 and [request_id for request_id, _ in results] == [f"p{n}" for n in range(10)]
    assert [change.id for change in changes] == [f"t{n}" for n in range(10)]


def test_an_entry_holds_at_most_entry_proposals_and_entry_bytes():
    queue = proposals.ProposalQueue()
    for number in range(proposals.ENTRY_PROPOSALS + 1):
        queue.add(f"p{number}", create(f"t{number}"))
    assert [len(ids) for _, ids in queue.take(1.0)] == [proposals.ENTRY_PROPOSALS, 1]
    large = "x" * (proposals.ENTRY_BYTES // 2)
    for number in range(3):
        queue.add(f"big{number}", patch("t", None, large))
    assert [ids for _, ids in queue.take(1.0)] == [["big0"], ["big1"], ["big2"]]


def test_a_proposal_too_large_for_an_entry_is_refused_when_queued():
    queue = proposals.ProposalQueue()
    with pytest.raises(codec.CodecError):
        queue.add("huge", patch("t", None, "x" * codec.MAX_MESSAGE_BYTES))
    assert len(queue) == 0


def test_proposals_naming_one_object_go_to_separate_entries_so_each_write_has_its_own_version():
    store = Store()
    store.apply(create("t1"), 1, 1.0)
    queue = proposals.ProposalQueue()
    queue.add("a", patch("t1", 1, "a"))
    queue.add("other", create("t2"))
    queue.add("b", patch("t1", 1, "b"))  # raced "a" from the same version: must see a's write and fail
    queue.add("lease", {"ops": [{"op": "lease", "name": "l", "holder": "h", "ttl": 5}]})
    queue.add("malformed", {"ops": [{"op": "patch"}]})
    queue.add("last", create("t3"))
    entries = queue.take(2.0)
    assert [ids for _, ids in entries] == [["a", "other"], ["b", "lease"], ["malformed"], ["last"]]
    outcomes = {}
    for index, (data, _) in enumerate(entries, start=2):
        outcomes.update(proposals.apply_entry(store, data, index)[1])
    assert outcomes["b"]["error"]["code"] == "conflict" and outcomes["malformed"]["error"]["code"] == "invalid"
    assert store.get("tasks", "t1")["V"] == "a" and store.get("tasks", "t1")["Version"] == {"Index": 2}
    assert outcomes["last"]["index"] == 5 and store.get("tasks", "t3")["Version"] == {"Index": 5}


def test_the_store_refuses_a_second_write_of_an_object_in_one_entry_whatever_the_packing():
    store = Store()
    store.apply(create("t1"), 1, 1.0)
    data = codec.encode({"time": 2.0, "proposals": [codec.encode(["a", patch("t1", 1, "a")]),
                                                     codec.encode(["b", patch("t1", None, "b")])]})
    _, results, changes = proposals.apply_entry(store, data, 2)
    assert "error" not in results[0][1] and results[1][1]["error"]["code"] == "conflict"
    assert store.get("tasks", "t1")["V"] == "a" and len(changes) == 1


def test_a_rejected_proposal_leaves_the_others_of_its_entry_applied():
    store = Store()
    store.apply(create("t1"), 1, 1.0)
    _, results, changes = proposals.apply_entry(store, one_entry(create("t1"), patch("t9", None, 0), create("t2")), 2)
    assert [result.get("error", {}).get("code") for _, result in results] == ["exists", "not_found", None]
    assert [change.id for change in changes] == ["t2"] and store.get("tasks", "t2")["Version"] == {"Index": 2}


def test_every_member_applying_the_same_entries_holds_the_same_store():
    entries = [one_entry(create("t1"), create("t2"), create("t3")), one_entry(patch("t1", 1, "z"), patch("t2", 1, "y"))]
    stores = [Store(), Store()]
    for store in stores:
        for index, data in enumerate(entries, start=1):
            proposals.apply_entry(store, data, index)
    assert stores[0].snapshot() == stores[1].snapshot() and stores[0].get("tasks", "t1")["V"] == "z"


def test_an_entry_written_before_batching_applies_as_one_proposal():
    data = codec.encode({"id": "old", "time": 7.0, "batch": create("t1")})
    time, results, changes = proposals.apply_entry(Store(), data, 5)
    assert time == 7.0 and results[0][0] == "old" and results[0][1]["index"] == 5 and len(changes) == 1

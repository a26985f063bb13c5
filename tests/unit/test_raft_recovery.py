"""Disaster recovery (actors/raft/recovery.py) on real storage files."""

from __future__ import annotations

from actors.raft import recovery, snapshots
from actors.raft.core import RaftConfig, RaftCore
from actors.raft.storage import RaftStorage
from actors.raft.store import Store
from actors.raft.values import Entry, HardState, Snapshot, SnapshotMeta
from transport import codec


def batch_entry(index: int, term: int, ops: list[dict]) -> Entry:
    return Entry(index, term, "normal", codec.encode({"id": f"r{index}", "time": 1000.0 + index, "batch": {"ops": ops}}))


def node(node_id: str, role: str) -> dict:
    return {"ID": node_id, "Spec": {"Role": role}, "Status": {"State": "ready"}, "ManagerStatus": {"Leader": node_id == "b"}}


def old_cluster(path) -> RaftStorage:
    """A member of a 3-manager cluster: a snapshot at 2, entries 3..5 of which 3..4 are committed."""
    storage = RaftStorage(path)
    base = Store()
    base.apply({"ops": [{"op": "create", "table": "nodes", "object": node(n, "manager")} for n in "abc"]
                + [{"op": "create", "table": "nodes", "object": node("w", "worker")}]}, 2, 1000.0)
    snapshot = Snapshot(SnapshotMeta(2, 1, ("a", "b", "c"), ()), codec.encode(base.snapshot()))
    entries = [batch_entry(3, 2, [{"op": "create", "table": "services", "object": {"ID": "s1", "Spec": {"Name": "web"}}}]),
               batch_entry(4, 2, [{"op": "patch", "table": "services", "id": "s1", "set": {"Spec.Name": "web2"}}]),
               batch_entry(5, 3, [{"op": "delete", "table": "services", "id": "s1"}])]
    storage.save(HardState(3, "b", 4), entries, snapshot)
    return storage


def test_force_new_cluster_keeps_committed_entries_and_drops_the_uncommitted_tail(tmp_path):
    storage = old_cluster(tmp_path / "raft.db")
    index, demoted = recovery.force_new_cluster(storage, "a")
    assert index == 4 and sorted(demoted) == ["b", "c"]
    hard_state, snapshot, entries = storage.load()
    assert entries == [] and snapshot.meta.index == 4 and snapshot.meta.term == 2
    assert snapshot.meta.voters == ("a",) and snapshot.meta.learners == ()
    assert hard_state.term == 3 and hard_state.commit == 4
    store = Store()
    store.restore(snapshots.decode_now(snapshot.data))
    assert store.get("services", "s1")["Spec"]["Name"] == "web2"  # entry 4 kept, entry 5 (uncommitted) dropped
    roles = {node_id: obj["Spec"]["Role"] for node_id, obj in store.tables["nodes"].items()}
    assert roles == {"a": "manager", "b": "worker", "c": "worker", "w": "worker"}
    assert all(obj["ManagerStatus"] is None for obj in store.tables["nodes"].values())


def test_the_recovered_member_elects_itself_alone(tmp_path):
    storage = old_cluster(tmp_path / "raft.db")
    recovery.force_new_cluster(storage, "a")
    hard_state, snapshot, entries = storage.load()
    core = RaftCore(RaftConfig(node_id="a", election_tick=10, heartbeat_tick=1), hard_state=hard_state,
                    snapshot=snapshot, entries=entries, voters=("a", "b", "c"))
    assert core.voters == ("a",)
    core.campaign()
    assert core.role == "leader" and core.term > 3

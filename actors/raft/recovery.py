"""Disaster recovery: turn one surviving manager's state into a new single-manager cluster.

``shoal swarm init --force-new-cluster`` runs this, with the host's actors
stopped. As etcd's ``--force-new-cluster`` does, it keeps every committed
entry and drops the uncommitted tail (it may never have reached a majority),
then writes the resulting store as a snapshot whose configuration is this
member alone. In that store every other manager becomes a worker (it has to
join again, or be promoted, to manage), so the new leader never tries to
bring the lost members back on its own.
"""

from __future__ import annotations

from actors.raft import proposals, snapshots
from actors.raft.storage import RaftStorage
from actors.raft.store import Store
from actors.raft.values import Entry, HardState, Snapshot, SnapshotMeta


def committed_store(hard_state: HardState | None, snapshot: Snapshot | None,
                    entries: list[Entry]) -> tuple[Store, int, int]:
    """The store as of the last committed entry of what storage loaded: ``(store, index, term)``."""
    store = Store()
    index, term = 0, 0
    if snapshot is not None:
        store.restore(snapshots.decode_now(snapshot.data))
        index, term = snapshot.meta.index, snapshot.meta.term
    commit = hard_state.commit if hard_state is not None else index
    for entry in entries:
        if entry.index > commit:
            break
        if entry.kind == "normal":
            proposals.apply_entry(store, entry.data, entry.index)
        index, term = entry.index, entry.term
    store.index = index
    return store, index, term


def demote_other_managers(store: Store, keep: str) -> list[str]:
    """Make every manager but ``keep`` a worker with no ManagerStatus; returns their ids."""
    demoted = []
    nodes = store.tables["nodes"]
    for node_id, node in list(nodes.items()):  # fresh copies: a stored object is never mutated
        node = nodes[node_id] = {**node, "ManagerStatus": None}
        if node_id != keep and node["Spec"].get("Role") == "manager":
            node["Spec"] = {**node["Spec"], "Role": "worker"}
            demoted.append(node_id)
    return demoted


def force_new_cluster(storage: RaftStorage, node_id: str) -> tuple[int, list[str]]:
    """Rewrite ``storage`` as a one-member cluster of ``node_id`` keeping the committed state.

    Returns ``(index, demoted manager ids)``. The caller must have stopped the member.
    """
    hard_state, snapshot, entries = storage.load()
    store, index, term = committed_store(hard_state, snapshot, entries)
    demoted = demote_other_managers(store, node_id)
    current_term = max(term, hard_state.term if hard_state is not None else 0)
    snapshot = Snapshot(SnapshotMeta(index, term, (node_id,), ()), snapshots.encode_now(store.snapshot()))
    storage.save(HardState(current_term, node_id, index), [], snapshot)
    return index, demoted

"""Views of some tables (StoreView(..., tables=...)): after any sequence of batches and snapshots a
filtered view holds exactly the full view's objects of its tables, its task index and change sets say
what the full view's say of them, it is woken only by changes to its tables, and it refuses to hand
out a table it does not subscribe to. The member streams only the tables asked for."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.common.records import records, snapshot_of
from actors.common.view import StoreView

TABLES = ("cluster", "nodes", "services", "tasks", "secrets", "leases")
SUBSCRIPTIONS = [frozenset({"cluster", "nodes", "services", "tasks", "leases"}), frozenset({"nodes", "tasks"}),
                 frozenset({"secrets"})]

obj = st.fixed_dictionaries({"ServiceID": st.sampled_from(["s1", "s2"]), "NodeID": st.sampled_from(["", "n1"]),
                             "Slot": st.integers(1, 2), "Holder": st.sampled_from(["a", "b"]),
                             "Status": st.fixed_dictionaries({"State": st.sampled_from(["pending", "running"])})})
change = st.tuples(st.sampled_from(TABLES), st.sampled_from(["x1", "x2", "x3"]), st.one_of(st.none(), obj))
batch = st.tuples(st.just("batch"), st.lists(change, max_size=6))
snapshot = st.tuples(st.just("snapshot"), st.lists(change, max_size=10))
steps = st.lists(st.one_of(batch, batch, batch, snapshot), min_size=1, max_size=20)


def as_change(table: str, object_id: str, fields: dict | None) -> dict:
    if fields is None:
        return {"table": table, "id": object_id, "action": "delete"}
    return {"table": table, "id": object_id, "action": "put", "object": {"ID": object_id, **fields}}


def as_snapshot(index: int, changes: list) -> dict:
    tables = {}
    for table, object_id, fields in changes:
        if fields is not None:
            tables.setdefault(table, {})[object_id] = {"ID": object_id, **fields}
    return {"index": index, "tables": tables}


def apply_step(view: StoreView, step, index: int) -> None:
    kind, changes = step
    if kind == "snapshot":
        view.load(as_snapshot(index, changes))
    else:
        view.apply({"index": index, "time": 0, "changes": [as_change(*one) for one in changes]})


@settings(max_examples=60, deadline=None)
@given(steps, st.sampled_from(SUBSCRIPTIONS))
def test_a_filtered_view_equals_the_full_view_filtered(step_list, tables):
    full, filtered = StoreView(None, None), StoreView(None, None, tables=tables)
    full_changes, filtered_changes = full.watch(tables), filtered.watch()
    for index, step in enumerate(step_list, start=1):
        apply_step(full, step, index)
        apply_step(filtered, step, index)
        assert filtered.index == full.index
        assert {name: filtered.table(name) for name in tables} == {name: full.table(name) for name in tables}
        assert set(filtered.tables) <= tables
        if "tasks" in tables:
            assert index_contents(filtered) == index_contents(full)
        assert filtered_changes.take() == full_changes.take()


def index_contents(view: StoreView) -> tuple:
    """The tasks a view's index holds by service, node and state (by value: the two views' objects differ)."""
    index = view.task_index
    return ({s: index.of_service(s) for s in index.service_ids()}, {n: index.on_node(n) for n in index.node_ids()},
            {k: index.in_state(*k) for k in index.state_keys()})


def test_a_batch_of_other_tables_moves_the_index_but_wakes_no_one():
    async def scenario():
        view = StoreView(None, None, tables=frozenset({"tasks"}))
        view.load({"index": 1, "tables": {}})
        await view.wait_changed(0)
        view.apply({"index": 2, "time": 0, "changes": [as_change("secrets", "x", {})]})
        assert view.index == 2 and not await view.wait_changed(0.05)
        view.apply({"index": 3, "time": 0, "changes": [as_change("tasks", "t", {"ServiceID": "s"})]})
        assert await view.wait_changed(0.05)
    asyncio.run(scenario())


def test_a_table_not_subscribed_to_is_refused():
    view = StoreView(None, None, tables=frozenset({"tasks"}))
    view.load({"index": 1, "tables": {"secrets": {"x": {"ID": "x"}}, "tasks": {}}})
    assert "secrets" not in view.tables
    with pytest.raises(ValueError, match="secrets"):
        view.table("secrets")
    with pytest.raises(ValueError, match="cluster"):
        view.cluster


def test_records_of_some_tables_make_the_snapshot_of_those_tables():
    snap = as_snapshot(7, [("tasks", "t", {}), ("secrets", "s", {}), ("nodes", "n", {})])
    assert snapshot_of(records(snap, ["tasks", "nodes"])) == {
        "index": 7, "tables": {"tasks": snap["tables"]["tasks"], "nodes": snap["tables"]["nodes"]}}

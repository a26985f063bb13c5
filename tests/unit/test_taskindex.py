"""The view's live indexes (actors/common/taskindex.py) and change sets (actors/common/changeset.py):
after any sequence of batches and snapshots applied to a StoreView, the task index equals one rebuilt
from scratch, ViewIndex's groupings equal the plain regrouping of every task, and each consumer's
change set names every task, service and node that changed."""

from __future__ import annotations

import copy
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.common.taskindex import TaskIndex
from actors.common.view import StoreView
from actors.common.viewindex import ViewIndex, age_key, history_key

TASK_IDS = [f"t{i}" for i in range(8)]

task_fields = st.fixed_dictionaries({
    "ServiceID": st.sampled_from(["s1", "s2", "s3"]),
    "NodeID": st.sampled_from(["", "n1", "n2"]),
    "Slot": st.integers(0, 3),
    "DesiredState": st.sampled_from(["running", "shutdown"]),
    "Status": st.fixed_dictionaries({"State": st.sampled_from(["new", "pending", "assigned", "running", "failed"])}),
    "CreatedAt": st.sampled_from(["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"]),
    "Shoal": st.fixed_dictionaries({"Attempt": st.integers(0, 2)}),
})
change = st.tuples(st.sampled_from(TASK_IDS), st.one_of(st.none(), task_fields))  # None: delete
other_change = st.tuples(st.sampled_from(["services", "nodes", "leases"]), st.sampled_from(["s1", "n1", "x"]),
                         st.booleans())
batch = st.tuples(st.just("batch"), st.lists(change, max_size=6), st.lists(other_change, max_size=2))
snapshot = st.tuples(st.just("snapshot"), st.dictionaries(st.sampled_from(TASK_IDS), task_fields, max_size=8),
                     st.just([]))
steps = st.lists(st.one_of(batch, batch, batch, snapshot), min_size=1, max_size=25)


def task(task_id: str, fields: dict) -> dict:
    return {"ID": task_id, **copy.deepcopy(fields)}


def shape(index: TaskIndex) -> dict:
    """Everything an index holds, as comparable plain data (ids and object identities)."""
    def ids(tasks):
        return [(task["ID"], id(task)) for task in tasks]
    return {
        "services": {s: ids(index.of_service(s)) for s in index.service_ids()},
        "histories": {s: tuple({k: ids(v) for k, v in part.items()} for part in index.histories_of(s))
                      for s in index.service_ids()},
        "nodes": {n: sorted(ids(index.on_node(n).values())) for n in index.node_ids()},
        "states": {k: sorted(ids(index.in_state(*k).values())) for k in index.state_keys()},
    }


def regrouped(tasks: dict, key) -> dict:
    """The plain grouping ViewIndex used to make on every pass: all tasks, sorted by age, by ``key``."""
    groups = defaultdict(list)
    for one in sorted(tasks.values(), key=age_key):
        groups[key(one)].append(one)
    return dict(groups)


def apply_step(view: StoreView, step) -> None:
    kind, body, others = step
    if kind == "snapshot":
        view.load({"index": view.index + 1, "tables": {"tasks": {i: task(i, f) for i, f in body.items()}}})
        return
    changes = [{"table": "tasks", "id": i, "action": "delete"} if fields is None else
               {"table": "tasks", "id": i, "action": "put", "object": task(i, fields)} for i, fields in body]
    changes += [{"table": table, "id": i, "action": "put" if put else "delete", "object": {"ID": i}}
                for table, i, put in others]
    view.apply({"index": view.index + 1, "time": 0, "changes": changes})


@settings(max_examples=100, deadline=None)
@given(steps)
def test_live_task_index_equals_one_rebuilt_from_scratch(step_list):
    view = StoreView(None, None)
    for step in step_list:
        apply_step(view, step)
        assert shape(view.task_index) == shape(TaskIndex(view.table("tasks")))


@settings(max_examples=60, deadline=None)
@given(steps)
def test_view_index_groupings_equal_a_regrouping_of_every_task(step_list):
    view = StoreView(None, None)
    for step in step_list:
        apply_step(view, step)
        live, tasks = ViewIndex(view), view.table("tasks")
        assert live.tasks_by_service == regrouped(tasks, lambda one: one.get("ServiceID"))
        assert live.tasks_by_history == regrouped(tasks, history_key)
        for service_id in ("s1", "s2", "s3"):
            assert live.service_tasks(service_id) == ViewIndex({"tasks": tasks}).service_tasks(service_id)
            slots = {key[1]: group for key, group in regrouped(tasks, history_key).items()
                     if key[0] == service_id and not str(key[1]).startswith("node:")}
            assert live.service_slots(service_id) == slots
            nodes = {key[1][len("node:"):]: group for key, group in regrouped(tasks, history_key).items()
                     if key[0] == service_id and str(key[1]).startswith("node:")}
            assert live.service_nodes(service_id) == nodes
            for desired, observed in (("running", "new"), ("running", "pending"), ("shutdown", "running")):
                assert live.service_tasks_in_state(service_id, desired, observed) == [
                    one for one in live.service_tasks(service_id)
                    if one["DesiredState"] == desired and one["Status"]["State"] == observed]
        pending = {i: one for i, one in tasks.items()
                   if one["DesiredState"] == "running" and one["Status"]["State"] == "pending"}
        assert live.tasks_in_state("running", "pending") == pending


@settings(max_examples=60, deadline=None)
@given(steps)
def test_a_change_set_names_whatever_changed_since_it_was_last_taken(step_list):
    view = StoreView(None, None)
    everything, only_nodes = view.watch(), view.watch(frozenset({"nodes"}))
    for step in step_list:
        before = {name: dict(table) for name, table in view.tables.items()}
        apply_step(view, step)
        changes, node_changes = everything.take(), only_nodes.take()
        if step[0] == "snapshot":
            assert changes.everything and node_changes.everything
            continue
        assert not changes.everything
        old, new = before.get("tasks", {}), view.table("tasks")
        for task_id in set(old) | set(new):
            if old.get(task_id) is not new.get(task_id):
                assert task_id in changes.tasks
                for side in (old.get(task_id), new.get(task_id)):
                    if side is not None:
                        assert side["ServiceID"] in changes.services
                        assert (side["NodeID"] or "") in changes.nodes
        assert changes.tables == {change[0] for change in step[2]} | ({"tasks"} if step[1] else set())
        assert node_changes.nodes == {i for table, i, _ in step[2] if table == "nodes"}
        assert node_changes.tables <= {"nodes"}
        assert bool(node_changes) == any(table == "nodes" for table, _, _ in step[2])


def test_a_status_change_keeps_the_services_order_without_resorting():
    older = task("a", {"ServiceID": "s", "CreatedAt": "1", "Status": {"State": "pending"}})
    newer = task("b", {"ServiceID": "s", "CreatedAt": "2", "Status": {"State": "pending"}})
    index = TaskIndex({"b": newer, "a": older})
    running = {**older, "Status": {"State": "running"}}
    index.put(older, running)
    assert index.of_service("s") == [running, newer]
    assert index.in_state("", "pending") == {"b": newer}
    assert index.in_state("", "running") == {"a": running}

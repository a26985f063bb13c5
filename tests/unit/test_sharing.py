"""Shared parts of tasks in a view (actors/common/sharing.py): after any sequence of batches and
snapshots a view's tasks equal the objects the store sent, and the tasks of one service and spec
version that carry equal parts hold one copy of each."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.common.sharing import SHARED_FIELDS, SharedParts
from actors.common.view import StoreView
from actors.raft.store import Store

TASK_IDS = [f"t{i}" for i in range(8)]
SPECS = [{"ContainerSpec": {"Image": image, "Args": ["sleep", "1"]}, "RestartPolicy": {"Condition": "any"}}
         for image in ("a", "b")]

task_fields = st.fixed_dictionaries({
    "ServiceID": st.sampled_from(["s1", "s2"]),
    "NodeID": st.sampled_from(["", "n1"]),
    "Slot": st.integers(1, 3),
    "DesiredState": st.sampled_from(["running", "shutdown"]),
    "Status": st.fixed_dictionaries({"State": st.sampled_from(["pending", "running"]), "Message": st.just("m")}),
    "Spec": st.sampled_from(SPECS),
    "SpecVersion": st.fixed_dictionaries({"Index": st.integers(1, 2)}),
    "ServiceAnnotations": st.fixed_dictionaries({"Name": st.sampled_from(["web", "db"])}),
})
change = st.tuples(st.sampled_from(TASK_IDS), st.one_of(st.none(), task_fields))  # None: delete
batch = st.tuples(st.just("batch"), st.lists(change, max_size=6), st.booleans())
snapshot = st.tuples(st.just("snapshot"), st.dictionaries(st.sampled_from(TASK_IDS), task_fields, max_size=8),
                     st.just(False))
steps = st.lists(st.one_of(batch, batch, batch, snapshot), min_size=1, max_size=25)


def fresh(task_id: str, fields: dict) -> dict:
    """A task as decoded from the change stream: its own copy of every part."""
    return {"ID": task_id, **copy.deepcopy(fields)}


@settings(max_examples=60, deadline=None)
@given(steps)
def test_a_view_sharing_parts_holds_the_tasks_the_store_sent(step_list):
    view, sent = StoreView(None, None), {}
    for kind, body, delete_service in step_list:
        if kind == "snapshot":
            sent = {i: fresh(i, f) for i, f in body.items()}
            view.load({"index": view.index + 1, "tables": {"tasks": {i: fresh(i, f) for i, f in body.items()}}})
            continue
        changes = []
        for task_id, fields in body:
            if fields is None:
                sent.pop(task_id, None)
                changes.append({"table": "tasks", "id": task_id, "action": "delete"})
            else:
                sent[task_id] = fresh(task_id, fields)
                changes.append({"table": "tasks", "id": task_id, "action": "put", "object": fresh(task_id, fields)})
        if delete_service:
            changes.append({"table": "services", "id": "s1", "action": "delete"})
        view.apply({"index": view.index + 1, "time": 0, "changes": changes})
        assert view.table("tasks") == sent


def test_tasks_of_one_service_and_version_hold_one_copy_of_each_equal_part():
    shared = SharedParts()
    tasks = [fresh(f"t{i}", {"ServiceID": "s1", "Spec": SPECS[0], "SpecVersion": {"Index": 1},
                             "ServiceAnnotations": {"Name": "web"}, "Endpoint": {"Spec": {}}}) for i in range(3)]
    for task in tasks:
        shared.share(task)
    for field in SHARED_FIELDS:
        assert tasks[0][field] is tasks[1][field] is tasks[2][field]


def test_an_unequal_part_is_kept_apart_and_other_services_never_share():
    shared = SharedParts()
    first = fresh("t1", {"ServiceID": "s1", "Spec": SPECS[0], "SpecVersion": {"Index": 1}})
    changed = fresh("t2", {"ServiceID": "s1", "Spec": SPECS[1], "SpecVersion": {"Index": 1}})
    other = fresh("t3", {"ServiceID": "s2", "Spec": SPECS[0], "SpecVersion": {"Index": 1}})
    for task in (first, changed, other):
        shared.share(task)
    assert changed["Spec"] == SPECS[1] and changed["Spec"] is not first["Spec"]
    assert other["Spec"] is not first["Spec"]


def test_a_rolling_update_shares_each_version_with_its_own():
    shared = SharedParts()
    tasks = [fresh(f"t{i}", {"ServiceID": "s1", "Spec": SPECS[i % 2], "SpecVersion": {"Index": i % 2}})
             for i in range(6)]
    for task in tasks:
        shared.share(task)
    assert tasks[0]["Spec"] is tasks[2]["Spec"] is tasks[4]["Spec"]
    assert tasks[1]["Spec"] is tasks[3]["Spec"] is tasks[5]["Spec"]
    assert tasks[0]["Spec"] is not tasks[1]["Spec"]


def test_repeating_strings_become_one_object():
    shared = SharedParts()
    one, two = ({"ID": i, "ServiceID": "".join(["s", "1"]), "Status": {"State": "".join(["pend", "ing"])}}
                for i in ("t1", "t2"))
    shared.share(one)
    shared.share(two)
    assert one["ServiceID"] is two["ServiceID"] and one["Status"]["State"] is two["Status"]["State"]


def test_a_deleted_services_parts_are_forgotten():
    shared = SharedParts()
    first = fresh("t1", {"ServiceID": "s1", "Spec": SPECS[0]})
    shared.share(first)
    shared.forget_service("s1")
    again = fresh("t2", {"ServiceID": "s1", "Spec": SPECS[0]})
    shared.share(again)
    assert again["Spec"] is not first["Spec"] and again["Spec"] == first["Spec"]


def test_the_raft_store_shares_the_parts_of_tasks_and_a_patch_touches_only_its_task():
    store = Store()
    spec = {"ContainerSpec": {"Image": "a", "Args": ["sleep", "1"]}}
    for number in range(3):
        task = {"ID": f"t{number}", "ServiceID": "s1", "Slot": number + 1, "Spec": copy.deepcopy(spec),
                "SpecVersion": {"Index": 1}, "DesiredState": "running", "Status": {"State": "new"}}
        result, _ = store.apply({"ops": [{"op": "create", "table": "tasks", "object": task}]}, number + 1, 0.0)
        assert "error" not in result, result
    tasks = store.tables["tasks"]
    assert tasks["t0"]["Spec"] is tasks["t1"]["Spec"] is tasks["t2"]["Spec"]
    store.apply({"ops": [{"op": "patch", "table": "tasks", "id": "t1", "set": {"Spec.ContainerSpec.Image": "b"}}]},
                4, 0.0)
    assert tasks["t1"]["Spec"]["ContainerSpec"]["Image"] == "b"
    assert tasks["t0"]["Spec"] == tasks["t2"]["Spec"] == spec
    restored = Store()
    restored.restore(store.snapshot())
    assert restored.tables["tasks"] == store.tables["tasks"]
    assert restored.tables["tasks"]["t0"]["Spec"] is restored.tables["tasks"]["t2"]["Spec"]

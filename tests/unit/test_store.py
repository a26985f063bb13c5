"""The store state machine: atomic batches, versions, names, leases and fences."""

import pytest

from actors.raft.store import Store
from transport import limits, schema


def create(table, obj):
    return {"op": "create", "table": table, "object": obj}


def service(service_id, name):
    return {"ID": service_id, "Spec": {"Name": name}}


def task(task_id, state="new", **fields):
    """A task with the fields the model requires."""
    return {"ID": task_id, "ServiceID": "s", "DesiredState": "running", "Status": {"State": state}, **fields}


def test_create_stamps_version_and_times_from_the_entry():
    store = Store()
    result, changes = store.apply({"ops": [create("services", service("s1", "web"))]}, index=7, now=100.0)
    obj = store.get("services", "s1")
    assert result["index"] == 7 and obj["Version"]["Index"] == 7
    assert obj["CreatedAt"] == obj["UpdatedAt"] == "1970-01-01T00:01:40.000000000Z"
    assert [c.to_dict()["action"] for c in changes] == ["create"]


def test_a_batch_applies_all_or_nothing():
    store = Store()
    store.apply({"ops": [create("services", service("s1", "web"))]}, 1, 1.0)
    result, changes = store.apply({"ops": [create("services", service("s2", "api")),
                                           create("services", service("s1", "dup"))]}, 2, 2.0)
    assert result["error"]["code"] == "exists" and result["error"]["op"] == 1
    assert changes == [] and store.get("services", "s2") is None
    assert store.index == 2


def test_unique_names_within_a_batch_and_across_the_table():
    store = Store()
    store.apply({"ops": [create("services", service("s1", "web"))]}, 1, 1.0)
    result, _ = store.apply({"ops": [create("services", service("s2", "web"))]}, 2, 2.0)
    assert result["error"]["code"] == "name_conflict"
    result, _ = store.apply({"ops": [create("services", service("s3", "x")), create("services", service("s4", "x"))]}, 3, 3.0)
    assert result["error"]["code"] == "name_conflict"


def test_version_checked_patch_refuses_a_stale_writer():
    store = Store()
    store.apply({"ops": [create("tasks", task("t1"))]}, 1, 1.0)
    ok, _ = store.apply({"ops": [{"op": "patch", "table": "tasks", "id": "t1", "version": 1,
                                  "set": {"Status.State": "pending", "Endpoint": {"Ports": []}}}]}, 2, 2.0)
    assert ok["results"] == [{"ID": "t1", "Version": {"Index": 2}}]  # identity only: replies stay small
    assert store.get("tasks", "t1")["Status"]["State"] == "pending"
    stale, _ = store.apply({"ops": [{"op": "patch", "table": "tasks", "id": "t1", "version": 1,
                                     "set": {"Status.State": "assigned"}}]}, 3, 3.0)
    assert stale["error"]["code"] == "conflict"
    assert store.get("tasks", "t1")["Status"]["State"] == "pending"


def test_missing_ok_skips_vanished_objects():
    store = Store()
    result, changes = store.apply({"ops": [{"op": "patch", "table": "tasks", "id": "gone", "set": {"A": 1}, "missing_ok": True},
                                           {"op": "delete", "table": "tasks", "id": "gone", "missing_ok": True}]}, 1, 1.0)
    assert result["results"] == [None, None] and changes == []


def test_delete_publishes_the_deleted_object():
    store = Store()
    store.apply({"ops": [create("nodes", {"ID": "n1", "Spec": {"Role": "worker"}, "Status": {"State": "ready"}})]}, 1, 1.0)
    _, changes = store.apply({"ops": [{"op": "delete", "table": "nodes", "id": "n1"}]}, 2, 2.0)
    assert changes[0].action == "delete" and changes[0].object["ID"] == "n1"
    assert store.get("nodes", "n1") is None


def test_lease_epochs_and_fencing():
    store = Store()
    lease = {"op": "lease", "name": "scheduler", "ttl": 3}
    first, _ = store.apply({"ops": [dict(lease, holder="a")]}, 1, 10.0)
    assert first["results"][0]["Epoch"] == 1
    held, _ = store.apply({"ops": [dict(lease, holder="b")]}, 2, 11.0)
    assert held["error"]["code"] == "lease_held"
    renewed, _ = store.apply({"ops": [dict(lease, holder="a")]}, 3, 12.0)
    assert renewed["results"][0]["Epoch"] == 1
    taken, _ = store.apply({"ops": [dict(lease, holder="b")]}, 4, 20.0)
    assert taken["results"][0]["Epoch"] == 2
    fenced, _ = store.apply({"ops": [create("tasks", task("t"))], "fence": {"lease": "scheduler", "epoch": 1}}, 5, 20.5)
    assert fenced["error"]["code"] == "fenced"
    allowed, _ = store.apply({"ops": [create("tasks", task("t"))], "fence": {"lease": "scheduler", "epoch": 2}}, 6, 21.0)
    assert allowed["index"] == 6
    expired, _ = store.apply({"ops": [create("tasks", task("u"))], "fence": {"lease": "scheduler", "epoch": 2}}, 7, 99.0)
    assert expired["error"]["code"] == "fenced"


def test_malformed_batches_are_rejected_not_raised():
    store = Store()
    for batch in ({}, {"ops": []}, {"ops": [{"op": "explode"}]}, {"ops": [{"op": "create", "table": "nope", "object": {"ID": "x"}}]},
                  {"ops": [{"op": "create", "table": "tasks", "object": {}}]}, {"ops": [{"op": "patch", "table": "tasks"}]}):
        result, changes = store.apply(batch, 1, 1.0)
        assert "error" in result and changes == []


def test_snapshot_round_trips_and_keeps_its_contents_through_later_writes():
    store = Store()
    store.apply({"ops": [create("services", service("s1", "web"))]}, 1, 1.0)
    snap = store.snapshot()
    other = Store()
    other.restore(snap)
    assert other.get("services", "s1") == store.get("services", "s1") and other.index == 1
    store.apply({"ops": [{"op": "patch", "table": "services", "id": "s1", "set": {"Spec.Name": "changed"}},
                         create("services", service("s2", "db"))]}, 2, 2.0)
    assert snap["index"] == 1 and list(snap["tables"]["services"]) == ["s1"]
    assert snap["tables"]["services"]["s1"]["Spec"]["Name"] == "web"


# -- validation of every written object (transport/model.py) -------------------------------------

def test_an_invalid_object_rejects_the_whole_batch_naming_object_and_field():
    store = Store()
    bad = service("s2", "api")
    bad["Spec"]["TaskTemplate"] = {"ContainerSpec": {"Image": "busybox", "Labels": [1]}}
    result, changes = store.apply({"ops": [create("services", service("s1", "web")), create("services", bad)]}, 1, 1.0)
    error = result["error"]
    assert error["code"] == "invalid" and error["op"] == 1 and changes == []
    assert error["message"] == ("invalid service 's2': Spec.TaskTemplate.ContainerSpec.Labels: "
                                "must be a map of strings to strings, not a list")
    assert store.get("services", "s1") is None


def test_a_patch_is_judged_by_the_object_it_produces():
    store = Store()
    store.apply({"ops": [create("tasks", task("t1", "running"))]}, 1, 1.0)
    for changes in ({"Status": {"State": "pwned"}}, {"Status": "not-a-dict"},
                    {"Status.Timestamp": "garbage"}, {"Status.Message": "x" * 5000}):
        result, _ = store.apply({"ops": [{"op": "patch", "table": "tasks", "id": "t1", "set": changes}]}, 2, 2.0)
        assert result["error"]["code"] == "invalid", changes
    assert store.get("tasks", "t1")["Status"] == {"State": "running"}


def test_fields_actors_read_without_a_default_are_required():
    store = Store()
    for table, obj, field in (("tasks", {"ID": "t"}, "ServiceID"), ("tasks", {**task("t"), "Status": {}}, "Status.State"),
                              ("nodes", {"ID": "n", "Status": {"State": "ready"}}, "Spec"),
                              ("nodes", {"ID": "n", "Spec": {"Role": "worker"}, "Status": {}}, "Status.State")):
        result, _ = store.apply({"ops": [create(table, obj)]}, 1, 1.0)
        assert result["error"]["code"] == "invalid" and f"{field}: is required" in result["error"]["message"]


def test_an_object_over_the_size_limit_is_refused():
    store = Store()
    obj = task("t1", Padding="x" * limits.OBJECT_BYTES)
    result, _ = store.apply({"ops": [create("tasks", obj)]}, 1, 1.0)
    assert result["error"]["code"] == "invalid" and "limit of 1048576" in result["error"]["message"]


def test_a_batch_over_the_op_limit_is_refused():
    store = Store()
    ops = [create("tasks", task(f"t{n}")) for n in range(limits.BATCH_OPS + 1)]
    result, _ = store.apply({"ops": ops}, 1, 1.0)
    assert result["error"]["code"] == "invalid" and "limit of" in result["error"]["message"]
    assert store.list("tasks") == []


def test_a_lease_with_a_non_finite_ttl_is_refused():
    store = Store()
    result, _ = store.apply({"ops": [{"op": "lease", "name": "scheduler", "holder": "a", "ttl": float("nan")}]}, 1, 1.0)
    assert result["error"]["code"] == "invalid" and "Expires" in result["error"]["message"]


def test_reading_an_unknown_table_is_a_key_error_not_a_batch_rejection():
    """The raft API answers KeyError as 'malformed'; a BatchRejected there was an 'internal' error."""
    store = Store()
    for table in ("manager", 5, ["tasks"]):
        with pytest.raises(KeyError, match="unknown table"):
            store.list(table)
        with pytest.raises(KeyError, match="unknown table"):
            store.get(table, "x")


@pytest.mark.parametrize("moment", [0.0, 1.0, 1.9999999999, 1700000000.123456789, 1795971254.436874866])
def test_times_round_trip_and_a_fraction_rounding_up_carries_into_the_second(moment):
    text = schema.format_time(moment)
    assert abs(schema.parse_time(text) - moment) < 1e-6
    assert text.endswith("Z") and len(text) == len("1970-01-01T00:00:00.000000000Z")
    assert schema.format_time(1.9999999999) == "1970-01-01T00:00:02.000000000Z"


def test_a_patch_leaves_the_object_it_replaces_as_it_was():
    store = Store()
    store.apply({"ops": [create("tasks", task("t1", Labels={"a": "b"}))]}, 1, 1.0)
    before = store.get("tasks", "t1")
    snapshot = store.snapshot()
    store.apply({"ops": [{"op": "patch", "table": "tasks", "id": "t1",
                          "set": {"Status.State": "pending", "Status.Message": "m", "Labels.c": "d"}}]}, 2, 2.0)
    after = store.get("tasks", "t1")
    assert before["Status"] == {"State": "new"} and before["Labels"] == {"a": "b"} and before["Version"] == {"Index": 1}
    assert snapshot["tables"]["tasks"]["t1"] is before
    assert after["Status"] == {"State": "pending", "Message": "m"} and after["Labels"] == {"a": "b", "c": "d"}


def referring_service(service_id, name, secret_id=None, network_id=None):
    """A service whose spec names the secret and the network given."""
    template = {"ContainerSpec": {"Image": "busybox"}}
    if secret_id:
        template["ContainerSpec"]["Secrets"] = [{"File": {"Name": "pw"}, "SecretID": secret_id, "SecretName": "pw"}]
    if network_id:
        template["Networks"] = [{"Target": network_id}]
    return {"ID": service_id, "Spec": {"Name": name, "TaskTemplate": template}}


def secret(secret_id, name):
    return {"ID": secret_id, "Spec": {"Name": name},
            "Sealed": {"KeyID": "k", "Nonce": b"n" * 12, "Ciphertext": b"c" * 17}}


def test_a_service_spec_may_name_only_secrets_and_networks_that_exist():
    store = Store()
    result, _ = store.apply({"ops": [create("services", referring_service("s1", "web", secret_id="x1"))]}, 1, 1.0)
    assert result["error"]["code"] == "not_found" and "secret x1, which does not exist" in result["error"]["message"]
    result, _ = store.apply({"ops": [create("secrets", secret("x1", "pw")),
                                     create("services", referring_service("s1", "web", secret_id="x1"))]}, 2, 2.0)
    assert "error" not in result
    result, _ = store.apply({"ops": [{"op": "patch", "table": "services", "id": "s1",
                                      "set": {"Spec.TaskTemplate.Networks": [{"Target": "n9"}]}}]}, 3, 3.0)
    assert result["error"]["code"] == "not_found" and "network n9" in result["error"]["message"]


def test_an_object_a_service_spec_names_cannot_be_removed_until_no_spec_names_it():
    store = Store()
    store.apply({"ops": [create("secrets", secret("x1", "pw")),
                         create("services", referring_service("s1", "web", secret_id="x1"))]}, 1, 1.0)
    result, _ = store.apply({"ops": [{"op": "delete", "table": "secrets", "id": "x1"}]}, 2, 2.0)
    assert result["error"]["code"] == "in_use" and result["error"]["message"] == "secret 'pw' is in use by service 'web'"
    assert store.get("secrets", "x1") is not None
    # Removed in the batch that stops the service naming it: allowed (the batch is judged as a whole, in order).
    result, _ = store.apply({"ops": [{"op": "patch", "table": "services", "id": "s1",
                                      "set": {"Spec.TaskTemplate.ContainerSpec.Secrets": []}},
                                     {"op": "delete", "table": "secrets", "id": "x1"}]}, 3, 3.0)
    assert "error" not in result and store.get("secrets", "x1") is None


def test_a_patch_that_leaves_the_spec_alone_is_not_held_to_its_references():
    """A store restored from before the rule may hold a service naming a missing secret: its status and
    endpoint patches go on as before; only a write of its spec must name existing objects."""
    store = Store()
    store.restore({"index": 1, "tables": {"services": {"s1": {**referring_service("s1", "web", secret_id="gone"),
                                                               "Version": {"Index": 1}}}}})
    result, _ = store.apply({"ops": [{"op": "patch", "table": "services", "id": "s1",
                                      "set": {"Endpoint": {"Ports": []}}}]}, 2, 2.0)
    assert "error" not in result
    result, _ = store.apply({"ops": [{"op": "patch", "table": "services", "id": "s1",
                                      "set": {"Spec.Labels": {"a": "b"}}}]}, 3, 3.0)
    assert result["error"]["code"] == "not_found"

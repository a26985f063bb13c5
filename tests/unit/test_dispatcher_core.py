"""The dispatcher's pure bookkeeping: sessions, heartbeat expiry, status patches, assignments."""

import pytest

from actors.dispatcher import decisions, intake
from actors.dispatcher.sessions import SessionTable
from actors.raft.store import Store
from transport import limits, model, schema


def task(task_id, node="n1", state="assigned", version=1):
    return {"ID": task_id, "NodeID": node, "Status": {"State": state}, "Version": {"Index": version}}


def test_session_expires_after_grace_and_heartbeats_keep_it_alive():
    table = SessionTable()
    session = table.open("n1", b"r1", now=0.0)
    assert table.heartbeat("n1", session.session_id, b"r2", now=1.0).routing_id == b"r2"
    assert table.expired(now=2.4, grace=1.5) == []
    assert [s.node_id for s in table.expired(now=2.6, grace=1.5)] == ["n1"]


def test_a_session_whose_host_is_otherwise_known_lost_expires_after_the_short_grace():
    table = SessionTable()
    for node_id in ("lost", "fine"):
        table.open(node_id, b"r", now=0.0)
    lost = lambda node_id: node_id == "lost"  # noqa: E731
    assert table.expired(0.4, 1.5, lost, 0.5) == []
    assert [s.node_id for s in table.expired(0.6, 1.5, lost, 0.5)] == ["lost"]
    assert [s.node_id for s in table.expired(1.6, 1.5, lost, 0.5)] == ["fine"]
    assert table.get("n1") is None


def test_heartbeat_with_a_stale_session_id_is_refused():
    table = SessionTable()
    old = table.open("n1", b"r", 0.0)
    table.open("n1", b"r", 0.5)
    assert table.heartbeat("n1", old.session_id, b"r", 0.6) is None
    assert table.heartbeat("ghost", "x", b"r", 0.6) is None


def test_assignments_are_the_nodes_tasks_from_assigned_on():
    tasks = {t["ID"]: t for t in (task("b"), task("a", state="running"), task("c", state="pending"),
                                  task("d", node="n2"), task("e", state="failed"))}
    assert [t["ID"] for t in decisions.assignments_for(tasks, "n1")] == ["a", "b", "e"]
    first = decisions.digest(decisions.assignments_for(tasks, "n1"))
    tasks["a"] = task("a", state="running", version=2)
    assert decisions.digest(decisions.assignments_for(tasks, "n1")) == first  # the node's own report: no push
    tasks["a"] = {**task("a", state="running", version=3), "DesiredState": "shutdown"}
    told_to_stop = decisions.digest(decisions.assignments_for(tasks, "n1"))
    assert told_to_stop != first
    del tasks["b"]
    assert decisions.digest(decisions.assignments_for(tasks, "n1")) != told_to_stop


def test_status_reports_never_move_a_task_backwards_or_touch_other_nodes():
    tasks = {t["ID"]: t for t in (task("run", state="running"), task("acc", state="assigned"),
                                  task("done", state="failed"), task("other", node="n2"))}
    reports = {"run": {"State": "starting"}, "acc": {"State": "preparing"}, "done": {"State": "running"},
               "other": {"State": "running"}, "missing": {"State": "running"}}
    ops = decisions.status_ops(tasks, "n1", reports)
    assert [(op["id"], op["set"]["Status"]["State"]) for op in ops] == [("acc", "preparing")]
    assert ops[0]["missing_ok"] is True


def test_unchanged_status_is_not_rewritten():
    tasks = {"t": task("t", state="running")}
    assert decisions.status_ops(tasks, "n1", {"t": {"State": "running"}}) == []


def test_the_first_running_report_records_when_the_task_came_up():
    at = "2024-01-31T12:00:00.000000000Z"
    tasks = {"up": task("up", state="starting"), "again": task("again", state="running"), "end": task("end", state="running")}
    reports = {"up": {"State": "running", "Timestamp": at}, "again": {"State": "running", "Timestamp": at},
               "end": {"State": "failed", "Timestamp": at}}
    ops = {op["id"]: op["set"] for op in decisions.status_ops(tasks, "n1", reports)}
    assert ops["up"]["Shoal.RunningAt"] == at
    assert "Shoal.RunningAt" not in ops["again"] and "Shoal.RunningAt" not in ops["end"]


def test_node_liveness_ops_carry_the_version_of_the_node_seen():
    seen = {"ID": "n1", "Version": {"Index": 7}}
    down = decisions.node_down_ops(seen, "heartbeat failure", 0.0)[0]
    assert down["set"]["Status.State"] == "down" and down["set"]["Status.Message"] == "heartbeat failure"
    assert down["version"] == 7
    ready = decisions.node_ready_ops(seen, {"Hostname": "h"}, "127.0.0.1", 0.0, "m1")[0]
    assert ready["set"]["Status"]["State"] == "ready" and ready["set"]["Description"] == {"Hostname": "h"}
    assert ready["set"]["Shoal.Dispatcher"] == "m1" and ready["version"] == 7 and "missing_ok" not in ready


def test_a_lagging_dispatcher_cannot_mark_down_a_node_that_reconnected_elsewhere():
    store = Store()
    store.apply({"ops": [{"op": "create", "table": "nodes", "object": {"ID": "n1", "Spec": {"Role": "worker"},
                                                                          "Status": {"State": "ready"}}}]}, 1, 0.0)
    seen_by_lagging = store.get("nodes", "n1")
    store.apply({"ops": decisions.node_ready_ops(seen_by_lagging, {}, "a", 1.0, "other")}, 2, 1.0)
    result, _ = store.apply({"ops": decisions.node_down_ops(seen_by_lagging, "heartbeat failure", 2.0)}, 3, 2.0)
    assert result["error"]["code"] == "conflict"
    assert store.get("nodes", "n1")["Status"]["State"] == "ready"


def test_an_unheard_session_shows_its_node_gone_only_while_the_node_is_still_in_session_with_it():
    """Seen in CI: a node moved to a second dispatcher process, which then stopped; its old session here
    expired as it came back, and marking it down replaced its tasks. A node that opened a session with
    another dispatcher since (gone or not) was alive then: stale_ready_nodes judges it, after the grace."""
    assert decisions.expiry_shows_gone(ready_node("me"), "me")
    assert not decisions.expiry_shows_gone(ready_node("me/1"), "me")  # moved; me/1 since stopped or not
    assert not decisions.expiry_shows_gone(None, "me")  # removed meanwhile
    since = {}
    assert decisions.stale_ready_nodes({"a": ready_node("me/1")}, set(), since, 0.0, "me", {"me"}, 5.0, 0.5) == []
    assert decisions.stale_ready_nodes({"a": ready_node("me/1")}, set(), since, 0.6, "me", {"me"}, 5.0, 0.5) == ["a"]


def ready_node(dispatcher):
    return {"Status": {"State": "ready"}, "Shoal": {"Dispatcher": dispatcher}}


def test_own_ready_nodes_without_a_session_go_stale_after_the_reconnect_grace():
    nodes = {"a": ready_node("me"), "b": ready_node("me"), "c": {"Status": {"State": "down"}, "Shoal": {"Dispatcher": "me"}}}
    since = {}
    stale = lambda live, now: decisions.stale_ready_nodes(nodes, live, since, now, "me", {"me"}, 1.0, 0.5)
    assert stale({"b"}, 0.0) == []
    assert stale({"b"}, 0.8) == []
    assert stale({"b"}, 1.5) == ["a"]
    assert stale({"a", "b"}, 2.0) == [] and since == {}


def test_nodes_of_another_live_dispatcher_are_left_alone():
    nodes = {"a": ready_node("other")}
    since = {}
    for now in (0.0, 10.0, 100.0):
        assert decisions.stale_ready_nodes(nodes, set(), since, now, "me", {"me", "other"}, 1.0, 0.5) == []
    assert since == {}


def test_nodes_of_a_gone_dispatcher_go_stale_after_the_orphan_grace():
    nodes = {"a": ready_node("dead"), "b": {"Status": {"State": "ready"}}}
    since = {}
    assert decisions.stale_ready_nodes(nodes, set(), since, 0.0, "me", {"me"}, 5.0, 0.5) == []
    assert sorted(decisions.stale_ready_nodes(nodes, set(), since, 0.6, "me", {"me"}, 5.0, 0.5)) == ["a", "b"]


def test_a_node_of_its_own_hosts_gone_dispatcher_is_stale_at_once():
    nodes = {"dead": ready_node("dead"), "w": ready_node("dead")}
    since = {}
    assert decisions.stale_ready_nodes(nodes, set(), since, 0.0, "me", {"me"}, 5.0, 0.5) == []
    assert decisions.stale_ready_nodes(nodes, set(), since, 0.01, "me", {"me"}, 5.0, 0.5) == ["dead"]


def presence(holder, expires):
    return {"ID": decisions.presence_lease_name(holder), "Holder": holder, "Expires": expires}


def test_live_dispatchers_are_those_with_unexpired_presence_leases():
    leases = {lease["ID"]: lease for lease in (presence("m1", 10.0), presence("m2", 4.0))}
    leases["orchestrator"] = {"ID": "orchestrator", "Holder": "m1/orchestrator", "Expires": 100.0}
    assert decisions.live_dispatchers(leases, {}, 5.0) == {"m1"}


def test_the_dispatcher_of_a_member_the_leader_reports_unreachable_is_gone_before_its_lease_expires():
    leases = {lease["ID"]: lease for lease in (presence("m1", 10.0), presence("m2", 10.0))}
    nodes = {"m1": {"ManagerStatus": {"Leader": True, "Reachability": "reachable"}},
             "m2": {"ManagerStatus": {"Leader": False, "Reachability": "unreachable"}}}
    assert decisions.live_dispatchers(leases, nodes, 5.0) == {"m1"}


# -- what nodes send, checked before it is proposed (intake.py) -----------------------------------

def test_malformed_status_entries_are_refused_one_by_one_and_the_rest_kept():
    good = schema.task_status("running", "started", 1.0)
    checked = intake.checked_reports({"t1": good, "t2": "not-a-dict", "t3": {"State": "pwned"},
                                      "t4": {"State": "failed", "Timestamp": "garbage"},
                                      "t5": {"State": "failed", "Err": "e" * (limits.STATUS_ERR_CHARS + 1)},
                                      "t6": {"State": "running", "ContainerStatus": {"PID": "1"}}, 7: good})
    assert checked.valid == {"t1": good}
    assert len(checked.refused) == 6
    assert "t2.Status: must be a map, not a string" in checked.refused
    assert "t3.Status.State: invalid value 'pwned'" in checked.refused[1]


@pytest.mark.parametrize("updates, problem", [("x", "must map task ids"), ([], "must map task ids"), (None, "must map"),
                                              ({f"t{n}": {} for n in range(limits.BATCH_OPS + 1)}, "more than the limit")])
def test_a_status_batch_that_is_not_a_bounded_map_is_refused_whole(updates, problem):
    with pytest.raises(model.Invalid, match=problem):
        intake.checked_reports(updates)


def test_session_description_and_addr_must_have_the_node_objects_shape():
    description = {"Hostname": "w1", "Platform": {"Architecture": "x86_64", "OS": "linux"},
                   "Resources": {"NanoCPUs": 10 ** 9, "MemoryBytes": 10 ** 9}, "Engine": {"EngineVersion": "24.0"}}
    assert intake.checked_session({"description": description, "addr": "127.0.0.1"}) == (description, "127.0.0.1")
    for body, problem in (({"description": "a string", "addr": "127.0.0.1"}, "description: must be a map"),
                          ({"description": {"Hostname": "x\x1b[2J"}, "addr": "::1"}, "unprintable"),
                          ({"description": {"Extra": 1}, "addr": "::1"}, "unknown field"),
                          ({"description": {}, "addr": "not an address"}, "invalid address"),
                          ({"description": {}, "addr": 5}, "addr: must be a string")):
        with pytest.raises(model.Invalid, match=problem):
            intake.checked_session(body)


def test_a_reports_health_goes_to_the_tasks_shoal_health_and_not_into_its_status():
    tasks = {"t": task("t", state="starting")}
    ops = decisions.status_ops(tasks, "n1", {"t": {"State": "running", "Health": "healthy"}})
    assert ops[0]["set"] == {"Status": {"State": "running"}, "Shoal.Health": "healthy"}


def test_a_report_differing_only_in_health_is_written():
    tasks = {"t": dict(task("t", state="starting"), Shoal={"Health": "starting"})}
    assert decisions.status_ops(tasks, "n1", {"t": {"State": "starting", "Health": "starting"}}) == []
    assert decisions.status_ops(tasks, "n1", {"t": {"State": "starting", "Health": "healthy"}})[0]["set"] == \
        {"Status": {"State": "starting"}, "Shoal.Health": "healthy"}

"""The dispatcher's pure bookkeeping: sessions, heartbeat expiry, status patches, assignments."""

from actors.dispatcher import decisions
from actors.dispatcher.sessions import SessionTable


def task(task_id, node="n1", state="assigned", version=1):
    return {"ID": task_id, "NodeID": node, "Status": {"State": state}, "Version": {"Index": version}}


def test_session_expires_after_grace_and_heartbeats_keep_it_alive():
    table = SessionTable(grace=1.5)
    session = table.open("n1", b"r1", now=0.0)
    assert table.heartbeat("n1", session.session_id, b"r2", now=1.0).routing_id == b"r2"
    assert table.expired(now=2.4) == []
    assert [s.node_id for s in table.expired(now=2.6)] == ["n1"]
    assert table.get("n1") is None


def test_heartbeat_with_a_stale_session_id_is_refused():
    table = SessionTable(grace=1.0)
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
    assert decisions.digest(decisions.assignments_for(tasks, "n1")) != first


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


def test_node_liveness_ops():
    down = decisions.node_down_ops("n1", "heartbeat failure", 0.0)[0]
    assert down["set"]["Status.State"] == "down" and down["set"]["Status.Message"] == "heartbeat failure"
    ready = decisions.node_ready_ops({"ID": "n1"}, {"Hostname": "h"}, "127.0.0.1", 0.0, "m1")[0]
    assert ready["set"]["Status"]["State"] == "ready" and ready["set"]["Description"] == {"Hostname": "h"}
    assert ready["set"]["Shoal.Dispatcher"] == "m1"


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


def test_live_dispatchers_are_those_with_unexpired_presence_leases():
    leases = {decisions.presence_lease_name("m1"): {"Expires": 10.0}, decisions.presence_lease_name("m2"): {"Expires": 4.0},
              "orchestrator": {"Expires": 100.0}}
    assert decisions.live_dispatchers(leases, 5.0) == {"m1"}

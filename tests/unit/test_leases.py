"""Lease rules (actors/common/leases.py): a dead member's leases, controllers following the Raft leader; and
the store applying them to lease ops and fences."""

from actors.common import leases
from actors.raft.store import Store


def managers(leader, unreachable=()):
    """Nodes m1..m3 with the ManagerStatus the leader publishes: ``leader`` leads, ``unreachable`` are."""
    return {node_id: {"ID": node_id, "ManagerStatus": {
        "Leader": node_id == leader, "Reachability": "unreachable" if node_id in unreachable else "reachable"}}
        for node_id in ("m1", "m2", "m3")}


def lease(holder, expires=10.0, epoch=1):
    return {"ID": "scheduler", "Holder": holder, "Epoch": epoch, "Expires": expires}


def test_a_holder_renews_its_own_lease_and_another_waits_while_it_is_live():
    nodes = managers("m1")
    assert leases.refusal(None, "m2/scheduler", nodes, 5.0, 3.0, False) is None
    assert leases.refusal(lease("m2/scheduler"), "m2/scheduler", nodes, 50.0, 3.0, False) is None
    assert "held by m2/scheduler" in leases.refusal(lease("m2/scheduler"), "m3/scheduler", nodes, 5.0, 3.0, False)
    assert leases.refusal(lease("m2/scheduler"), "m3/scheduler", nodes, 10.5, 3.0, False) is None


def test_a_lease_held_on_a_member_the_leader_reports_unreachable_is_dead_before_it_expires():
    nodes = managers("m1", unreachable={"m2"})
    assert not leases.is_live(lease("m2/scheduler"), nodes, 5.0)
    assert leases.is_live(lease("m3/scheduler"), nodes, 5.0)
    assert leases.refusal(lease("m2/scheduler"), "m3/scheduler", nodes, 5.0, 3.0, False) is None


def test_the_leaders_holder_takes_a_leader_following_lease_from_a_live_holder_elsewhere():
    nodes = managers("m1")
    assert leases.refusal(lease("m2/scheduler"), "m1/scheduler", nodes, 5.0, 3.0, True) is None
    assert leases.refusal(lease("m2/scheduler"), "m1/scheduler", nodes, 5.0, 3.0, False) is not None
    assert leases.refusal(lease("m2/scheduler"), "m3/scheduler", nodes, 5.0, 3.0, True) is not None


def test_a_dead_leader_following_lease_waits_a_ttl_for_the_leaders_holder_before_anyone_takes_it():
    nodes = managers("m2", unreachable={"m1"})
    dead = lease("m1/scheduler", expires=10.0)
    assert leases.refusal(dead, "m2/scheduler", nodes, 5.0, 3.0, True) is None
    assert "kept for a holder on the leader m2" in leases.refusal(dead, "m3/scheduler", nodes, 5.0, 3.0, True)
    assert leases.refusal(dead, "m3/scheduler", nodes, 13.5, 3.0, True) is None


def test_without_a_known_leader_a_dead_lease_goes_to_anyone():
    nodes = {"m1": {"ManagerStatus": {"Leader": True}}, "m2": {"ManagerStatus": {"Leader": True}}}
    assert leases.leader(nodes) is None
    assert leases.refusal(lease("m1/scheduler", expires=4.0), "m3/scheduler", nodes, 5.0, 3.0, True) is None


def test_the_store_moves_a_controller_lease_to_the_leader_and_fences_the_old_holder():
    store = Store()
    for number, node in enumerate(managers("m2").values(), start=1):
        store.apply({"ops": [{"op": "create", "table": "nodes", "object": {
            **node, "Spec": {"Role": "manager"}, "Status": {"State": "ready"}}}]}, number, 1.0)
    op = {"op": "lease", "name": "scheduler", "ttl": 3, "follow_leader": True}
    first, _ = store.apply({"ops": [dict(op, holder="m1/scheduler")]}, 4, 2.0)
    assert first["results"][0]["Epoch"] == 1
    refused, _ = store.apply({"ops": [dict(op, holder="m3/scheduler")]}, 5, 2.5)
    assert refused["error"]["code"] == "lease_held"
    taken, _ = store.apply({"ops": [dict(op, holder="m2/scheduler")]}, 6, 3.0)
    assert taken["results"][0] == {**taken["results"][0], "Holder": "m2/scheduler", "Epoch": 2}
    fenced, _ = store.apply({"ops": [{"op": "create", "table": "secrets", "object": {"ID": "x", "Spec": {"Name": "x"}}}],
                             "fence": {"lease": "scheduler", "epoch": 1}}, 7, 3.1)
    assert fenced["error"]["code"] == "fenced"

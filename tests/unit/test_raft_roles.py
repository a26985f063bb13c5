"""The leader's membership decisions (actors/raft/roles.py) and the host's role switch (actors/executor/membership.py)."""

from __future__ import annotations

from actors.common.hostconfig import ManagerAddress
from actors.executor import membership
from actors.raft import roles
from actors.raft.roles import MembershipChange


def node(node_id, role="manager", status=None, endpoints=True):
    obj = {"ID": node_id, "Spec": {"Role": role}, "Shoal": {"PublicKey": "k" + node_id}}
    if endpoints:
        obj["Shoal"]["Endpoints"] = {"addr": "127.0.0.1", "port": 1000}
    if status is not None:
        obj["ManagerStatus"] = status
    return obj


def voter(reachable=True, leader=False):
    return {"Voter": True, "Leader": leader, "Reachability": "reachable" if reachable else "unreachable"}


def change(wanted, voters, learners=(), leader="a", match=None, last=100):
    return roles.next_change(set(wanted), tuple(voters), tuple(learners), leader, match or {}, last, 10)


def test_wanted_managers_need_the_manager_role_and_endpoints():
    nodes = {"a": node("a"), "b": node("b", role="worker"), "c": node("c", endpoints=False)}
    assert roles.wanted_managers(nodes) == {"a"}


def test_a_new_manager_joins_as_a_learner_first():
    """Thesis §4.2.1: a new server joins without a vote until it has caught up."""
    assert change("ab", "a") == MembershipChange(roles.ADD_LEARNER, "b")


def test_a_learner_is_promoted_only_once_caught_up():
    assert change("ab", "a", "b", match={"b": 50}) is None
    assert change("ab", "a", "b", match={}, last=3) is None  # never answered: maybe not even running
    assert change("ab", "a", "b", match={"b": 95}) == MembershipChange(roles.PROMOTE, "b")


def test_unwanted_members_are_removed_learners_before_voters():
    assert change("a", "ab", "c") == MembershipChange(roles.REMOVE, "c")
    assert change("a", "ab") == MembershipChange(roles.REMOVE, "b")


def test_additions_come_before_removals():
    assert change("ac", "ab") == MembershipChange(roles.ADD_LEARNER, "c")


def test_an_unwanted_leader_hands_over_to_the_most_caught_up_voter_before_removal():
    """Thesis §3.10/§4.2.2: transfer leadership, then the new leader removes the old one."""
    assert change("bc", "abc", match={"b": 10, "c": 90}) == MembershipChange(roles.TRANSFER, "c")


def test_the_last_voter_is_never_removed():
    assert change("", "a") is None


def test_manager_status_is_written_only_when_it_changes():
    nodes = {"a": node("a"), "b": node("b"), "w": node("w", role="worker")}
    ops = roles.manager_status_ops(nodes, ("a", "b"), (), "a", {"a"})
    statuses = {op["id"]: op["set"]["ManagerStatus"] for op in ops}
    assert statuses == {"a": {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:1000", "Voter": True},
                        "b": {"Leader": False, "Reachability": "unreachable", "Addr": "127.0.0.1:1000", "Voter": True}}
    for node_id, status in statuses.items():
        nodes[node_id]["ManagerStatus"] = status
    assert roles.manager_status_ops(nodes, ("a", "b"), (), "a", {"a"}) == []
    removed = roles.manager_status_ops(nodes, ("a",), (), "a", {"a"})
    assert removed == [{"op": "patch", "table": "nodes", "id": "b", "missing_ok": True, "set": {"ManagerStatus": None}}]


def test_demoting_the_last_manager_is_refused():
    assert "last manager" in roles.quorum_refusal({"a": node("a", status=voter())}, "a")


def test_demotion_that_would_lose_quorum_is_refused():
    nodes = {"a": node("a", status=voter()), "b": node("b", status=voter(reachable=False)),
             "c": node("c", status=voter(reachable=False))}
    assert "loss of quorum" in roles.quorum_refusal(nodes, "a")
    assert "loss of quorum" in roles.quorum_refusal(nodes, "b")  # a and c remain, only a is reachable
    nodes["c"]["ManagerStatus"] = voter()
    assert roles.quorum_refusal(nodes, "b") is None  # a and c remain, both reachable
    assert "loss of quorum" in roles.quorum_refusal(nodes, "a")  # b and c remain, only c is reachable


def test_demoting_a_worker_or_learner_never_touches_quorum():
    nodes = {"a": node("a", status=voter()), "b": node("b", status={"Voter": False, "Reachability": "reachable"})}
    assert roles.quorum_refusal(nodes, "b") is None


def address(node_id):
    return ManagerAddress(node_id, "127.0.0.1", 1000, "k")


def test_a_host_tries_its_own_dispatcher_first():
    order = membership.dispatcher_order([address("c"), address("b"), address("a")], "b")
    assert order[0].name == "b" and sorted(one.name for one in order[1:]) == ["a", "c"]


def test_a_promoted_worker_switches_at_once_a_demoted_manager_once_out_of_raft():
    assert membership.role_switch("worker", "manager", False) == "manager"
    assert membership.role_switch("manager", "worker", True) is None
    assert membership.role_switch("manager", "worker", False) == "worker"
    assert membership.role_switch("manager", "manager", True) is None
    assert membership.role_switch("worker", None, False) is None


def test_a_host_lists_itself_among_managers_exactly_when_it_is_one():
    others = [address("a"), address("c")]
    assert [m.node_id for m in membership.managers_after_switch(others, address("b"), "manager")] == ["a", "b", "c"]
    assert [m.node_id for m in membership.managers_after_switch(others + [address("b")], address("b"), "worker")] == ["a", "c"]

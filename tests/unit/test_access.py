"""Who a key is and what it may ask: the pure role lookups behind every socket's authorisation."""

from actors.common import access
from actors.common.hostconfig import ManagerAddress
from actors.common.view import StoreView
from actors.raft.access import RaftAccess, admitted_keys

CLUSTER = {"ID": "c", "Shoal": {"AdminKeys": ["ADMIN"]}}


def node(node_id, key, role="worker", **shoal):
    return {"ID": node_id, "Spec": {"Role": role}, "Shoal": {"PublicKey": key, **shoal}}


NODES = [node("m1", "MGR", "manager"), node("w1", "WRK"), node("gone", "LEFT", Left="2026-01-01T00:00:00.000000000Z")]


def test_role_of_each_kind_of_key():
    by_key = access.nodes_by_key(NODES)
    assert [access.role_of(key, CLUSTER, by_key) for key in ("ADMIN", "MGR", "WRK", "LEFT", "STRANGER", "")] == \
        ["admin", "manager", "worker", None, None, None]


def test_authorizer_refuses_with_one_line_naming_the_role_and_socket():
    by_key = access.nodes_by_key(NODES)
    authorize = access.authorizer("control", lambda key: access.role_of(key, CLUSTER, by_key),
                                  access.every_kind(["service_create"], access.ADMINS))
    assert authorize("service_create", "ADMIN") is None and authorize("service_create", "MGR") is None
    refusal = authorize("service_create", "WRK")
    assert refusal.startswith("permission denied: a key with role worker may not make 'service_create'") and "\n" not in refusal
    assert "does not know" in authorize("service_create", "STRANGER")
    assert authorize("no_such_kind", "ADMIN").startswith("permission denied")


def test_view_roles_follow_the_view_as_it_moves():
    view = StoreView(None, None)
    view.load({"index": 1, "tables": {"cluster": {"c": CLUSTER}, "nodes": {n["ID"]: n for n in NODES}}})
    roles = access.ViewRoles(view)
    assert roles.role_of("MGR") == "manager" and roles.role_of("ADMIN") == "admin"

    def change(index, action, obj):
        view.apply({"index": index, "time": 0, "changes": [{"table": "nodes", "id": obj["ID"], "action": action,
                                                            "object": obj}]})
    change(2, "update", node("m1", "MGR", "worker"))
    assert roles.role_of("MGR") == "worker"
    change(3, "delete", node("m1", "MGR", "worker"))
    assert roles.role_of("MGR") is None and roles.node_of("WRK")["ID"] == "w1"
    view.load({"index": 3, "tables": {"nodes": {}}})  # a snapshot read anew, at the same index
    assert roles.role_of("WRK") is None


def test_raft_admits_store_managers_and_members_and_host_json_only_while_the_store_is_empty():
    host_json = [ManagerAddress("m0", "127.0.0.1", 1, "BOOT")]
    assert admitted_keys([], host_json, set(), "me", "OWN") == {"BOOT": "m0", "OWN": "me"}
    demoted_member = node("d1", "DEMOTED", "worker")
    keys = admitted_keys(NODES + [demoted_member], host_json, {"d1"}, "me", "OWN")
    assert keys == {"MGR": "m1", "DEMOTED": "d1", "OWN": "me"}


def test_raft_peer_messages_must_come_from_their_senders_key():
    raft = RaftAccess("me", "OWN")
    raft.refresh(NODES, [], {"m1"})
    assert raft.sender_matches("MGR", "m1")
    assert not raft.sender_matches("MGR", "me") and not raft.sender_matches("WRK", "w1")
    assert raft.admits("OWN") and not raft.admits("WRK") and raft.role_of("MGR") == "manager"

"""The network state each host is told (actors/network/hoststate.py) and the index it is made from
(actors/network/netindex.py): plain store dicts in, plain data out."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.common.changeset import ChangeSet
from actors.network.hoststate import HostStates, from_items, host_network_state, to_items
from actors.network.netindex import NetworkIndex
from actors.network.objects import VNI_OPTION

INGRESS, FRONT, BACK = "ningress", "nfront", "nback"
SUBNETS = {INGRESS: "10.0.0", FRONT: "10.0.1", BACK: "10.0.2"}


def network(network_id, allocated=True, **spec):
    obj = {"ID": network_id, "Spec": {"Name": network_id[1:], **spec}}
    if allocated:
        prefix = SUBNETS[network_id]
        obj["DriverState"] = {"Name": "overlay", "Options": {VNI_OPTION: str(4096 + ord(network_id[1]))}}
        obj["IPAMOptions"] = {"Driver": {"Name": "default"},
                              "Configs": [{"Subnet": prefix + ".0/24", "Gateway": prefix + ".1"}]}
    return obj


def node(node_id, addr, state="ready", attachments=()):
    return {"ID": node_id, "Status": {"State": state, "Addr": addr},
            "Attachments": [{"Network": {"ID": net}, "Addresses": [f"{SUBNETS[net]}.{host}/24"]}
                            for net, host in attachments]}


def service(service_id, name, networks=(), mode=None, ports=(), vips=()):
    spec = {"Name": name, "TaskTemplate": {"Networks": [{"Target": net, "Aliases": list(aliases)}
                                                        for net, aliases in networks]}}
    if mode:
        spec["EndpointSpec"] = {"Mode": mode}
    return {"ID": service_id, "Spec": spec,
            "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": target, "PublishedPort": published,
                                    "PublishMode": "ingress"} for target, published in ports],
                         "VirtualIPs": [{"NetworkID": net, "Addr": f"{SUBNETS[net]}.{host}/24"} for net, host in vips]}}


def task(task_id, service_id, node_id, addresses, state="running", desired="running", slot=1):
    return {"ID": task_id, "ServiceID": service_id, "NodeID": node_id, "Slot": slot, "DesiredState": desired,
            "Status": {"State": state},
            "NetworksAttachments": [{"Network": {"ID": net}, "Addresses": [f"{SUBNETS[net]}.{host}/24"]}
                                    for net, host in addresses]}


def cluster():
    """Two services on ``front`` (``web`` publishes 8080 through the mesh), one on ``back``; nodes n1, n2, n3."""
    tables = {
        "networks": {INGRESS: network(INGRESS, Ingress=True), FRONT: network(FRONT, Attachable=True),
                     BACK: network(BACK, Internal=True)},
        "nodes": {"n1": node("n1", "192.168.5.1", attachments=[(INGRESS, 2), (FRONT, 3)]),
                  "n2": node("n2", "192.168.5.2", attachments=[(INGRESS, 3), (FRONT, 4), (BACK, 3)]),
                  "n3": node("n3", "192.168.5.3", attachments=[(INGRESS, 4), (BACK, 4)])},
        "services": {"sweb": service("sweb", "web", [(FRONT, ["www"])], ports=[(80, 8080)],
                                     vips=[(FRONT, 2), (INGRESS, 5)]),
                     "sapi": service("sapi", "api", [(FRONT, ()), (BACK, ())], mode="dnsrr"),
                     "sdb": service("sdb", "db", [(BACK, ())], vips=[(BACK, 2)])},
        "tasks": {"t1": task("t1", "sweb", "n1", [(FRONT, 10), (INGRESS, 10)]),
                  "t2": task("t2", "sweb", "n2", [(FRONT, 11), (INGRESS, 11)], slot=2),
                  "t3": task("t3", "sapi", "n2", [(FRONT, 12), (BACK, 12)], state="starting"),
                  "t4": task("t4", "sdb", "n3", [(BACK, 13)]),
                  "t5": task("t5", "sweb", "n1", [(FRONT, 14), (INGRESS, 14)], state="shutdown", desired="shutdown"),
                  "t6": task("t6", "sweb", "", [(FRONT, 15), (INGRESS, 15)], state="pending")},
    }
    return tables


def test_a_host_is_told_its_tasks_networks_and_ingress_with_the_peers_on_other_nodes():
    state = host_network_state(NetworkIndex(cluster()), "n1")
    assert [n["ID"] for n in state["Networks"]] == [FRONT, INGRESS]
    front = state["Networks"][0]
    assert front == {"ID": FRONT, "Name": "front", "VNI": front["VNI"], "Subnet": "10.0.1.0/24",
                     "Gateway": "10.0.1.1", "Internal": False, "Ingress": False, "Attachable": True,
                     "NodeAddress": "10.0.1.3/24",
                     "Peers": [{"NodeID": "n2", "DataAddr": "192.168.5.2", "Addresses": ["10.0.1.4", "10.0.1.11",
                                                                                      "10.0.1.12"]}]}
    assert isinstance(front["VNI"], int)
    ingress = state["Networks"][1]
    assert ingress["Ingress"] and ingress["NodeAddress"] == "10.0.0.2/24"
    assert [(p["NodeID"], p["Addresses"]) for p in ingress["Peers"]] == [
        ("n2", ["10.0.0.3", "10.0.0.11"]), ("n3", ["10.0.0.4"])]


def test_services_name_only_the_hosts_networks_and_their_live_tasks():
    state = host_network_state(NetworkIndex(cluster()), "n1")
    services = {s["Name"]: s for s in state["Services"]}
    assert sorted(services) == ["api", "web"]  # db is only on back, which n1 is not on
    web = services["web"]
    assert web["EndpointMode"] == "vip"
    assert web["Networks"] == {FRONT: {"Aliases": ["www"], "VIP": "10.0.1.2"},
                               INGRESS: {"Aliases": [], "VIP": "10.0.0.5"}}
    assert web["Ports"] == [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}]
    # t5 ended, t6 is not placed yet: neither is told
    assert web["Tasks"] == [
        {"ID": "t1", "Slot": 1, "NodeID": "n1", "Ready": True, "Addresses": {FRONT: "10.0.1.10", INGRESS: "10.0.0.10"}},
        {"ID": "t2", "Slot": 2, "NodeID": "n2", "Ready": True, "Addresses": {FRONT: "10.0.1.11", INGRESS: "10.0.0.11"}}]
    api = services["api"]
    assert api["EndpointMode"] == "dnsrr" and api["Networks"] == {FRONT: {"Aliases": [], "VIP": None}}
    assert api["Tasks"] == [{"ID": "t3", "Slot": 1, "NodeID": "n2", "Ready": False,
                             "Addresses": {FRONT: "10.0.1.12"}}]  # starting: not ready; back is not n1's


def test_a_task_on_a_node_that_is_down_is_not_ready():
    tables = cluster()
    tables["nodes"]["n2"]["Status"]["State"] = "down"
    web = next(s for s in host_network_state(NetworkIndex(tables), "n1")["Services"] if s["Name"] == "web")
    assert [(t["ID"], t["Ready"]) for t in web["Tasks"]] == [("t1", True), ("t2", False)]


def test_ingress_is_on_every_host_only_while_a_service_publishes_through_the_mesh():
    tables = cluster()
    assert [n["ID"] for n in host_network_state(NetworkIndex(tables), "n3")["Networks"]] == [BACK, INGRESS]
    tables["services"]["sweb"]["Endpoint"]["Ports"] = []
    state = host_network_state(NetworkIndex(tables), "n3")
    assert [n["ID"] for n in state["Networks"]] == [BACK]
    assert [s["Name"] for s in state["Services"]] == ["api", "db"]


def test_a_host_with_no_networked_task_is_told_nothing():
    tables = cluster()
    tables["services"]["sweb"]["Endpoint"]["Ports"] = []
    assert host_network_state(NetworkIndex(tables), "n9") == {"Networks": [], "Services": []}


def test_a_network_not_yet_allocated_is_left_out():
    tables = cluster()
    tables["networks"][BACK] = network(BACK, allocated=False)
    assert [n["ID"] for n in host_network_state(NetworkIndex(tables), "n3")["Networks"]] == [INGRESS]


def test_items_carry_a_state_whole_and_in_order():
    state = host_network_state(NetworkIndex(cluster()), "n2")
    items = to_items(state)
    assert all(len(item) == 1 for item in items)
    assert from_items(items) == state


def test_the_fingerprint_of_a_state_follows_what_the_node_is_told():
    tables = cluster()
    shared = HostStates(NetworkIndex(tables))
    items, fingerprint = shared.for_node("n2")
    assert items == to_items(host_network_state(NetworkIndex(tables), "n2"))
    assert HostStates(NetworkIndex(copy.deepcopy(tables))).for_node("n2")[1] == fingerprint
    assert shared.for_node("n1")[1] != fingerprint
    tables["tasks"]["t4"]["Status"]["State"] = "starting"  # on n3 and back, which n1 is not on
    assert HostStates(NetworkIndex(tables)).for_node("n1")[1] == shared.for_node("n1")[1]
    assert HostStates(NetworkIndex(tables)).for_node("n2")[1] != fingerprint


@pytest.mark.parametrize("items", [[{"Peer": {}}], [{"Task": {}}], [{"Bogus": {}}], [7], [{"Network": 1}],
                                   [{"Network": {}, "Service": {}}]])
def test_malformed_items_are_refused(items):
    with pytest.raises(ValueError):
        from_items(items)


# -- kept current one change at a time ------------------------------------------------

NODES = ("n1", "n2", "n3")
addresses = st.lists(st.tuples(st.sampled_from([INGRESS, FRONT, BACK]), st.integers(2, 30)), max_size=3,
                     unique_by=lambda pair: pair[0])
task_objects = st.builds(task, st.sampled_from(["t1", "t2", "t3", "t4", "t5"]), st.sampled_from(["sweb", "sapi", "sx"]),
                         st.sampled_from(NODES + ("",)), addresses,
                         st.sampled_from(["pending", "assigned", "starting", "running", "failed", "shutdown"]),
                         st.sampled_from(["running", "shutdown"]), st.integers(1, 3))
service_objects = st.builds(service, st.sampled_from(["sweb", "sapi", "sx"]), st.sampled_from(["web", "api"]),
                            st.lists(st.tuples(st.sampled_from([FRONT, BACK]), st.lists(st.sampled_from(["a", "b"]),
                                                                                         max_size=2)),
                                     max_size=2, unique_by=lambda pair: pair[0]),
                            st.sampled_from([None, "vip", "dnsrr"]),
                            st.lists(st.tuples(st.just(80), st.sampled_from([8080, 9090])), max_size=1),
                            st.lists(st.tuples(st.sampled_from([FRONT, INGRESS]), st.integers(2, 5)), max_size=2,
                                     unique_by=lambda pair: pair[0]))
node_objects = st.builds(node, st.sampled_from(NODES), st.sampled_from(["192.168.5.1", "192.168.5.9", ""]),
                         st.sampled_from(["ready", "down"]), addresses)
network_objects = st.builds(lambda network_id, allocated, ingress: network(network_id, allocated, Ingress=ingress),
                            st.sampled_from([INGRESS, FRONT, BACK]), st.booleans(), st.booleans())
changes = st.lists(st.one_of(st.tuples(st.just("tasks"), task_objects), st.tuples(st.just("services"), service_objects),
                             st.tuples(st.just("nodes"), node_objects), st.tuples(st.just("networks"), network_objects),
                             st.tuples(st.sampled_from(["tasks", "services", "nodes", "networks"]),
                                       st.sampled_from(["t1", "t2", "sweb", "n2", INGRESS, FRONT]))),
                   max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=changes, batch=st.integers(1, 4))
def test_an_index_kept_current_equals_one_rebuilt_and_names_every_host_whose_state_changed(changes, batch):
    tables = cluster()
    index = NetworkIndex(tables)
    before = {node_id: host_network_state(index, node_id) for node_id in NODES}
    states_of = {}  # fingerprint -> the state it was given for
    for start in range(0, len(changes), batch):
        recorded = ChangeSet()
        for table, value in changes[start:start + batch]:
            if isinstance(value, dict):  # an object written whole
                old = tables[table].get(value["ID"])
                tables[table][value["ID"]] = value
                recorded.record(table, value["ID"], old, value)
            elif value in tables[table]:  # an id: the object deleted
                recorded.record(table, value, tables[table].pop(value), None)
        touched = index.update(recorded.take(), tables["tasks"])
        rebuilt = NetworkIndex(tables)
        assert index.state() == rebuilt.state()
        shared = HostStates(index)  # one for every node, as the dispatcher makes per batch
        for node_id in NODES:
            now = host_network_state(rebuilt, node_id)
            items, fingerprint = shared.for_node(node_id)
            assert from_items(items) == now
            assert states_of.setdefault(fingerprint, now) == now, "one fingerprint for two states"
            named = touched.everything or node_id in touched.nodes or bool(
                (index.host_networks(node_id) | {n["ID"] for n in before[node_id]["Networks"]}) & touched.networks)
            assert named or now == before[node_id], f"{node_id}'s state changed but it was not named"
            before[node_id] = now

"""The allocator's pure core: published ports, conflicts, new -> pending, and check_ports.

Networks, addresses and virtual IPs: test_allocator_networks.py. The views here hold an allocated
ingress network, as every cluster does; a service publishing through it gets a VIP on it, which these
tests leave to that module (``endpoints`` leaves VirtualIPs out)."""

import pytest

from actors.allocator.core import allocate
from actors.allocator.ports import DYNAMIC_PORTS, PortBook, PortConflict, check_ports
from actors.network import objects
from actors.raft.store import Store
from transport import schema

T0 = 1_000.0


# -- fixtures ---------------------------------------------------------------

def port(target, published=None, protocol=None, mode=None):
    spec = {"TargetPort": target}
    for key, value in (("PublishedPort", published), ("Protocol", protocol), ("PublishMode", mode)):
        if value is not None:
            spec[key] = value
    return spec


def allocated(target, published, protocol="tcp", mode="ingress"):
    return {"Protocol": protocol, "TargetPort": target, "PublishedPort": published, "PublishMode": mode}


INGRESS = {"ID": "ing", "Spec": {"Name": "ingress", "Ingress": True}, **objects.allocation(4096, "10.0.0.0/24", "10.0.0.1")}


def service(service_id="s1", name="web", ports=None, endpoint=None, created=1, version=3):
    spec = {"Name": name, "TaskTemplate": {}, "Mode": {"Replicated": {"Replicas": 1}}}
    if ports is not None:
        spec["EndpointSpec"] = {"Ports": ports}
    obj = {"ID": service_id, "Spec": spec, "Version": {"Index": version}, "CreatedAt": schema.format_time(created)}
    if endpoint is not None:
        obj["Endpoint"] = {"Spec": spec.get("EndpointSpec", {}), "Ports": endpoint}
        if objects.publishes_ingress(spec):
            obj["Endpoint"]["VirtualIPs"] = [{"NetworkID": "ing", "Addr": f"10.0.0.{100 + created}/24"}]
    return obj


def outdated(obj):
    """``obj`` with an Endpoint allocated for an earlier spec."""
    obj["Endpoint"]["Spec"] = {"Ports": [port(1, 1)]}
    return obj


def task(task_id, service_id="s1", state="new", desired="running", version=4):
    return {"ID": task_id, "ServiceID": service_id, "Slot": 1, "NodeID": "", "DesiredState": desired,
            "Status": schema.task_status(state, "created", T0), "Version": {"Index": version}}


def view(services=(), tasks=()):
    return {"cluster": None, "nodes": {}, "services": {s["ID"]: s for s in services},
            "tasks": {t["ID"]: t for t in tasks}, "networks": {"ing": INGRESS}}


def endpoints(decision):
    """Service id -> the Endpoint written, without its VirtualIPs."""
    return {op["id"]: {key: value for key, value in op["set"]["Endpoint"].items() if key != "VirtualIPs"}
            for op in decision.ops if op["table"] == "services"}


def task_sets(decision):
    return {op["id"]: op["set"] for op in decision.ops if op["table"] == "tasks"}


def settle(the_view, now=T0):
    """Apply allocate passes to the real store until quiet; return the store's tables."""
    store = Store()
    store.restore({"index": 100, "tables": {name: the_view[name] for name in ("services", "tasks", "networks")}})
    for _ in range(4):
        decision = allocate({"cluster": None, **store.tables}, now)
        if not decision.ops:
            return store.tables
        result, _ = store.apply({"ops": decision.ops}, store.index + 1, now)
        assert "error" not in result, result
    raise AssertionError("allocate did not settle")


# -- endpoints --------------------------------------------------------------

def test_a_service_without_ports_gets_an_empty_endpoint_version_checked():
    decision = allocate(view([service()]), T0)
    assert decision.ops == [{"op": "patch", "table": "services", "id": "s1", "version": 3,
                             "set": {"Endpoint": {"Spec": {}, "Ports": []}}}]
    assert decision.wake_at is None


def test_requested_ingress_ports_are_allocated_with_defaults_filled_in():
    decision = allocate(view([service(ports=[port(80, 8080), port(53, 5353, protocol="udp")])]), T0)
    assert endpoints(decision)["s1"] == {"Spec": {"Ports": [port(80, 8080), port(53, 5353, protocol="udp")]},
                                         "Ports": [allocated(80, 8080), allocated(53, 5353, protocol="udp")]}


def test_dynamic_ports_take_the_lowest_free_port_of_the_range_per_protocol():
    other = service("s0", "db", ports=[port(5432, 30000)], endpoint=[allocated(5432, 30000)])
    mine = service(ports=[port(80), port(81, 0), port(53, protocol="udp")], created=2)
    ports = endpoints(allocate(view([other, mine]), T0))["s1"]["Ports"]
    assert [(p["Protocol"], p["PublishedPort"]) for p in ports] == [("tcp", 30001), ("tcp", 30002), ("udp", 30000)]


def test_an_allocated_service_is_left_alone():
    the_view = view([service(ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])])
    assert allocate(the_view, T0).ops == []


def test_host_mode_ports_are_not_cluster_unique():
    first = service("s0", "a", ports=[port(80, 8080, mode="host")], endpoint=[allocated(80, 8080, mode="host")])
    second = service("s1", "b", ports=[port(80, 8080, mode="host"), port(81, mode="host")], created=2)
    assert endpoints(allocate(view([first, second]), T0))["s1"]["Ports"] == [
        allocated(80, 8080, mode="host"), allocated(81, 0, mode="host")]


def test_an_updated_spec_is_reallocated_and_keeps_its_dynamic_port():
    mine = outdated(service(ports=[port(80), port(443, 8443)], endpoint=[allocated(80, 30007), allocated(22, 8022)]))
    ports = endpoints(allocate(view([mine]), T0))["s1"]["Ports"]
    assert ports == [allocated(80, 30007), allocated(443, 8443)]


def test_an_update_may_keep_its_own_explicit_port():
    mine = outdated(service(ports=[port(80, 8080), port(81)], endpoint=[allocated(80, 8080)]))
    assert endpoints(allocate(view([mine]), T0))["s1"]["Ports"] == [allocated(80, 8080), allocated(81, 30000)]


def test_a_port_freed_by_an_update_is_free_for_others_in_the_same_pass():
    moved = outdated(service("s0", "old", ports=[port(80, 9090)], endpoint=[allocated(80, 8080)]))
    wants = service("s1", "new", ports=[port(80, 8080)], created=2)
    assert endpoints(allocate(view([moved, wants]), T0))["s1"]["Ports"] == [allocated(80, 8080)]


# -- conflicts --------------------------------------------------------------

def test_a_conflict_writes_no_ports_and_explains_on_the_new_tasks_once():
    holder = service("s0", "web", ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])
    mine = service("s1", "api", ports=[port(80, 8080)], created=2)
    the_view = view([holder, mine], [task("t1", "s1"), task("t2", "s1", state="pending")])
    decision = allocate(the_view, T0)
    assert endpoints(decision) == {}
    assert task_sets(decision) == {"t1": {"Status.Message": "waiting for port allocation",
                                          "Status.Err": "port 8080/tcp is already in use by service 'web'"}}
    assert decision.ops[0]["version"] == 4
    tables = settle(the_view)
    assert tables["tasks"]["t1"]["Status"]["State"] == "new" and "Endpoint" not in tables["services"]["s1"]


def test_the_older_of_two_new_services_wins_a_port():
    older = service("s9", "first", ports=[port(80, 8080)], created=1)
    newer = service("s1", "second", ports=[port(80, 8080)], created=2)
    decision = allocate(view([newer, older], [task("t", "s1")]), T0)
    assert list(endpoints(decision)) == ["s9"]
    assert task_sets(decision)["t"]["Status.Err"] == "port 8080/tcp is already in use by service 'first'"


def test_a_port_published_twice_in_one_spec_is_a_conflict():
    decision = allocate(view([service(ports=[port(80, 8080), port(81, 8080)])], [task("t")]), T0)
    assert task_sets(decision)["t"]["Status.Err"] == "port 8080/tcp is published more than once"


def test_a_failed_update_keeps_the_old_endpoint_and_its_ports():
    holder = service("s0", "web", ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])
    mine = outdated(service("s1", "api", ports=[port(80, 8080)], endpoint=[allocated(80, 9090)], created=2))
    third = service("s2", "other", ports=[port(80, 9090)], created=3)
    decision = allocate(view([holder, mine, third], [task("t", "s2")]), T0)
    assert endpoints(decision) == {}
    assert task_sets(decision)["t"]["Status.Err"] == "port 9090/tcp is already in use by service 'api'"


def test_the_dynamic_range_can_run_out():
    book = PortBook({("tcp", number): ("s0", "big") for number in DYNAMIC_PORTS})
    with pytest.raises(PortConflict, match="no free tcp port left in 30000-32767"):
        book.lowest_free("tcp")
    assert book.lowest_free("udp") == 30000


# -- tasks ------------------------------------------------------------------

def test_new_tasks_of_an_allocated_service_become_pending_with_its_ports():
    the_view = view([service(ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])], [task("t")])
    sets = task_sets(allocate(the_view, T0 + 1))
    assert [attachment["Network"]["ID"] for attachment in sets["t"].pop("NetworksAttachments")] == ["ing"]
    assert sets == {"t": {"Status": {"Timestamp": schema.format_time(T0 + 1), "State": "pending",
                                     "Message": "pending task scheduling"},
                          "Endpoint": {"Ports": [allocated(80, 8080)]}}}


def test_allocation_and_promotion_happen_in_one_pass_and_settle():
    the_view = view([service(ports=[port(80)])], [task("t")])
    decision = allocate(the_view, T0)
    assert [op["table"] for op in decision.ops] == ["services", "tasks"]
    tables = settle(the_view)
    assert tables["tasks"]["t"]["Endpoint"]["Ports"] == tables["services"]["s1"]["Endpoint"]["Ports"]
    assert tables["tasks"]["t"]["Status"]["State"] == "pending"


@pytest.mark.parametrize("other", [task("t", state="pending"), task("t", desired="shutdown"),
                                   task("t", service_id="gone")])
def test_only_new_tasks_meant_to_run_of_a_known_service_are_promoted(other):
    the_view = view([service(endpoint=[])], [other])
    assert allocate(the_view, T0).ops == []


def test_tasks_of_a_stale_endpoint_wait_for_the_reallocation():
    stale = outdated(service(ports=[port(80, 8080)], endpoint=[allocated(80, 9090)]))
    decision = allocate(view([stale], [task("t")]), T0)
    assert task_sets(decision)["t"]["Endpoint"] == {"Ports": [allocated(80, 8080)]}


# -- check_ports ------------------------------------------------------------

def test_check_ports_accepts_a_free_spec():
    the_view = view([service("s0", "web", ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])])
    assert check_ports(the_view, {"Name": "api", "EndpointSpec": {"Ports": [port(80, 8081), port(81)]}}) is None
    assert check_ports(the_view, {"Name": "api"}) is None


def test_check_ports_reports_allocated_and_requested_ports_of_other_services():
    allocated_one = service("s0", "web", ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])
    requested_one = service("s1", "api", ports=[port(80, 9090)])
    the_view = view([allocated_one, requested_one])
    assert check_ports(the_view, {"EndpointSpec": {"Ports": [port(1, 8080)]}}) == \
        "port 8080/tcp is already in use by service 'web'"
    assert check_ports(the_view, {"EndpointSpec": {"Ports": [port(1, 9090)]}}) == \
        "port 9090/tcp is already in use by service 'api'"
    assert check_ports(the_view, {"EndpointSpec": {"Ports": [port(1, 8080, protocol="udp")]}}) is None


def test_check_ports_lets_a_service_keep_its_own_ports_on_update():
    the_view = view([service("s0", "web", ports=[port(80, 8080)], endpoint=[allocated(80, 8080)])])
    assert check_ports(the_view, {"EndpointSpec": {"Ports": [port(80, 8080)]}}, service_id="s0") is None


def test_check_ports_reports_duplicates_within_the_spec():
    spec = {"EndpointSpec": {"Ports": [port(80, 8080), port(81, 8080)]}}
    assert check_ports(view(), spec) == "port 8080/tcp is published more than once"

"""The allocator's networks, virtual IPs, task attachments and node attachments (actors/allocator/core.py).

A Rig is the real store, a real StoreView following it and the allocator's incremental decide function on
that view; after every pass its address book is checked against one rebuilt from the store."""

import copy
import ipaddress

from hypothesis import given, settings, strategies as st
from prometheus_client import REGISTRY

from actors.allocator.actor import AddressGauges
from actors.allocator.addresses import AddressBook
from actors.allocator.core import Allocator, allocate
from actors.common.view import StoreView
from actors.network import objects
from actors.raft.store import Store
from transport import schema

T0 = 1_000.0


def network(network_id, name, subnet=None, gateway=None, created=1, ingress=False):
    spec = {"Name": name, "DriverConfiguration": {"Name": "overlay"}, "Ingress": ingress}
    if subnet:
        spec["IPAMOptions"] = {"Configs": [{"Subnet": subnet, **({"Gateway": gateway} if gateway else {})}]}
    return {"ID": network_id, "Spec": spec, "CreatedAt": schema.format_time(created)}


def service(service_id, networks=(), ports=(), mode="vip", created=2):
    spec = {"Name": service_id, "Mode": {"Replicated": {"Replicas": 1}},
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox"},
                             "Networks": [{"Target": n, "Aliases": [f"{service_id}-{n}"]} for n in networks]},
            "EndpointSpec": {"Mode": mode, "Ports": [{"TargetPort": p} for p in ports]}}
    return {"ID": service_id, "Spec": spec, "CreatedAt": schema.format_time(created)}


def task(task_id, svc, node="", state="new", desired="running"):
    return {"ID": task_id, "ServiceID": svc["ID"], "Slot": 1, "NodeID": node, "DesiredState": desired,
            "Spec": copy.deepcopy(svc["Spec"]["TaskTemplate"]), "Status": schema.task_status(state, "", T0),
            "CreatedAt": schema.format_time(3)}


def node(node_id):
    return {"ID": node_id, "Spec": {"Role": "worker"}, "Status": {"State": "ready"}}


class Rig:
    """A store, a view following it, and the allocator's incremental decide function on that view."""

    def __init__(self, networks=(), services=(), tasks=(), nodes=(), cluster=None):
        self.store = Store()
        tables = {"networks": {n["ID"]: n for n in networks}, "services": {s["ID"]: s for s in services},
                  "tasks": {t["ID"]: t for t in tasks}, "nodes": {n: node(n) for n in nodes},
                  "cluster": {"c": {"ID": "c", **(cluster or {})}}}
        self.store.restore({"index": 1, "tables": tables})
        self.view = StoreView(None, None)
        self.view.load({"index": 1, "tables": copy.deepcopy(self.store.tables)})
        self.allocator = Allocator()

    def write(self, ops):
        result, changes = self.store.apply({"ops": ops}, self.store.index + 1, T0)
        assert "error" not in result, result
        self.view.apply({"index": self.store.index, "time": 0, "changes": [change.to_dict() for change in changes]})

    def step(self):
        decision = self.allocator(self.view, T0)
        rebuilt = AddressBook()
        rebuilt.rebuild(self.store.tables["networks"], self.store.tables)
        assert held(self.allocator._book) == held(rebuilt)
        nodes = set(self.store.tables["nodes"]) | {t.get("NodeID") for t in self.store.tables["tasks"].values()}
        assert {n: self.allocator._book.node_networks(n) for n in nodes} == {n: rebuilt.node_networks(n) for n in nodes}
        if decision.ops:
            self.write(decision.ops)
        return decision

    def settle(self):
        for _ in range(6):
            if not self.step().ops:
                return self.store.tables
        raise AssertionError("did not settle")

    def get(self, table, object_id):
        return self.store.tables[table][object_id]

    def patch(self, table, object_id, changes):
        self.write([{"op": "patch", "table": table, "id": object_id, "set": changes}])


def held(book):
    """Network id -> the addresses its pool holds."""
    return {network_id: {str(host) for host in pool.subnet.hosts() if pool.holds(str(host))}
            for network_id, pool in book.pools.items()}


def addresses(task_obj):
    return {attachment["Network"]["ID"]: attachment["Addresses"][0] for attachment in task_obj["NetworksAttachments"]}


INGRESS = network("ing", "ingress", ingress=True, created=0)


# -- networks ---------------------------------------------------------------

def test_ingress_then_a_network_without_a_subnet_take_the_first_subnets_of_the_default_pool():
    tables = Rig([INGRESS, network("n1", "front")]).settle()
    assert tables["networks"]["ing"]["IPAMOptions"]["Configs"] == [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}]
    assert objects.vni_of(tables["networks"]["ing"]) == 4096
    assert objects.allocated_config(tables["networks"]["n1"]) == {"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}
    assert tables["networks"]["n1"]["DriverState"] == {
        "Name": "overlay", "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4097"}}


def test_a_requested_subnet_and_gateway_are_kept_and_avoided_by_defaults():
    tables = Rig([network("n1", "a", created=1), network("n2", "b", "10.0.0.0/24", "10.0.0.254", created=2)],
                 cluster={"DefaultAddrPool": ["10.0.0.0/16"], "SubnetSize": 24}).settle()
    assert objects.allocated_config(tables["networks"]["n2"]) == {"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.254"}
    assert objects.allocated_config(tables["networks"]["n1"])["Subnet"] == "10.0.1.0/24"


def test_the_cluster_address_pool_and_subnet_size_are_used():
    tables = Rig([INGRESS], cluster={"DefaultAddrPool": ["192.168.64.0/20"], "SubnetSize": 26}).settle()
    assert objects.allocated_config(tables["networks"]["ing"]) == {"Subnet": "192.168.64.0/26",
                                                                   "Gateway": "192.168.64.1"}


def test_an_overlapping_requested_subnet_stays_unallocated_and_its_tasks_say_why():
    web = service("web", ["n2"])
    tables = Rig([network("n1", "a", "10.0.5.0/24"), network("n2", "b", "10.0.5.128/25", created=2)], [web],
                 [task("t1", web)]).settle()
    assert not objects.is_allocated(tables["networks"]["n2"])
    assert tables["tasks"]["t1"]["Status"]["State"] == "new"
    assert tables["tasks"]["t1"]["Status"]["Err"] == \
        "network b: subnet 10.0.5.128/25 overlaps subnet 10.0.5.0/24 of another network"


# -- virtual IPs and attachments ---------------------------------------------

def test_a_vip_service_gets_a_vip_per_network_and_its_tasks_an_address_each_with_aliases():
    web = service("web", ["n1"], ports=[80])
    rig = Rig([INGRESS, network("n1", "front")], [web], [task("t1", web), task("t2", web)])
    tables = rig.settle()
    vips = tables["services"]["web"]["Endpoint"]["VirtualIPs"]
    assert [(vip["NetworkID"], vip["Addr"]) for vip in vips] == [("n1", "10.0.1.2/24"), ("ing", "10.0.0.2/24")]
    t1, t2 = tables["tasks"]["t1"], tables["tasks"]["t2"]
    assert t1["Status"]["State"] == "pending"
    assert {addresses(t1)["n1"], addresses(t2)["n1"]} == {"10.0.1.3/24", "10.0.1.4/24"}
    assert {addresses(t1)["ing"], addresses(t2)["ing"]} == {"10.0.0.3/24", "10.0.0.4/24"}
    front = t1["NetworksAttachments"][0]
    assert front["Aliases"] == ["web-n1"] and front["Network"]["Spec"]["Name"] == "front"
    assert objects.vni_of(front["Network"]) == 4097


def test_a_dnsrr_service_has_no_vip_but_its_tasks_have_addresses():
    db = service("db", ["n1"], mode="dnsrr")
    tables = Rig([INGRESS, network("n1", "back")], [db], [task("t1", db)]).settle()
    assert "VirtualIPs" not in tables["services"]["db"]["Endpoint"]
    assert list(addresses(tables["tasks"]["t1"])) == ["n1"]


def test_an_update_keeps_the_vips_of_networks_kept_and_drops_the_others():
    web = service("web", ["n1", "n2"])
    rig = Rig([network("n1", "a"), network("n2", "b"), network("n3", "c")], [web])
    rig.settle()
    before = {vip["NetworkID"]: vip["Addr"] for vip in rig.get("services", "web")["Endpoint"]["VirtualIPs"]}
    spec = copy.deepcopy(rig.get("services", "web")["Spec"])
    spec["TaskTemplate"]["Networks"] = [{"Target": "n3"}, {"Target": "n1"}]
    rig.patch("services", "web", {"Spec": spec})
    after = {vip["NetworkID"]: vip["Addr"] for vip in rig.settle()["services"]["web"]["Endpoint"]["VirtualIPs"]}
    assert after["n1"] == before["n1"] and set(after) == {"n1", "n3"}
    assert not any(pool_holds(rig, "n2", address) for address in before.values())


def test_switching_to_dnsrr_drops_the_vips_and_back_to_vip_gives_new_ones():
    rig = Rig([network("n1", "a")], [service("web", ["n1"])])
    rig.settle()
    vip = rig.get("services", "web")["Endpoint"]["VirtualIPs"][0]["Addr"]
    spec = copy.deepcopy(rig.get("services", "web")["Spec"])
    spec["EndpointSpec"]["Mode"] = "dnsrr"
    rig.patch("services", "web", {"Spec": spec})
    assert "VirtualIPs" not in rig.settle()["services"]["web"]["Endpoint"] and not pool_holds(rig, "n1", vip)
    spec["EndpointSpec"]["Mode"] = "vip"
    rig.patch("services", "web", {"Spec": spec})
    assert rig.settle()["services"]["web"]["Endpoint"]["VirtualIPs"][0]["Addr"] != vip  # reuse is delayed


def pool_holds(rig, network_id, address):
    return rig.allocator._book.pools[network_id].holds(address)


def test_tasks_wait_for_a_network_not_yet_allocated_or_gone():
    web = service("web", ["gone"])
    tables = Rig([], [web], [task("t1", web)]).settle()
    assert tables["tasks"]["t1"]["Status"]["State"] == "new"
    assert tables["tasks"]["t1"]["Status"]["Err"] == "network gone not found"


def test_an_exhausted_subnet_leaves_the_task_new_with_a_clear_error():
    web = service("web", ["n1"], mode="dnsrr")
    tasks = [task(f"t{number}", web) for number in range(3)]
    tables = Rig([network("n1", "tiny", "10.9.0.0/29")], [web], tasks).settle()  # 5 addresses beside the gateway
    states = sorted(t["Status"]["State"] for t in tables["tasks"].values())
    assert states == ["pending"] * 3
    rig = Rig([network("n1", "tiny", "10.9.0.0/30")], [web], tasks)  # 1 address
    tables = rig.settle()
    waiting = [t for t in tables["tasks"].values() if t["Status"]["State"] == "new"]
    assert len(waiting) == 2
    assert waiting[0]["Status"]["Err"] == \
        "could not allocate an address on network tiny: no free address left in subnet 10.9.0.0/30"
    assert waiting[0]["Status"]["Message"] == "waiting for network allocation"


def test_an_ended_tasks_address_is_free_again_but_reused_last():
    web = service("web", ["n1"], mode="dnsrr")
    rig = Rig([network("n1", "a", "10.9.0.0/29")], [web], [task("t1", web), task("t2", web)])
    rig.settle()
    first = addresses(rig.get("tasks", "t1"))["n1"]
    rig.patch("tasks", "t1", {"Status.State": "failed"})
    rig.write([{"op": "create", "table": "tasks", "object": task("t3", web)}])
    rig.settle()
    assert addresses(rig.get("tasks", "t3"))["n1"] != first  # .4, after the last handed out
    rig.write([{"op": "create", "table": "tasks", "object": task(f"t{n}", web)} for n in (4, 5, 6)])
    rig.settle()
    got = sorted(addresses(rig.get("tasks", f"t{n}"))["n1"] for n in (4, 5, 6))
    assert got == ["10.9.0.2/29", "10.9.0.5/29", "10.9.0.6/29"]  # wrapped round to the freed .2 last


# -- node attachments -------------------------------------------------------

def test_every_node_gets_an_ingress_address_and_one_on_each_network_of_its_tasks():
    web = service("web", ["n1"], mode="dnsrr")
    rig = Rig([INGRESS, network("n1", "a")], [web], [task("t1", web)], nodes=["m1", "w1"])
    rig.settle()
    for node_id in ("m1", "w1"):
        assert [a["Network"]["ID"] for a in rig.get("nodes", node_id)["Attachments"]] == ["ing"]
    rig.patch("tasks", "t1", {"NodeID": "w1", "Status.State": "assigned"})
    rig.settle()
    attachments = rig.get("nodes", "w1")["Attachments"]
    assert [a["Network"]["ID"] for a in attachments] == ["ing", "n1"]
    node_address = attachments[1]["Addresses"][0]
    assert node_address != addresses(rig.get("tasks", "t1"))["n1"]
    assert ipaddress.IPv4Interface(node_address).network == ipaddress.IPv4Network("10.0.1.0/24")
    rig.patch("tasks", "t1", {"Status.State": "shutdown"})
    rig.settle()
    assert [a["Network"]["ID"] for a in rig.get("nodes", "w1")["Attachments"]] == ["ing"]
    assert not pool_holds(rig, "n1", node_address)


def test_a_removed_nodes_and_services_addresses_are_released():
    web = service("web", ["n1"])
    rig = Rig([INGRESS, network("n1", "a")], [web], [task("t1", web, node="w1", state="running")], nodes=["w1"])
    rig.settle()
    rig.write([{"op": "delete", "table": "nodes", "id": "w1"}, {"op": "delete", "table": "services", "id": "web"}])
    rig.settle()
    assert held(rig.allocator._book) == {"ing": set(), "n1": set()}


def test_a_fresh_decision_equals_the_incremental_one_on_a_settled_store():
    web = service("web", ["n1"], ports=[80])
    rig = Rig([INGRESS, network("n1", "a")], [web], [task("t1", web)], nodes=["w1"])
    rig.settle()
    assert allocate(rig.view, T0).ops == []


def test_the_gauges_show_addresses_held_and_left_per_network_and_forget_a_network_gone_or_the_lease_lost():
    web = service("web", ["n1"], mode="dnsrr")
    rig = Rig([network("n1", "h1-gauged", "10.9.0.0/29")], [web], [task("t1", web), task("t2", web)])
    rig.settle()
    gauges = AddressGauges(rig.allocator)
    gauges(rig.view)
    sample = REGISTRY.get_sample_value
    assert sample("shoal_network_addresses_held", {"network": "h1-gauged"}) == 2
    assert sample("shoal_network_addresses_free", {"network": "h1-gauged"}) == 3  # 6 hosts, the gateway, 2 held
    gauges.lease(False)  # a standby exports none
    assert sample("shoal_network_addresses_held", {"network": "h1-gauged"}) is None
    gauges(rig.view)  # the lease is back: the next pass exports them again
    assert sample("shoal_network_addresses_held", {"network": "h1-gauged"}) == 2
    rig.write([{"op": "delete", "table": "tasks", "id": t} for t in ("t1", "t2")]
              + [{"op": "delete", "table": "services", "id": "web"}, {"op": "delete", "table": "networks", "id": "n1"}])
    rig.step()
    gauges(rig.view)
    assert sample("shoal_network_addresses_held", {"network": "h1-gauged"}) is None


# -- the book follows the store ---------------------------------------------

EVENTS = st.lists(st.tuples(st.sampled_from(["new", "assign", "run", "end", "delete", "node", "unnet", "netadd",
                                             "network"]),
                            st.integers(0, 20)), max_size=20)


@settings(max_examples=20, deadline=None)
@given(EVENTS)
def test_property_after_any_changes_the_book_equals_one_rebuilt_from_the_store(events):
    web = service("web", ["n1"], ports=[80])
    rig = Rig([INGRESS, network("n1", "a", "10.7.0.0/27")], [web], nodes=["w1", "w2"])
    serial = 0
    for kind, number in events:
        tasks = sorted(rig.store.tables["tasks"])
        target = tasks[number % len(tasks)] if tasks else None
        if kind == "new" or target is None:
            serial += 1
            rig.write([{"op": "create", "table": "tasks", "object": task(f"t{serial}", rig.get("services", "web"))}])
        elif kind == "assign":
            rig.patch("tasks", target, {"NodeID": f"w{number % 2 + 1}", "Status.State": "assigned"})
        elif kind == "run":
            rig.patch("tasks", target, {"Status.State": "running"})
        elif kind == "end":
            rig.patch("tasks", target, {"Status.State": "complete"})
        elif kind == "delete":
            rig.write([{"op": "delete", "table": "tasks", "id": target}])
        elif kind == "network":  # n2, used by nothing, is created (then allocated), or removed
            rig.write([{"op": "delete", "table": "networks", "id": "n2"} if "n2" in rig.store.tables["networks"] else
                       {"op": "create", "table": "networks", "object": network("n2", "b", "10.8.0.0/28")}])
        elif kind == "node":  # w2 leaves the cluster, or comes back
            rig.write([{"op": "delete", "table": "nodes", "id": "w2"} if "w2" in rig.store.tables["nodes"] else
                       {"op": "create", "table": "nodes", "object": node("w2")}])
        elif kind in ("unnet", "netadd"):
            spec = copy.deepcopy(rig.get("services", "web")["Spec"])
            spec["TaskTemplate"]["Networks"] = [] if kind == "unnet" else [{"Target": "n1"}]
            rig.patch("services", "web", {"Spec": spec})
        rig.step()  # checks the book against a rebuilt one
    rig.settle()
    assert allocate(rig.view, T0).ops == []  # what it settled on is what a pass from scratch decides too

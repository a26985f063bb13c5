"""The control API's network checks (actors/controlapi/networks.py): create, service attachment, removal, inspect."""

import pytest

from actors.controlapi import networks
from actors.network import objects
from transport import schema
from transport.rpc import RpcError

INGRESS = {"ID": "ing", "Spec": {"Name": "ingress", "Ingress": True}, **objects.allocation(4096, "10.0.0.0/24", "10.0.0.1")}
FRONT = {"ID": "front1", "Spec": {"Name": "front"}, **objects.allocation(4097, "10.0.1.0/24", "10.0.1.1")}
ASKED = {"ID": "asked1", "Spec": {"Name": "asked", "IPAMOptions": {"Configs": [{"Subnet": "10.5.0.0/16"}]}}}
TABLE = {n["ID"]: n for n in (INGRESS, FRONT, ASKED)}


def refused(code, match, call, *args):
    with pytest.raises(RpcError) as raised:
        call(*args)
    assert raised.value.code == code and match in raised.value.message, raised.value.message
    assert "\n" not in raised.value.message


# -- create -----------------------------------------------------------------

def test_a_plain_create_gets_docker_defaults():
    spec = networks.checked_network_spec({"Name": "back"}, TABLE)
    assert spec == {"Name": "back", "Labels": {}, "DriverConfiguration": {"Name": "overlay", "Options": {}},
                    "IPAMOptions": {"Driver": {"Name": "default"}}, "Attachable": False, "Internal": False,
                    "Ingress": False}


def test_a_subnet_and_gateway_are_kept():
    spec = networks.checked_network_spec({"Name": "back", "IPAMOptions": {"Configs": [
        {"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.254"}]}}, TABLE)
    assert spec["IPAMOptions"]["Configs"] == [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.254"}]


@pytest.mark.parametrize("spec, code, match", [
    ({"Name": "front"}, "name_conflict", "network with name front already exists (front1)"),
    ({"Name": "x", "IPAMOptions": {"Configs": [{"Subnet": "10.0.1.128/25"}]}}, "refused",
     "subnet 10.0.1.128/25 overlaps subnet 10.0.1.0/24 of network front"),
    ({"Name": "x", "IPAMOptions": {"Configs": [{"Subnet": "10.5.3.0/24"}]}}, "refused",
     "overlaps subnet 10.5.0.0/16 of network asked"),
    ({"Name": "x", "IPAMOptions": {"Configs": [{"Subnet": "10.9.0.0/24", "Gateway": "10.8.0.1"}]}}, "invalid",
     "gateway 10.8.0.1 is not a host address of subnet 10.9.0.0/24"),
    ({"Name": "x", "IPAMOptions": {"Configs": [{"Subnet": "10.9.0.7/24"}]}}, "invalid", "host bits are set"),
    ({"Name": "x", "IPAMOptions": {"Configs": [{"Subnet": "nonsense"}]}}, "invalid", "invalid IPv4"),
    ({"Name": "x", "IPAMOptions": {"Configs": [{"Gateway": "10.9.0.1"}]}}, "invalid", "needs a subnet"),
    ({"Name": "x", "DriverConfiguration": {"Name": "bridge"}}, "invalid", "network driver 'bridge' is not supported"),
    ({"Name": "x", "Ingress": True}, "refused", "an ingress network already exists: ingress (ing)"),
    ({"Name": "bad name"}, "invalid", "invalid network name"),
    ({"Name": "x", "Attachable": True}, "invalid", "attachable networks are not supported"),
    ({"Name": "x", "Bogus": 1}, "invalid", "unknown field"),
])
def test_bad_creates_are_refused_in_one_line(spec, code, match):
    refused(code, match, networks.checked_network_spec, spec, TABLE)


def test_a_second_ingress_can_be_made_once_the_first_is_gone():
    spec = networks.checked_network_spec({"Name": "mesh", "Ingress": True}, {"front1": FRONT})
    assert spec["Ingress"] is True


# -- services ---------------------------------------------------------------

def service_spec(*targets, ports=(), mode="vip"):
    return {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"},
                                            "Networks": [{"Target": t} for t in targets]},
            "EndpointSpec": {"Mode": mode, "Ports": [{"TargetPort": p} for p in ports]}}


def test_service_networks_are_resolved_by_name_id_or_prefix_to_ids():
    spec = networks.resolved_service_spec(service_spec("front", "asked1"), TABLE)
    assert [entry["Target"] for entry in spec["TaskTemplate"]["Networks"]] == ["front1", "asked1"]
    assert networks.resolved_service_spec(service_spec("fro"), TABLE)["TaskTemplate"]["Networks"][0]["Target"] == "front1"


@pytest.mark.parametrize("spec, code, match", [
    (service_spec("nope"), "not_found", "no such network: nope"),
    (service_spec("ingress"), "invalid", "cannot be explicitly attached to the ingress network"),
    (service_spec("front", "front1"), "invalid", "attached to network front more than once"),
    (service_spec("front", ports=[80], mode="dnsrr"), "invalid", "can't be used with dnsrr mode"),
])
def test_bad_service_attachments_are_refused(spec, code, match):
    refused(code, match, networks.resolved_service_spec, spec, TABLE)


def test_mesh_ports_need_an_ingress_network():
    refused("invalid", "needs the ingress network", networks.resolved_service_spec, service_spec(ports=[80]),
            {"front1": FRONT})


# -- removal ----------------------------------------------------------------

def task(task_id, service_id, network_id, state="running", node="n1"):
    return {"ID": task_id, "ServiceID": service_id, "Slot": 1, "NodeID": node, "DesiredState": "running",
            "Status": {"State": state},
            "NetworksAttachments": [{"Network": {"ID": network_id}, "Addresses": ["10.0.1.5/24"]}]}


NODES = {"n1": {"ID": "n1", "Description": {"Hostname": "h1"}, "Status": {"State": "ready", "Addr": "192.0.2.1"},
                "Attachments": [{"Network": {"ID": "front1"}, "Addresses": ["10.0.1.3/24"]}]}}


def test_a_network_in_use_by_a_spec_or_a_live_task_cannot_be_removed():
    web = {"ID": "s1", "Spec": service_spec("front1")}
    assert networks.removal_refusal(FRONT, {"s1": web}, {}, NODES) == "network front is in use by service web"
    old = {"ID": "s2", "Spec": {"Name": "old"}}
    live = task("t1", "s2", "front1")
    assert networks.removal_refusal(FRONT, {"s2": old}, {"t1": live}, NODES) == "network front is in use by service old"
    ended = task("t1", "s2", "front1", state="shutdown")
    assert networks.removal_refusal(FRONT, {"s2": old}, {"t1": ended}, NODES) is None


def test_ingress_cannot_be_removed_while_a_service_publishes_through_it():
    web = {"ID": "s1", "Spec": service_spec(ports=[80])}
    assert networks.removal_refusal(INGRESS, {"s1": web}, {}, NODES) == \
        "ingress network cannot be removed because service web depends on it"
    host_mode = {"ID": "s1", "Spec": {"Name": "web", "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishMode": "host"}]}}}
    assert networks.removal_refusal(INGRESS, {"s1": host_mode}, {}, NODES) is None


# -- inspect ----------------------------------------------------------------

def test_inspect_shows_the_services_vips_tasks_and_node_addresses():
    web = {"ID": "s1", "Spec": service_spec("front1"), "Endpoint": {"VirtualIPs": [{"NetworkID": "front1", "Addr": "10.0.1.2/24"}]}}
    tasks = {"t1": task("t1", "s1", "front1"), "t0": task("t0", "s1", "front1", state="failed")}
    shown = networks.inspected(FRONT, {"s1": web}, tasks, NODES)
    assert shown["Services"] == {"web": {"VIP": "10.0.1.2", "Tasks": [
        {"Name": "web.1.t1", "ID": "t1", "EndpointIP": "10.0.1.5", "State": "running", "NodeID": "n1",
         "Info": {"Host IP": "192.0.2.1"}}]}}
    assert shown["Peers"] == [{"Name": "h1", "IP": "192.0.2.1", "Address": "10.0.1.3"}]
    assert shown["IPAMOptions"] == FRONT["IPAMOptions"] and schema.get_path(shown, "Spec.Name") == "front"

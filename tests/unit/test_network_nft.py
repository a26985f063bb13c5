"""The nft scripts for virtual IPs and the routing mesh (actors/network/nft.py), from host network states."""

import pytest

from actors.network import nft

INGRESS, BACK = "ingress-id", "back-id"


def network(network_id, subnet, node_address=None, ingress=False):
    return {"ID": network_id, "Name": network_id, "VNI": 4097, "Subnet": subnet, "Gateway": subnet[:-4] + "1",
            "Internal": False, "Ingress": ingress, "Attachable": False, "NodeAddress": node_address, "Peers": []}


def task(task_id, addresses, ready=True, node="n1"):
    return {"ID": task_id, "Slot": 1, "NodeID": node, "Ready": ready, "Addresses": addresses}


def service(name, networks, tasks=(), ports=(), mode="vip"):
    return {"ID": name + "-id", "Name": name, "EndpointMode": mode,
            "Networks": {network_id: {"Aliases": [], "VIP": vip} for network_id, vip in networks.items()},
            "Ports": list(ports), "Tasks": list(tasks)}


def port(published, target, protocol="tcp"):
    return {"Protocol": protocol, "TargetPort": target, "PublishedPort": published}


def state(services=(), node_address="10.0.0.3/24"):
    return {"Networks": [network(INGRESS, "10.0.0.0/24", node_address, ingress=True),
                         network(BACK, "10.0.1.0/24", "10.0.1.3/24")],
            "Services": list(services)}


def lines(script):
    return [line.strip() for line in script.splitlines()]


# -- backends ---------------------------------------------------------------------------------------

def test_backends_are_the_ready_tasks_addresses_on_the_network_in_address_order():
    web = service("web", {BACK: "10.0.1.2"}, [
        task("t1", {BACK: "10.0.1.10/24"}), task("t2", {BACK: "10.0.1.9/24"}),
        task("t3", {BACK: "10.0.1.8/24"}, ready=False), task("t4", {INGRESS: "10.0.0.4/24"})])
    assert nft.ready_backends(web, BACK) == ["10.0.1.9", "10.0.1.10"]
    assert nft.ready_backends(web, INGRESS) == ["10.0.0.4"]


def test_one_backend_is_a_plain_address_several_a_round_robin_map():
    assert nft.rotation(["10.0.1.5"]) == "10.0.1.5"
    assert nft.rotation(["10.0.1.5", "10.0.1.6"]) == "numgen inc mod 2 map { 0 : 10.0.1.5, 1 : 10.0.1.6 }"


# -- virtual IPs --------------------------------------------------------------------------------------

def test_a_container_balances_the_vips_of_services_on_its_own_networks_only():
    web = service("web", {BACK: "10.0.1.2"}, [task("t1", {BACK: "10.0.1.5/24"}), task("t2", {BACK: "10.0.1.6/24"})])
    other = service("other", {"elsewhere": "10.0.7.2"}, [task("t3", {"elsewhere": "10.0.7.5/24"})])
    dnsrr = service("rr", {BACK: None}, [task("t4", {BACK: "10.0.1.7/24"})], mode="dnsrr")
    assert nft.container_vips(state([web, other, dnsrr]), {BACK}) == {"10.0.1.2": ["10.0.1.5", "10.0.1.6"]}


def test_ingress_vips_are_not_programmed_in_containers():
    published = service("pub", {INGRESS: "10.0.0.2"}, [task("t1", {INGRESS: "10.0.0.5/24"})], [port(8080, 80)])
    assert nft.container_vips(state([published]), {INGRESS}) == {}


def test_a_vip_dnats_with_ports_kept_and_a_vip_without_ready_tasks_is_refused():
    web = service("web", {BACK: "10.0.1.2/24"}, [task("t1", {BACK: "10.0.1.5/24"}), task("t2", {BACK: "10.0.1.6/24"})])
    idle = service("idle", {BACK: "10.0.1.3"}, [task("t3", {BACK: "10.0.1.7/24"}, ready=False)])
    script = lines(nft.container_script(state([web, idle]), {BACK}))
    assert script[:3] == ["table ip shoal_vip", "delete table ip shoal_vip", "table ip shoal_vip {"]
    assert "ip daddr 10.0.1.2 dnat to numgen inc mod 2 map { 0 : 10.0.1.5, 1 : 10.0.1.6 }" in script
    assert "ip daddr 10.0.1.3 meta l4proto tcp reject with tcp reset" in script
    assert "ip daddr 10.0.1.3 reject" in script
    assert not any(line.startswith("ip daddr 10.0.1.3 dnat") for line in script)


def test_a_container_without_vips_has_no_table():
    assert nft.container_script(state([]), {BACK}) == "table ip shoal_vip\ndelete table ip shoal_vip\n"


def test_the_script_is_the_same_whatever_the_order_of_services_and_tasks():
    one = service("one", {BACK: "10.0.1.20"}, [task("a", {BACK: "10.0.1.5/24"}), task("b", {BACK: "10.0.1.6/24"})])
    two = service("two", {BACK: "10.0.1.3"}, [task("c", {BACK: "10.0.1.7/24"})])
    flipped = service("one", {BACK: "10.0.1.20"}, [task("b", {BACK: "10.0.1.6/24"}), task("a", {BACK: "10.0.1.5/24"})])
    assert nft.container_script(state([one, two]), {BACK}) == nft.container_script(state([two, flipped]), {BACK})


# -- the routing mesh ---------------------------------------------------------------------------------

def published_web(*ports, tasks=None):
    tasks = tasks if tasks is not None else [task("t1", {INGRESS: "10.0.0.5/24"}), task("t2", {INGRESS: "10.0.0.6/24"})]
    return service("web", {INGRESS: "10.0.0.2"}, tasks, ports or [port(8080, 80)])


def test_a_published_port_dnats_to_the_ready_tasks_target_port_marked_and_snats_to_the_node_address():
    script = lines(nft.mesh_script(state([published_web(port(8080, 80), port(5353, 53, "udp"))]), "shoal_mesh"))
    mark = hex(nft.MESH_MARK)
    assert script[:3] == ["table ip shoal_mesh", "delete table ip shoal_mesh", "table ip shoal_mesh {"]
    assert script.count("fib daddr type local jump publish") == 2  # from outside (prerouting) and the host (output)
    assert f"tcp dport 8080 ct mark set {mark} dnat to numgen inc mod 2 map {{ 0 : 10.0.0.5, 1 : 10.0.0.6 }} : 80" \
        in script
    assert f"udp dport 5353 ct mark set {mark} dnat to numgen inc mod 2 map {{ 0 : 10.0.0.5, 1 : 10.0.0.6 }} : 53" \
        in script
    assert f"ct mark {mark} snat to 10.0.0.3" in script


def test_a_port_without_ready_tasks_is_left_to_the_local_stack():
    idle = service("idle", {INGRESS: "10.0.0.7"}, [task("t9", {INGRESS: "10.0.0.9/24"}, ready=False)], [port(9090, 90)])
    script = nft.mesh_script(state([published_web(), idle]), "shoal_mesh")
    assert "dport 8080" in script and "dport 9090" not in script


@pytest.mark.parametrize("the_state", [
    state([published_web()], node_address=None),  # the node has no ingress address yet: nothing to SNAT to
    {"Networks": [network(BACK, "10.0.1.0/24", "10.0.1.3/24")], "Services": []},  # no ingress network
    state([service("web", {BACK: "10.0.1.2"}, [task("t1", {BACK: "10.0.1.5/24"})])]),  # nothing published
], ids=["no node address", "no ingress", "no published port"])
def test_without_something_to_publish_the_mesh_table_is_removed(the_state):
    assert nft.mesh_script(the_state, "shoal_mesh") == "table ip shoal_mesh\ndelete table ip shoal_mesh\n"


def test_a_protocol_nft_cannot_match_is_an_error_not_a_silent_gap():
    with pytest.raises(ValueError, match="icmp"):
        nft.mesh_script(state([published_web(port(8080, 80, "icmp"))]), "shoal_mesh")


def test_each_cluster_has_its_own_mesh_table():
    assert nft.mesh_table("4qsrgbxthhhd8hirecm389oys") == "shoal_mesh_4qsrgbxthhhd8hirecm389oys"
    with pytest.raises(ValueError):
        nft.mesh_table("a; flush ruleset")

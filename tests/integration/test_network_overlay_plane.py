"""The overlay plane (actors/network/overlayplane.py) and containers on networks, against the real engine.

The plane programs two networks of a made-up cluster on the test machine's engine (its bridge networks,
in this namespace), a task's container is created on both by the executor's adapter, and the test looks
at what the container has and reaches; then the plane leaves and nothing of it stays.
"""

import subprocess

import docker.types
import pytest
from pyroute2 import IPRoute

from actors.executor.engine import DockerEngine
from actors.network import netlink, overlay
from actors.network.bridges import Bridges
from actors.network.overlayplane import OverlayError, OverlayPlane
from tests.integration.test_executor_engine import make_task, run

CLUSTER = "h3planetest" + "x" * 14
BACK, FRONT = "h3planebackxxxxxxxxxxxxxx", "h3planefrontxxxxxxxxxxxxx"
HERE, THERE = "192.0.2.1", "192.0.2.2"  # data addresses: THERE is never sent to (no container is on it)


def network(network_id, name, subnet, node_address, peers=()):
    prefix = subnet.rsplit(".", 1)[0]
    return {"ID": network_id, "Name": name, "VNI": 4900 + len(name), "Subnet": subnet, "Gateway": f"{prefix}.1",
            "Internal": False, "Ingress": False, "Attachable": False, "NodeAddress": f"{prefix}.{node_address}/24",
            "Peers": [{"NodeID": "other", "DataAddr": data_addr, "Addresses": list(addresses)}
                      for data_addr, addresses in peers]}


def state(*networks):
    return {"Networks": list(networks), "Services": []}


def attachment(network_id, name, address):
    return {"Network": {"ID": network_id, "Spec": {"Name": name}}, "Addresses": [address]}


@pytest.fixture
def plane(docker_client):
    """An overlay plane of a made-up cluster on this machine's engine; what it leaves is removed afterwards."""
    the_plane = OverlayPlane(Bridges(CLUSTER, lambda: docker_client), HERE)
    yield the_plane
    the_plane.stop()
    for found in docker_client.networks.list(filters={"label": f"shoal.cluster.id={CLUSTER}"}):
        found.remove()
    for network_id in (BACK, FRONT):
        subprocess.run(["ip", "link", "del", overlay.vxlan_name(network_id)], capture_output=True)


def test_a_task_joins_each_of_its_networks_with_its_address_and_reaches_the_hosts_own(plane, docker_client, engine):
    back = network(BACK, "back", "10.213.198.0/24", 3, peers=[(HERE, ["10.213.198.9"]), (THERE, ["10.213.198.8"])])
    front = network(FRONT, "front", "10.213.199.0/24", 3)
    plane.apply(state(back, front))
    [made] = docker_client.networks.list(filters={"label": [f"shoal.cluster.id={CLUSTER}", f"shoal.network.id={BACK}"]})
    assert made.attrs["IPAM"]["Config"] == [{"Subnet": "10.213.198.0/24", "Gateway": "10.213.198.1"}]
    assert made.attrs["Options"]["com.docker.network.bridge.name"] == overlay.bridge_name(BACK)
    with IPRoute() as ipr:
        have = netlink.observe(ipr, BACK)
        assert "10.213.198.3/24" in have.bridge_addresses and have.bridge_mac == overlay.derived_mac("10.213.198.3")
        assert have.fdb == {overlay.derived_mac("10.213.198.8"): THERE}  # the peer on HERE shares the bridge
        assert netlink.observe(ipr, FRONT).vxlan is None  # no peer elsewhere, no tunnel

    # A bridge network removed behind the plane's back (its VXLAN device stays, on no bridge) is made and
    # programmed again at the plane's next apply.
    docker_client.networks.get(made.id).remove()
    plane.apply(state(back, front))
    assert len(docker_client.networks.list(filters={"label": f"shoal.network.id={BACK}"})) == 1
    with IPRoute() as ipr:
        assert netlink.observe(ipr, BACK) == have

    task = make_task(args=["sleep", "30"])
    task["NetworksAttachments"] = [attachment(BACK, "back", "10.213.198.5/24"),
                                   attachment(FRONT, "front", "10.213.199.5/24")]
    engine.network_state = lambda: state(back, front)
    container = docker_client.containers.get(run(engine, task))
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert {name: (settings["IPAddress"], settings["MacAddress"]) for name, settings in networks.items()} == {
        overlay.docker_network_name(BACK, "back"): ("10.213.198.5", "02:42:0a:d5:c6:05"),
        overlay.docker_network_name(FRONT, "front"): ("10.213.199.5", "02:42:0a:d5:c7:05")}
    assert container.attrs["HostConfig"]["Dns"][0] == "10.213.198.3"  # the host's DNS server on its first network
    for address in ("10.213.198.3", "10.213.199.3"):
        assert container.exec_run(["ping", "-c", "1", "-W", "2", address]).exit_code == 0

    # The plane leaves front while the container is on it: the bridge stays; once it is gone, so is the bridge.
    plane.apply(state(back))
    assert docker_client.networks.list(filters={"label": f"shoal.network.id={FRONT}"})
    container.remove(force=True)
    plane.apply(state())
    assert not docker_client.networks.list(filters={"label": f"shoal.cluster.id={CLUSTER}"})
    with IPRoute() as ipr:
        assert not ipr.link_lookup(ifname=overlay.vxlan_name(BACK))


def test_a_subnet_another_network_of_the_engine_holds_fails_the_network_naming_that_network(plane, docker_client):
    held = docker_client.networks.create("h3planetest-holder", driver="bridge", labels={"shoal.cluster.id": CLUSTER},
                                         ipam=docker.types.IPAMConfig(pool_configs=[
                                             docker.types.IPAMPool(subnet="10.213.197.0/24")]))
    try:
        with pytest.raises(OverlayError) as failed:
            plane.apply(state(network(BACK, "back", "10.213.197.0/24", 3), network(FRONT, "front", "10.213.199.0/24", 3)))
        assert str(failed.value).startswith("network back: cannot make the bridge of network back: ")
        assert "(the subnet is held by the engine's network h3planetest-holder)" in str(failed.value)
        # The other network was programmed all the same.
        assert docker_client.networks.list(filters={"label": f"shoal.network.id={FRONT}"})
    finally:
        held.remove()


def test_a_bridge_a_removed_network_left_on_the_engine_gives_way_to_a_network_given_its_subnet(plane, docker_client):
    """Seen in CI: a network removed and another created at once got the freed subnet while the first one's
    bridge was still on the engine (hosts sharing one engine take it down in their own time)."""
    left = docker_client.networks.create("h3planetest-left", driver="bridge",
                                         labels={"shoal.cluster.id": CLUSTER, "shoal.network.id": "h3planegonexxxxxxxxxxxxxx"},
                                         ipam=docker.types.IPAMConfig(pool_configs=[
                                             docker.types.IPAMPool(subnet="10.213.198.0/24")]))
    plane.apply(state(network(BACK, "back", "10.213.198.0/24", 3)))
    assert docker_client.networks.list(filters={"label": f"shoal.network.id={BACK}"})
    assert not docker_client.networks.list(names=[left.name])


@pytest.fixture
def engine(docker_client):
    node_id = "h3planetest-node"
    yield DockerEngine(node_id, docker_client)
    for container in docker_client.containers.list(all=True, filters={"label": f"shoal.node.id={node_id}"}):
        container.remove(force=True)

"""The overlay plan (actors/network/overlay.py): from a host network state's network and what the kernel has,
the links, addresses, forwarding and neighbour entries to add and remove."""

import dataclasses

from hypothesis import given, settings, strategies as st

from actors.network import overlay
from actors.network.overlay import Add, Address, Delete, Fdb, Kernel, Link, Neighbour, SetMac, Vxlan, VxlanDevice

NET = "netid0123456789abcdefghij"
BRIDGE, VXLAN = overlay.bridge_name(NET), overlay.vxlan_name(NET)
HERE, THERE, ELSEWHERE = "192.168.50.1", "192.168.50.2", "192.168.50.3"
DOCKER_MAC = "02:42:ab:cd:ef:01"  # a bridge's MAC as the engine made it


def network(node_address="10.0.1.3/24", peers=()):
    return {"ID": NET, "Name": "back", "VNI": 4097, "Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1",
            "Internal": False, "Ingress": False, "Attachable": False, "NodeAddress": node_address,
            "Peers": [{"NodeID": f"node{i}", "DataAddr": data_addr, "Addresses": list(addresses)}
                      for i, (data_addr, addresses) in enumerate(peers)]}


def fresh_bridge(*addresses):
    return Kernel(bridge_mac=DOCKER_MAC, bridge_addresses=frozenset(("10.0.1.1/24",) + addresses))


def programmed_vxlan(up=True, local=HERE, vni=4097):
    return Vxlan(VXLAN, vni, local, overlay.VXLAN_PORT, BRIDGE, up)


def test_macs_are_derived_from_addresses_as_docker_does():
    assert overlay.derived_mac("10.0.1.5") == "02:42:0a:00:01:05"
    assert overlay.derived_mac("10.213.100.255/24") == "02:42:0a:d5:64:ff"


def test_link_names_fit_the_kernels_fifteen_characters():
    assert len(BRIDGE) <= 15 and len(VXLAN) <= 15 and BRIDGE != VXLAN


def test_nothing_is_planned_until_the_engine_made_the_bridge():
    assert overlay.plan(network(peers=[(THERE, ["10.0.1.5"])]), HERE, Kernel()) == []


def test_a_network_with_peers_elsewhere_gets_a_vxlan_device_with_an_entry_per_peer_address():
    changes = overlay.plan(network(peers=[(THERE, ["10.0.1.5", "10.0.1.4"])]), HERE, fresh_bridge())
    assert changes == [
        Add(Address(BRIDGE, "10.0.1.3/24")), SetMac(BRIDGE, "02:42:0a:00:01:03"),
        Add(VxlanDevice(VXLAN, 4097, HERE, BRIDGE)),
        Add(Fdb(VXLAN, "02:42:0a:00:01:04", THERE)), Add(Fdb(VXLAN, "02:42:0a:00:01:05", THERE)),
        Add(Neighbour(VXLAN, "10.0.1.4", "02:42:0a:00:01:04")), Add(Neighbour(VXLAN, "10.0.1.5", "02:42:0a:00:01:05"))]


def test_peers_on_this_hosts_own_data_address_share_its_bridge_and_need_no_tunnel():
    changes = overlay.plan(network(peers=[(HERE, ["10.0.1.5"])]), HERE, fresh_bridge())
    assert changes == [Add(Address(BRIDGE, "10.0.1.3/24")), SetMac(BRIDGE, "02:42:0a:00:01:03")]


def test_the_vxlan_device_goes_when_the_last_peer_elsewhere_leaves():
    have = dataclasses.replace(fresh_bridge("10.0.1.3/24"), bridge_mac="02:42:0a:00:01:03", vxlan=programmed_vxlan(),
                               fdb={"02:42:0a:00:01:05": THERE}, neighbours={"10.0.1.5": "02:42:0a:00:01:05"})
    assert overlay.plan(network(), HERE, have, frozenset({"10.0.1.3/24"})) == [Delete(Link(VXLAN))]


def test_stale_entries_are_removed_and_moved_peers_repointed():
    have = dataclasses.replace(
        fresh_bridge("10.0.1.3/24"), bridge_mac="02:42:0a:00:01:03", vxlan=programmed_vxlan(),
        fdb={"02:42:0a:00:01:05": THERE, "02:42:0a:00:01:09": THERE},
        neighbours={"10.0.1.5": "02:42:0a:00:01:05", "10.0.1.9": "02:42:0a:00:01:09"})
    changes = overlay.plan(network(peers=[(ELSEWHERE, ["10.0.1.5"])]), HERE, have, frozenset({"10.0.1.3/24"}))
    assert changes == [Delete(Fdb(VXLAN, "02:42:0a:00:01:05", THERE)), Delete(Fdb(VXLAN, "02:42:0a:00:01:09", THERE)),
                       Delete(Neighbour(VXLAN, "10.0.1.9", "02:42:0a:00:01:09")),
                       Add(Fdb(VXLAN, "02:42:0a:00:01:05", ELSEWHERE))]


def test_a_vxlan_device_with_the_wrong_vni_or_source_is_made_again():
    for wrong in (programmed_vxlan(vni=4098), programmed_vxlan(local=THERE)):
        have = dataclasses.replace(fresh_bridge("10.0.1.3/24"), bridge_mac="02:42:0a:00:01:03", vxlan=wrong,
                                   fdb={"02:42:0a:00:01:05": THERE}, neighbours={"10.0.1.5": "02:42:0a:00:01:05"})
        changes = overlay.plan(network(peers=[(THERE, ["10.0.1.5"])]), HERE, have, frozenset({"10.0.1.3/24"}))
        assert changes == [Delete(Link(VXLAN)), Add(VxlanDevice(VXLAN, 4097, HERE, BRIDGE)),
                           Add(Fdb(VXLAN, "02:42:0a:00:01:05", THERE)),
                           Add(Neighbour(VXLAN, "10.0.1.5", "02:42:0a:00:01:05"))]


def test_a_down_vxlan_device_is_brought_up_in_place():
    have = dataclasses.replace(fresh_bridge("10.0.1.3/24"), bridge_mac="02:42:0a:00:01:03",
                               vxlan=programmed_vxlan(up=False), fdb={"02:42:0a:00:01:05": THERE},
                               neighbours={"10.0.1.5": "02:42:0a:00:01:05"})
    assert overlay.plan(network(peers=[(THERE, ["10.0.1.5"])]), HERE, have) == [Add(VxlanDevice(VXLAN, 4097, HERE, BRIDGE))]


def test_a_changed_node_address_replaces_the_one_this_host_added_and_keeps_the_first_hosts_mac():
    have = dataclasses.replace(fresh_bridge("10.0.1.3/24", "10.0.1.7/24"), bridge_mac="02:42:0a:00:01:07")
    changes = overlay.plan(network(node_address="10.0.1.8/24"), HERE, have, frozenset({"10.0.1.3/24"}))
    # 10.0.1.7 is another host's in this namespace: its address stays, and so does the MAC derived from it.
    assert changes == [Delete(Address(BRIDGE, "10.0.1.3/24")), Add(Address(BRIDGE, "10.0.1.8/24"))]


def test_leaving_removes_only_this_hosts_address_and_keeps_a_device_another_host_uses():
    have = dataclasses.replace(fresh_bridge("10.0.1.3/24", "10.0.1.7/24"), vxlan=programmed_vxlan())
    assert overlay.plan_removal(NET, "10.0.1.1", have, frozenset({"10.0.1.3/24"})) == [
        Delete(Address(BRIDGE, "10.0.1.3/24"))]
    assert overlay.others_on_bridge(have, "10.0.1.1", frozenset({"10.0.1.3/24"}))
    alone = dataclasses.replace(fresh_bridge("10.0.1.3/24"), vxlan=programmed_vxlan())
    assert overlay.plan_removal(NET, "10.0.1.1", alone, frozenset({"10.0.1.3/24"})) == [
        Delete(Address(BRIDGE, "10.0.1.3/24")), Delete(Link(VXLAN))]
    assert not overlay.others_on_bridge(alone, "10.0.1.1", frozenset({"10.0.1.3/24"}))


# -- convergence: overlay.after (checked against the real kernel in test_network_overlay_kernel) ---------
peer_sets = st.lists(st.tuples(st.sampled_from([HERE, THERE, ELSEWHERE]),
                               st.lists(st.integers(4, 40).map(lambda i: f"10.0.1.{i}"), max_size=4, unique=True)),
                     max_size=3)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, "10.0.1.2/24", "10.0.1.3/24"]), peer_sets), min_size=1, max_size=5))
def test_after_any_sequence_of_states_one_plan_brings_the_kernel_where_a_second_has_nothing_to_do(states):
    have, added = fresh_bridge(), frozenset()
    for node_address, peers in states:
        wanted = network(node_address, peers)
        have = overlay.after(have, overlay.plan(wanted, HERE, have, added))
        added = frozenset([node_address] if node_address else [])
        assert overlay.plan(wanted, HERE, have, added) == []
        remote = overlay.remote_addresses(wanted, HERE)
        assert (have.vxlan is not None) == bool(remote)
        assert have.neighbours == {address: overlay.derived_mac(address) for address in remote}
        assert have.bridge_addresses - {"10.0.1.1/24"} == added

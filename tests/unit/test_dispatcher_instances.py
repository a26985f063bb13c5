"""Further dispatcher processes on a manager (host.json ``"dispatchers": N``): their processes, ports and
names (actors/common/hostconfig.py), how executors learn of them, and which one a host picks
(actors/executor/membership.py)."""

from __future__ import annotations

import pathlib
from collections import Counter

import pytest

from actors.common.hostconfig import (ACTOR_INDEX, PORT_OFFSETS, HostConfig, ManagerAddress, actor_arguments, dispatcher_name,
                                      manager_address_dicts)
from actors.dispatcher import decisions
from actors.executor import membership
from transport import limits, model


def host(dispatchers, shards=4):
    return HostConfig(pathlib.Path("/nowhere"), "manager", "m1", "cluster", "127.0.0.1", 4000, "h", [],
                      scheduler_shards=shards, dispatchers=dispatchers)


def test_a_manager_runs_one_process_per_dispatcher_each_with_its_own_socket_and_metrics_port_as_does_shoald():
    processes = [name for name in host(3).actors if name.startswith("dispatcher")]
    assert [actor_arguments(name) for name in processes] == [["dispatcher"], ["dispatcher", "--instance", "1"],
                                                             ["dispatcher", "--instance", "2"]]
    assert [name for name in host(1).actors if name.startswith("dispatcher")] == ["dispatcher"]
    config = host(3)
    sockets = [config.port + offset for offset in PORT_OFFSETS.values()]
    metrics = [config.metrics_port(actor) for actor in ACTOR_INDEX]
    metrics += [config.metrics_port("scheduler", shard) for shard in range(1, 4)]
    metrics += [config.metrics_port("dispatcher", instance) for instance in range(1, 3)]
    metrics.append(config.metrics_port("shoald"))
    every = sockets + metrics
    span = limits.HOST_PORT_SPAN  # a host's block of ports
    assert len(set(every)) == len(every) == span and max(every) < 4000 + span


def manager_node(node_id):
    return {"ID": node_id, "Spec": {"Role": "manager"},
            "Shoal": {"Endpoints": {"addr": "127.0.0.1", "port": 4000}, "PublicKey": "k"}}


def test_executors_learn_the_live_instances_of_each_manager():
    nodes = [manager_node("m1"), manager_node("m2"), {"ID": "w", "Spec": {"Role": "worker"}}]
    live = {"m1", "m1/2", "m2/1", "gone"}
    assert [(m["node_id"], m["dispatchers"]) for m in manager_address_dicts(nodes, live)] == [
        ("m1", [0, 2]), ("m2", [0, 1])]
    assert [m["dispatchers"] for m in manager_address_dicts(nodes)] == [[0], [0]]


def manager(node_id, *further):
    return ManagerAddress(node_id, "127.0.0.1", 1000, "k", [0, *further])


def names(order):
    return [one.name for one in order]


def test_workers_spread_evenly_over_every_dispatcher_process():
    managers = [manager("m1", 1), manager("m2"), manager("m3", 1, 2)]
    firsts = Counter(membership.dispatcher_order(managers, f"w{number}")[0].name for number in range(6000))
    assert set(firsts) == {"m1", "m1/1", "m2", "m3", "m3/1", "m3/2"} and min(firsts.values()) > 800
    first = membership.dispatcher_order(managers, "w1")[0]
    assert first.endpoint() == f"tcp://127.0.0.1:{1000 + PORT_OFFSETS['dispatcher' if first.instance == 0 else f'dispatcher-{first.instance}']}"


def test_a_lost_dispatcher_moves_only_the_hosts_that_chose_it():
    managers = [manager("m1"), manager("m2", 1), manager("m3")]
    for number in range(300):
        order = names(membership.dispatcher_order(managers, f"w{number}"))
        without = names(membership.dispatcher_order([manager("m1"), manager("m2"), manager("m3")], f"w{number}"))
        assert without == [name for name in order if name != "m2/1"]


def test_a_manager_host_tries_its_own_first_dispatcher_first():
    order = membership.dispatcher_order([manager("m1"), manager("m2", 1, 2)], "m2")
    assert names(order)[:3] == ["m2", "m2/1", "m2/2"]


def test_a_host_moves_to_a_dispatcher_started_since_only_if_it_would_have_picked_it():
    before = [manager("m1"), manager("m2")]
    after = [manager("m1", 1), manager("m2", 1)]
    moved = 0
    for number in range(200):
        host_id = f"w{number}"
        current = membership.dispatcher_order(before, host_id)[0].name
        better = membership.newly_preferred(before, after, current, host_id)
        first = membership.dispatcher_order(after, host_id)[0]
        assert better == (first if first.name not in {"m1", "m2"} else None)
        moved += better is not None
    assert 60 < moved < 140  # about half: the new instances win half of the hosts
    # Never back to a dispatcher it may have left because it stopped answering:
    order = names(membership.dispatcher_order(after, "w1"))
    assert membership.newly_preferred(after, after, order[-1], "w1") is None


def test_a_dispatcher_is_named_by_its_manager_and_instance():
    assert dispatcher_name("m1", 0) == "m1" and dispatcher_name("m1", 2) == "m1/2"


def test_a_further_instance_holds_a_presence_lease_the_store_accepts_and_is_live_by_its_name():
    name = dispatcher_name("m1", 1)
    lease_id = decisions.presence_lease_name(name)
    model.object_id(lease_id, "ID")  # raises Invalid for an id the store refuses
    leases = {lease_id: {"ID": lease_id, "Holder": name, "Expires": 10.0},
              "dispatcher.m2": {"ID": "dispatcher.m2", "Holder": "m2", "Expires": 10.0}}
    assert decisions.live_dispatchers(leases, {}, 5.0) == {"m1/1", "m2"}


def test_a_node_in_session_with_a_further_instance_is_one_the_store_accepts():
    def node(dispatcher):
        return {"ID": "w1", "Spec": {"Role": "worker"}, "Status": {"State": "ready"}, "Shoal": {"Dispatcher": dispatcher}}
    model.check_object("nodes", node(dispatcher_name("m1", 2)))  # raises Invalid when the store would refuse it
    with pytest.raises(model.Invalid):
        model.check_object("nodes", node("m1/x"))

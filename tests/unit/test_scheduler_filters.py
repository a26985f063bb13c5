"""The scheduler's placement rules: constraints, platforms, resources, host-mode ports, MaxReplicas, spread
preferences, and the reasons a pending task shows when no node fits."""

import pytest

from actors.common.placement.filters import (ConstraintFilter, HostPortFilter, MaxReplicasFilter, PlatformFilter,
                                            ResourceFilter)
from actors.common.placement.load import NodeLoad
from actors.common.placement.spread import best_node, spread_labels
from actors.scheduler.placement import schedule
from transport import schema

T0 = 1_000.0
CPU = 1_000_000_000
GB = 1 << 30


def node(node_id, role="worker", labels=None, cpus=4, memory=8, os="linux", arch="x86_64", state="ready",
         hostname=None):
    return {"ID": node_id, "Status": {"State": state},
            "Spec": {"Role": role, "Availability": "active", "Labels": labels or {}},
            "Description": {"Hostname": hostname or node_id, "Platform": {"OS": os, "Architecture": arch},
                            "Resources": {"NanoCPUs": cpus * CPU, "MemoryBytes": memory * GB}}}


def task(task_id, service="s1", state="pending", desired="running", node_id="", created=1, constraints=(),
         platforms=(), cpus=0, memory=0, max_replicas=0, spread=()):
    template = {"ContainerSpec": {"Image": "busybox"},
                "Placement": {"Constraints": list(constraints), "Platforms": list(platforms),
                              "MaxReplicas": max_replicas,
                              "Preferences": [{"Spread": {"SpreadDescriptor": label}} for label in spread]},
                "Resources": {"Reservations": {"NanoCPUs": int(cpus * CPU), "MemoryBytes": int(memory * GB)}}}
    return {"ID": task_id, "ServiceID": service, "NodeID": node_id, "DesiredState": desired, "Spec": template,
            "Status": schema.task_status(state, "pending task scheduling", T0), "Version": {"Index": 4},
            "CreatedAt": schema.format_time(created)}


def running(task_id, node_id, service="s1", **fields):
    return task(task_id, service, state="running", node_id=node_id, **fields)


def view(nodes=(), tasks=()):
    return {"cluster": None, "services": {}, "nodes": {n["ID"]: n for n in nodes}, "tasks": {t["ID"]: t for t in tasks}}


def placements(decision):
    return {op["id"]: op["set"]["NodeID"] for op in decision.ops if "NodeID" in op["set"]}


def reasons(decision):
    return {op["id"]: op["set"]["Status.Err"] for op in decision.ops if "Status.Err" in op["set"]}


# -- constraints ------------------------------------------------------------

def test_constraint_filter_accepts_only_matching_nodes():
    rule = ConstraintFilter()
    assert rule.accepts(node("m", role="manager"), task("t", constraints=["node.role==manager"]))
    assert not rule.accepts(node("w"), task("t", constraints=["node.role==manager"]))
    assert rule.accepts(node("w"), task("t"))
    assert not rule.accepts(node("w", labels={"zone": "eu"}),
                            task("t", constraints=["node.labels.zone==eu", "node.hostname!=w"]))


def test_a_malformed_stored_constraint_matches_no_node():
    assert not ConstraintFilter().accepts(node("w"), task("t", constraints=["node.role=worker"]))


def test_a_constraint_no_node_satisfies_keeps_the_task_pending_with_swarms_reason():
    decision = schedule(view([node("a"), node("b"), node("c")], [task("t", constraints=["node.labels.gpu==yes"])]), T0)
    assert reasons(decision) == {"t": "no suitable node (scheduling constraints not satisfied on 3 nodes)"}


def test_the_task_is_placed_once_a_node_gets_the_label():
    nodes = [node("a"), node("b", labels={"gpu": "yes"})]
    assert placements(schedule(view(nodes, [task("t", constraints=["node.labels.gpu==yes"])]), T0)) == {"t": "b"}


def test_node_role_manager_constraint():
    nodes = [node("a"), node("m", role="manager"), node("c")]
    tasks = [task(f"t{n}", created=n, constraints=["node.role==manager"]) for n in range(3)]
    assert set(placements(schedule(view(nodes, tasks), T0)).values()) == {"m"}


# -- platforms --------------------------------------------------------------

@pytest.mark.parametrize("platforms, accepted", [
    ([], True),
    ([{"OS": "linux", "Architecture": "amd64"}], True),  # Docker's x86_64 is the image's amd64
    ([{"OS": "linux", "Architecture": "x86_64"}], True),
    ([{"OS": "Linux"}], True),
    ([{"Architecture": "amd64"}], True),
    ([{"OS": "windows", "Architecture": "amd64"}], False),
    ([{"OS": "linux", "Architecture": "arm64"}], False),
    ([{"OS": "linux", "Architecture": "arm64"}, {"OS": "linux", "Architecture": "amd64"}], True),
])
def test_platform_filter(platforms, accepted):
    assert PlatformFilter().accepts(node("n"), task("t", platforms=platforms)) is accepted


def test_arm_nodes_report_aarch64_and_match_arm64():
    assert PlatformFilter().accepts(node("n", arch="aarch64"), task("t", platforms=[{"Architecture": "arm64"}]))


def test_a_node_that_reports_no_platform_takes_any():
    bare = {**node("n"), "Description": {}}
    assert PlatformFilter().accepts(bare, task("t", platforms=[{"OS": "windows"}]))


def test_unsupported_platform_reason():
    decision = schedule(view([node("a")], [task("t", platforms=[{"OS": "windows"}])]), T0)
    assert reasons(decision) == {"t": "no suitable node (unsupported platform on 1 node)"}


# -- resources --------------------------------------------------------------

def test_resource_filter_subtracts_what_unended_tasks_reserve():
    tasks = [running("r1", "a", cpus=3, memory=2), task("stopping", state="running", desired="shutdown",
                                                         node_id="a", memory=4),
             task("gone", state="failed", node_id="a", cpus=4, memory=8)]
    rule = ResourceFilter(NodeLoad(tasks))
    assert rule.accepts(node("a"), task("t", cpus=1, memory=2))  # exactly what is left
    assert not rule.accepts(node("a"), task("t", cpus=1.5))
    assert not rule.accepts(node("a"), task("t", memory=2.5))  # the stopping task still holds its 4 GB
    assert rule.accepts(node("b"), task("t", cpus=4, memory=8))


def test_a_task_reserving_nothing_fits_any_node_even_one_reporting_nothing():
    bare = {**node("n"), "Description": {}}
    assert ResourceFilter(NodeLoad([])).accepts(bare, task("t"))
    assert not ResourceFilter(NodeLoad([])).accepts(bare, task("t", memory=0.001))


def test_a_reservation_larger_than_any_node_stays_pending():
    decision = schedule(view([node("a"), node("b")], [task("t", memory=64)]), T0)
    assert reasons(decision) == {"t": "no suitable node (insufficient resources on 2 nodes)"}


def test_placements_in_one_pass_never_over_commit():
    tasks = [task(f"t{n}", created=n, cpus=1.5) for n in range(6)]
    decision = schedule(view([node("a", cpus=2), node("b", cpus=4)], tasks), T0)
    chosen = placements(decision)
    assert sorted(chosen.values()) == ["a", "b", "b"]
    assert set(reasons(decision).values()) == {"no suitable node (insufficient resources on 2 nodes)"}


# -- MaxReplicas ------------------------------------------------------------

def test_max_replicas_filter_counts_active_tasks_of_the_same_service_only():
    load = NodeLoad([running("r1", "a"), running("o1", "a", service="other"), task("x", state="failed", node_id="b")])
    rule = MaxReplicasFilter(load)
    assert not rule.accepts(node("a"), task("t", max_replicas=1))
    assert rule.accepts(node("a"), task("t", max_replicas=2))
    assert rule.accepts(node("b"), task("t", max_replicas=1))
    assert rule.accepts(node("a"), task("t"))


def test_max_replicas_per_node_leaves_the_extra_replicas_pending():
    tasks = [task(f"t{n}", created=n, max_replicas=2) for n in range(7)]
    decision = schedule(view([node("a"), node("b"), node("c")], tasks), T0)
    assert sorted(placements(decision).values()) == ["a", "a", "b", "b", "c", "c"]
    assert reasons(decision) == {"t6": "no suitable node (max replicas per node limit exceed)"}


# -- reasons ----------------------------------------------------------------

def test_reasons_list_the_filter_refusing_most_nodes_first():
    nodes = [node("down", state="down"), node("a"), node("b"), node("small", memory=1)]
    decision = schedule(view(nodes, [task("t", memory=2, constraints=["node.hostname==small"])]), T0)
    assert reasons(decision) == {"t": "no suitable node (scheduling constraints not satisfied on 2 nodes; "
                                      "1 node not available for new tasks; insufficient resources on 1 node)"}


def test_a_changed_reason_rewrites_the_pending_message_and_an_unchanged_one_is_left_alone():
    pending = task("t", constraints=["node.labels.gpu==yes"])
    pending["Status"]["Err"] = "no suitable node (scheduling constraints not satisfied on 2 nodes)"
    assert schedule(view([node("a"), node("b")], [pending]), T0).ops == []
    assert reasons(schedule(view([node("a"), node("b"), node("c")], [pending]), T0)) == {
        "t": "no suitable node (scheduling constraints not satisfied on 3 nodes)"}


# -- spread preferences -----------------------------------------------------

def zoned(node_id, zone=None, rack=None, **fields):
    labels = {key: value for key, value in (("zone", zone), ("rack", rack)) if value is not None}
    return node(node_id, labels=labels, **fields)


def test_spread_labels_skip_malformed_descriptors():
    assert spread_labels(task("t", spread=["node.labels.zone", "node.hostname", "engine.labels.rack"])) == [
        "node.labels.zone", "engine.labels.rack"]


def test_spread_over_a_label_evens_out_its_values_not_the_nodes():
    # Zone eu has three nodes, us one: four replicas go two and two, not one per node.
    nodes = [zoned("e1", "eu"), zoned("e2", "eu"), zoned("e3", "eu"), zoned("u1", "us")]
    tasks = [task(f"t{n}", created=n, spread=["node.labels.zone"]) for n in range(4)]
    chosen = placements(schedule(view(nodes, tasks), T0))
    assert sorted(chosen.values()) == ["e1", "e2", "u1", "u1"]


def test_nodes_missing_the_label_form_their_own_group():
    nodes = [zoned("e1", "eu"), zoned("x1"), zoned("x2")]
    tasks = [task(f"t{n}", created=n, spread=["node.labels.zone"]) for n in range(4)]
    chosen = placements(schedule(view(nodes, tasks), T0))
    assert sorted(chosen.values()) == ["e1", "e1", "x1", "x2"]


def test_existing_tasks_count_towards_their_group():
    nodes = [zoned("e1", "eu"), zoned("e2", "eu"), zoned("u1", "us")]
    tasks = [running("r1", "e1", spread=["node.labels.zone"]), running("r2", "e2", spread=["node.labels.zone"]),
             task("t", spread=["node.labels.zone"])]
    assert placements(schedule(view(nodes, tasks), T0)) == {"t": "u1"}


def test_nested_spread_evens_the_first_label_then_the_second_within_it():
    nodes = [zoned("a1", "eu", "r1"), zoned("a2", "eu", "r1"), zoned("a3", "eu", "r2"),
             zoned("b1", "us", "r1"), zoned("b2", "us", "r1")]
    tasks = [task(f"t{n}", created=n, spread=["node.labels.zone", "node.labels.rack"]) for n in range(4)]
    chosen = sorted(placements(schedule(view(nodes, tasks), T0)).values())
    # Two per zone; in eu, one per rack; in us both nodes share rack r1, so one per node.
    assert chosen == ["a1", "a3", "b1", "b2"]


def test_only_candidates_count_in_a_group():
    # The down node's task does not make zone eu look full (swarmkit builds its tree over candidates).
    nodes = [zoned("e1", "eu", state="down"), zoned("e2", "eu"), zoned("u1", "us")]
    tasks = [running("r1", "e1", spread=["node.labels.zone"]), running("r2", "u1", spread=["node.labels.zone"]),
             task("t", spread=["node.labels.zone"])]
    assert placements(schedule(view(nodes, tasks), T0)) == {"t": "e2"}


def test_within_a_group_the_least_loaded_node_wins():
    nodes = [zoned("e1", "eu"), zoned("e2", "eu")]
    load = NodeLoad([running("o1", "e1", service="other")])
    assert best_node(nodes, task("t", spread=["node.labels.zone"]), load)["ID"] == "e2"


def test_other_services_tasks_do_not_count_in_the_groups():
    nodes = [zoned("e1", "eu"), zoned("u1", "us")]
    load = NodeLoad([running("o1", "u1", service="other"), running("o2", "u1", service="other"),
                     running("r1", "e1")])
    assert best_node(nodes, task("t", spread=["node.labels.zone"]), load)["ID"] == "u1"


def test_forget_undoes_record():
    load = NodeLoad([running("r1", "a", cpus=1, memory=1)])
    load.forget("a", running("r1", "a", cpus=1, memory=1))
    assert load.of_service("a", "s1") == 0 and load.total["a"] == 0 and load.free(node("a")) == (4 * CPU, 8 * GB)


# -- host-mode ports ----------------------------------------------------------

def with_ports(the_task, *ports):
    the_task["Endpoint"] = {"Ports": [{"Protocol": protocol, "TargetPort": 80, "PublishedPort": number,
                                       "PublishMode": mode} for protocol, number, mode in ports]}
    return the_task


def test_host_port_filter_refuses_a_node_holding_the_port_until_its_task_has_ended():
    stopping = with_ports(task("old", state="running", desired="shutdown", node_id="a"), ("tcp", 8080, "host"))
    ended = with_ports(task("gone", state="shutdown", desired="shutdown", node_id="b"), ("tcp", 8080, "host"))
    rule = HostPortFilter(NodeLoad([stopping, ended]))
    wanted = with_ports(task("t"), ("tcp", 8080, "host"))
    assert not rule.accepts(node("a"), wanted) and rule.accepts(node("b"), wanted)


@pytest.mark.parametrize("ports", [[("udp", 8080, "host")], [("tcp", 8081, "host")], [("tcp", 8080, "ingress")],
                                   [("tcp", 0, "host")], []])
def test_other_ports_protocols_modes_and_dynamic_ports_do_not_conflict(ports):
    holder = with_ports(running("r", "a"), ("tcp", 8080, "host"))
    assert HostPortFilter(NodeLoad([holder])).accepts(node("a"), with_ports(task("t"), *ports))


def test_replicas_publishing_a_host_port_take_one_node_each_and_the_rest_wait():
    tasks = [with_ports(task(f"t{n}", created=n), ("tcp", 8080, "host")) for n in range(3)]
    decision = schedule(view([node("a"), node("b")], tasks), T0)
    assert sorted(placements(decision).values()) == ["a", "b"]
    assert reasons(decision) == {"t2": "no suitable node (host-mode port already in use on 2 nodes)"}

"""Placement by task group makes the choices of placing one task at a time (every node screened and ranked
for every task), on random clusters; and how pending tasks are split into groups."""

from hypothesis import given, settings, strategies as st

from actors.common.placement.filters import default_pipeline
from actors.common.placement.spread import best_node
from actors.common.placement.taskgroup import task_groups
from actors.common.viewindex import ViewIndex, age_key, is_unassigned, observed_state, wants_running
from actors.scheduler.placement import ASSIGNED_MESSAGE, place, schedule
from transport import schema

T0 = 1_000.0
CPU = 1_000_000_000
GB = 1 << 30


def one_task_at_a_time(the_view, now):
    """The reference: each pending task (in the order given) screened against every node and ranked over
    every candidate, as the scheduler did before it placed by group."""
    index = ViewIndex(the_view)
    load = index.placement_load
    pipeline = default_pipeline(load)
    waiting = sorted((task for task in index.tasks.values() if observed_state(task) == schema.PENDING
                      and wants_running(task) and is_unassigned(task)), key=age_key)
    first_of_service = {}
    for task in waiting:
        first_of_service.setdefault(task["ServiceID"], age_key(task))
    ops = []
    for task in sorted(waiting, key=lambda task: (first_of_service[task["ServiceID"]], age_key(task))):
        candidates, reason = pipeline.candidates(index.sorted_nodes, task)
        node = best_node(candidates, task, load) if candidates else None
        if node:
            load.record(node["ID"], task)
        ops.extend(place(task, node, reason, schema.task_status(schema.ASSIGNED, ASSIGNED_MESSAGE, now)))
    return ops


ZONES = st.sampled_from([None, "eu", "us", "ap"])
RACKS = st.sampled_from([None, "r1", "r2"])


@st.composite
def nodes(draw):
    count = draw(st.integers(0, 12))
    made = []
    for number in range(count):
        labels = {key: value for key, value in (("zone", draw(ZONES)), ("rack", draw(RACKS))) if value}
        made.append({"ID": f"n{number:02d}",
                     "Status": {"State": draw(st.sampled_from(["ready", "ready", "ready", "down"]))},
                     "Spec": {"Role": "worker", "Availability": draw(st.sampled_from(["active", "active", "drain"])),
                              "Labels": labels},
                     "Description": {"Hostname": f"h{number}", "Platform": {"OS": "linux", "Architecture": "x86_64"},
                                     "Resources": {"NanoCPUs": draw(st.integers(1, 4)) * CPU,
                                                   "MemoryBytes": draw(st.integers(1, 4)) * GB}}})
    return made


@st.composite
def demands(draw):
    """One service's task template and host ports."""
    constraints = draw(st.sampled_from([[], [], ["node.labels.zone==eu"], ["node.labels.zone!=us"]]))
    spread = draw(st.sampled_from([[], [], ["node.labels.zone"], ["node.labels.zone", "node.labels.rack"],
                                   ["node.labels.rack"]]))
    spec = {"ContainerSpec": {"Image": "busybox"},
            "Placement": {"Constraints": constraints, "MaxReplicas": draw(st.sampled_from([0, 0, 1, 2])),
                          "Preferences": [{"Spread": {"SpreadDescriptor": label}} for label in spread]},
            "Resources": {"Reservations": {"NanoCPUs": draw(st.sampled_from([0, 0, CPU // 2, CPU])),
                                           "MemoryBytes": draw(st.sampled_from([0, 0, GB]))}}}
    ports = draw(st.sampled_from([[], [], [8080]]))
    return spec, {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": port, "PublishMode": "host"}
                            for port in ports]}


@st.composite
def clusters(draw):
    the_nodes = draw(nodes())
    services = draw(st.lists(demands(), min_size=1, max_size=4))
    tasks = {}
    for number in range(draw(st.integers(0, 40))):
        service = draw(st.integers(0, len(services) - 1))
        spec, endpoint = services[service]
        placed = the_nodes and draw(st.booleans())
        state = draw(st.sampled_from(["running", "running", "failed", "assigned"])) if placed else "pending"
        tasks[f"t{number:03d}"] = {
            "ID": f"t{number:03d}", "ServiceID": f"s{service}", "SpecVersion": {"Index": 1},
            "NodeID": draw(st.sampled_from(the_nodes))["ID"] if placed else "",
            "DesiredState": draw(st.sampled_from(["running"] * 5 + ["shutdown"])), "Spec": spec,
            "Endpoint": endpoint, "Status": schema.task_status(state, "pending task scheduling", T0),
            "Version": {"Index": 7}, "CreatedAt": schema.format_time(draw(st.integers(1, 30)))}
    return {"cluster": None, "services": {}, "nodes": {node["ID"]: node for node in the_nodes}, "tasks": tasks}


@settings(max_examples=200, deadline=None)
@given(clusters())
def test_group_placement_makes_the_choices_of_placing_one_task_at_a_time(the_view):
    assert schedule(the_view, T0).ops == one_task_at_a_time(the_view, T0)


def test_a_node_leaving_the_candidates_takes_its_tasks_out_of_its_spread_group():
    # Both zones hold two tasks of s1. The first task goes to e1 (fewest tasks overall), which then holds
    # MaxReplicas: zone eu counts only e2's task from then on, so the second task goes to eu too, to e2,
    # although e2 carries more tasks overall than a1.
    zones = {"e1": "eu", "e2": "eu", "a1": "us", "a2": "us"}
    the_nodes = {node_id: {"ID": node_id, "Status": {"State": "ready"},
                           "Spec": {"Availability": "active", "Labels": {"zone": zone}}}
                 for node_id, zone in zones.items()}
    spec = {"Placement": {"MaxReplicas": 2, "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]}}

    def a_task(task_id, node_id="", service="s1", state="running"):
        return {**pending(task_id, service), "Spec": spec, "DesiredState": "running", "NodeID": node_id,
                "Status": {"State": state}, "Version": {"Index": 3}}

    tasks = [a_task(f"r{node_id}", node_id) for node_id in zones]
    tasks += [a_task(f"o{n}{node_id}", node_id, "s2") for n, node_id in enumerate(["e2", "e2", "a1", "a2"])]
    tasks += [{**a_task(f"t{n}", state="pending"), "CreatedAt": schema.format_time(n)} for n in (1, 2)]
    the_view = {"cluster": None, "services": {}, "nodes": the_nodes, "tasks": {task["ID"]: task for task in tasks}}
    chosen = {op["id"]: op["set"]["NodeID"] for op in schedule(the_view, T0).ops}
    assert chosen == {"t1": "e1", "t2": "e2"} and schedule(the_view, T0).ops == one_task_at_a_time(the_view, T0)


# -- groups -----------------------------------------------------------------

def pending(task_id, service="s1", version=1, created=1, memory=0, constraints=(), port=0):
    return {"ID": task_id, "ServiceID": service, "SpecVersion": {"Index": version},
            "Spec": {"Placement": {"Constraints": list(constraints)},
                     "Resources": {"Reservations": {"MemoryBytes": memory}}},
            "Endpoint": {"Ports": [{"PublishedPort": port, "PublishMode": "host"}] if port else []},
            "CreatedAt": schema.format_time(created)}


def ids(groups):
    return [[task["ID"] for task in group] for group in groups]


def test_tasks_group_by_service_and_spec_version_oldest_group_first():
    tasks = [pending("b1", "s2", created=1), pending("a1", created=2), pending("a2", created=3),
             pending("v2", version=2, created=4), pending("b2", "s2", created=5)]
    assert ids(task_groups(tasks)) == [["b1", "b2"], ["a1", "a2"], ["v2"]]


def test_tasks_of_one_version_asking_differently_of_a_node_group_apart():
    tasks = [pending("a", created=1), pending("m", created=2, memory=GB), pending("c", created=3, constraints=["x==y"]),
             pending("p", created=4, port=80), pending("a2", created=5)]
    assert ids(task_groups(tasks)) == [["a", "a2"], ["m"], ["c"], ["p"]]

"""Sharding the scheduler: which tasks a shard places, its lease, and the processes a manager runs."""

import pathlib

import pytest

from actors.common.hostconfig import ACTOR_INDEX, HostConfig, actor_arguments
from actors.scheduler.placement import schedule
from actors.scheduler.shard import EVERY_TASK, Shard
from transport import limits, schema

T0 = 1_000.0


def task(task_id, service, reservations=None, ports=(), max_replicas=0, node_id=""):
    return {"ID": task_id, "ServiceID": service, "NodeID": node_id, "DesiredState": "running",
            "SpecVersion": {"Index": 1}, "Version": {"Index": 3}, "CreatedAt": schema.format_time(1),
            "Status": {"State": "pending"},
            "Spec": {"Placement": {"MaxReplicas": max_replicas}, "Resources": {"Reservations": reservations or {}}},
            "Endpoint": {"Ports": [{"Protocol": "tcp", "PublishedPort": port, "PublishMode": "host"}
                                   for port in ports]}}


SERVICES = [f"service{number}" for number in range(40)]


@pytest.mark.parametrize("text,shard", [("0/1", EVERY_TASK), ("1/2", Shard(1, 2)), ("3/4", Shard(3, 4))])
def test_parse(text, shard):
    assert Shard.parse(text) == shard


@pytest.mark.parametrize("text", ["2/2", "1", "a/2", "-1/2", "0/0", "1/5", "1/2/3"])
def test_parse_refuses(text):
    with pytest.raises(ValueError):
        Shard.parse(text)


def test_shard_0_holds_the_schedulers_lease_and_the_others_their_own():
    assert [Shard(number, 3).lease for number in range(3)] == ["scheduler", "scheduler-1", "scheduler-2"]
    assert EVERY_TASK.lease == "scheduler"


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_each_task_belongs_to_exactly_one_shard_and_a_service_to_one(count):
    shards = [Shard(number, count) for number in range(count)]
    for service in SERVICES:
        owners = [{shard for shard in shards if shard.owns(task(f"{service}.{n}", service))} for n in range(3)]
        assert len(owners[0]) == 1 and owners[0] == owners[1] == owners[2]
    used = {shard for shard in shards for service in SERVICES if shard.owns(task("t", service))}
    assert used == set(shards)  # 40 services reach every shard


@pytest.mark.parametrize("limited", [task("t", "", reservations={"MemoryBytes": 1}),
                                     task("t", "", reservations={"NanoCPUs": 1}), task("t", "", ports=[80]),
                                     task("t", "", max_replicas=1)],
                         ids=["memory", "cpus", "host port", "MaxReplicas"])
def test_a_task_holding_what_a_node_has_once_goes_to_shard_0_whatever_its_service(limited):
    for service in SERVICES:
        assert [Shard(number, 2).owns({**limited, "ServiceID": service}) for number in range(2)] == [True, False]


def test_two_shards_place_every_pending_task_once():
    nodes = {f"n{n}": {"ID": f"n{n}", "Status": {"State": "ready"}, "Spec": {"Availability": "active"},
                       "Description": {"Resources": {"NanoCPUs": 4, "MemoryBytes": 4}}} for n in range(3)}
    tasks = [task(f"{service}.{n}", service) for service in SERVICES[:10] for n in range(3)]
    tasks += [task("reserving", SERVICES[0], reservations={"NanoCPUs": 1}), task("global", SERVICES[1], node_id="n1")]
    view = {"cluster": None, "services": {}, "nodes": nodes, "tasks": {t["ID"]: t for t in tasks}}
    placed = [[op["id"] for op in schedule(view, T0, shard=Shard(number, 2)).ops] for number in range(2)]
    assert sorted(placed[0] + placed[1]) == sorted(view["tasks"]) and placed[0] and placed[1]


def host(shards):
    return HostConfig(pathlib.Path("/nowhere"), "manager", "node", "cluster", "127.0.0.1", 4000, "h", [],
                      scheduler_shards=shards)


def test_a_manager_runs_one_scheduler_process_per_shard_each_with_its_own_metrics_port():
    assert host(1).actors.count("scheduler") == 1
    processes = [name for name in host(2).actors if name.startswith("scheduler")]
    assert [actor_arguments(name) for name in processes] == [["scheduler", "--shard", "0/2"],
                                                             ["scheduler", "--shard", "1/2"]]
    assert "scheduler" not in host(2).actors and actor_arguments("raft") == ["raft"]
    ports = [host(4).metrics_port(actor) for actor in ACTOR_INDEX]
    ports += [host(4).metrics_port("scheduler", shard) for shard in range(1, 4)]
    assert len(set(ports)) == len(ACTOR_INDEX) + 3 and max(ports) < 4000 + limits.HOST_PORT_SPAN

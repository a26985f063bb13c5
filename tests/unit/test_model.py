"""The object model (transport/model.py): real objects pass, each malformed field is named."""

import copy

import pytest

from actors.orchestrator.slots import new_task
from transport import limits, model, schema

SERVICE = {"ID": "s1", "Spec": {
    "Name": "web", "Labels": {"team": "a"},
    "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Args": ["sleep", "1"], "Env": ["A=1"], "Labels": {}},
                     "RestartPolicy": {"Condition": "any", "Delay": 5_000_000_000, "MaxAttempts": 0}},
    "Mode": {"Replicated": {"Replicas": 3}},
    "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp", "PublishMode": "ingress"}]}}}
TASK = {"ID": "t", "ServiceID": "s1", "DesiredState": "running", "Status": {"State": "new"}}
NODE = {"ID": "n1", "Spec": {"Role": "manager", "Availability": "active", "Labels": {}},
        "Description": {"Hostname": "host-1", "Platform": {"Architecture": "x86_64", "OS": "linux"},
                        "Resources": {"NanoCPUs": 2_000_000_000, "MemoryBytes": 1 << 30},
                        "Engine": {"EngineVersion": "24.0.5"}},
        "Status": {"State": "ready", "Addr": "127.0.0.1", "Message": "", "Timestamp": schema.format_time(1.5)},
        "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:2377", "Voter": True},
        "Shoal": {"PublicKey": "k" * 40, "Endpoints": {"addr": "127.0.0.1", "port": 2377}, "Dispatcher": "n1"}}


def with_field(obj: dict, dotted: str, value) -> dict:
    """A deep copy of ``obj`` with ``dotted`` set to ``value``."""
    changed = copy.deepcopy(obj)
    node = changed
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return changed


def test_objects_as_shoal_writes_them_are_valid():
    model.check_object("services", SERVICE)
    model.check_object("nodes", NODE)
    task = new_task(SERVICE, 1, 0, 1000.0, "t1")
    task["Status"] = schema.task_status(schema.FAILED, "task exited with non-zero code 1", 1001.0,
                                        err="task: non-zero exit (1)",
                                        ContainerStatus={"ContainerID": "ab" * 32, "PID": 0, "ExitCode": 1})
    model.check_object("tasks", task)
    model.check_object("leases", {"ID": "scheduler", "Holder": "n1", "Epoch": 2, "Expires": 12.5})
    model.check_object("cluster", {"ID": "c", "Spec": {"Name": "default", "Orchestration": {"TaskHistoryRetentionLimit": 5}},
                                   "JoinTokens": {"Worker": "SWMTKN-1-" + "a" * 64 + "-" + "b" * 25},
                                   "Shoal": {"AdminKeys": ["k" * 40]}})


@pytest.mark.parametrize("table, obj, dotted, value, message", [
    ("services", SERVICE, "Spec.TaskTemplate.ContainerSpec.Labels", [1],
     "Spec.TaskTemplate.ContainerSpec.Labels: must be a map of strings to strings, not a list"),
    ("services", SERVICE, "Spec.Mode", [], "Spec.Mode: must hold exactly one of Replicated, Global, ReplicatedJob, GlobalJob, not []"),
    ("services", SERVICE, "Spec.Mode", {"Replicated": {"Replicas": 1}, "Global": {}}, "Spec.Mode: must hold exactly one"),
    ("services", SERVICE, "Spec.Mode", {"Global": {"Replicas": 3}}, "Spec.Mode.Global: unknown field 'Replicas'"),
    ("services", SERVICE, "Spec.Mode.Replicated.Replicas", 1_000_000_000,
     f"Spec.Mode.Replicated.Replicas: 1000000000 is out of range 0..{limits.REPLICAS}"),
    ("services", SERVICE, "Spec.Mode.Replicated.Replicas", True, "must be a whole number, not a boolean"),
    ("services", SERVICE, "Spec.Name", "a" * 64, "Spec.Name: 64 characters, more than the limit of 63"),
    ("services", SERVICE, "Spec.Labels", {"k": "\x1b[2J"}, "Spec.Labels.k: unprintable character '\\x1b' at position 0"),
    ("services", SERVICE, "Spec.TaskTemplate.ContainerSpec.Env", ["A"] * (limits.LIST_ITEMS + 1), "more than the limit of"),
    ("services", SERVICE, "Spec.TaskTemplate.RestartPolicy.Condition", "sometimes", "use any, on-failure, none"),
    ("services", SERVICE, "Spec.UpdateConfig", {"Order": "sideways"}, "Spec.UpdateConfig.Order: invalid value 'sideways'"),
    ("services", SERVICE, "Spec.TaskTemplate.ContainerSpec.Secrets",
     [{"File": {"Name": "pw", "UID": "www-data", "GID": "0", "Mode": 0o444}, "SecretName": "pw"}],
     "Spec.TaskTemplate.ContainerSpec.Secrets[0].File.UID: invalid id 'www-data': a number from 0 to 4294967295"),
    ("services", SERVICE, "Spec.TaskTemplate.ContainerSpec.Configs",
     [{"File": {"Name": "c", "UID": "0", "GID": "4294967296"}, "ConfigName": "c"}], "File.GID: invalid id"),
    ("services", SERVICE, "Spec.TaskTemplate.ContainerSpec.Configs",
     [{"File": {"Name": "c", "UID": "", "GID": "0"}, "ConfigName": "c"}], "File.UID: invalid id ''"),
    ("tasks", TASK, "Status", "not-a-dict", "Status: must be a map, not a string"),
    ("tasks", TASK, "Status", {"State": "pwned"}, "Status.State: invalid value 'pwned'"),
    ("tasks", TASK, "Status", {"State": "failed", "Timestamp": "garbage"}, "Status.Timestamp: invalid time 'garbage'"),
    ("tasks", TASK, "Status", {"State": "failed", "Timestamp": "9999-99-99T00:00:00Z"}, "Status.Timestamp: invalid time"),
    ("tasks", TASK, "Status", {"State": "failed", "ContainerStatus": {"ExitCode": "1"}},
     "Status.ContainerStatus.ExitCode: must be a whole number"),
    ("tasks", TASK, "Status", {"State": "running", "Message": "m" * (limits.STATUS_MESSAGE_CHARS + 1)}, "Status.Message"),
    ("nodes", NODE, "Description", "a string", "Description: must be a map, not a string"),
    ("nodes", NODE, "Description.Hostname", "h" * (limits.HOSTNAME_CHARS + 1), "Description.Hostname: 254 characters"),
    ("nodes", NODE, "Description.Hostname", "evil\x1b]0;owned\x07", "Description.Hostname: unprintable character"),
    ("nodes", NODE, "Shoal.Endpoints.addr", "not an address", "Shoal.Endpoints.addr: invalid address 'not an address'"),
    ("nodes", NODE, "Shoal.Endpoints.port", 65530, "Shoal.Endpoints.port: 65530 is out of range"),
    ("nodes", NODE, "Spec.Role", "king", "Spec.Role: invalid value 'king'"),
    ("nodes", NODE, "ID", "", "ID: must not be empty"),
    ("leases", {"ID": "l", "Holder": "a", "Epoch": 1}, "Expires", float("inf"), "Expires: must be a finite number"),
    ("tasks", TASK, "Status", {"Message": "m"}, "Status.State: is required"),
    ("nodes", NODE, "Spec", {"Availability": "active"}, "Spec.Role: is required"),
])
def test_each_malformed_field_is_named(table, obj, dotted, value, message):
    with pytest.raises(model.Invalid) as raised:
        model.check_object(table, with_field(obj, dotted, value))
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("addr", ["127.0.0.1", "manager-1.example.com", "localhost"])
def test_addresses(addr):
    model.address(addr, "addr")


@pytest.mark.parametrize("addr", ["not an address", "999.1.1.1", "a..b", "-x", "", "1.2.3", "a" * 300, 5,
                                  "::1", "fe80::1"])
def test_bad_addresses(addr):
    with pytest.raises(model.Invalid):
        model.address(addr, "addr")


def test_task_status_makes_engine_text_printable_and_bounded():
    status = schema.task_status(schema.REJECTED, "bad\x1b[31m", 1.0, err="e" * 10_000 + "\n")
    model.task_status(status, "Status")
    assert status["Message"] == "bad\\x1b[31m" and len(status["Err"]) == limits.STATUS_ERR_CHARS


def test_a_status_report_may_carry_the_containers_health_and_a_stored_status_may_not():
    report = {"State": "running", "Health": "healthy"}
    model.status_report(report, "Status")
    with pytest.raises(model.Invalid, match="Health"):
        model.task_status(report, "Status")
    with pytest.raises(model.Invalid, match="Health"):
        model.status_report({"State": "running", "Health": "fine"}, "Status")

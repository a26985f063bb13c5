"""Control API pure parts: tokens, reference resolution, spec checks."""

import pytest

from actors.controlapi import specs, tokens
from actors.controlapi.resolve import resolve
from transport import limits
from transport.rpc import RpcError

KEY = "ab" * 32


def test_tokens_parse_and_match_by_role():
    worker, manager = tokens.make(KEY), tokens.make(KEY)
    assert tokens.parse(worker)[0] == KEY
    cluster_tokens = {"Worker": worker, "Manager": manager}
    assert tokens.role_of(worker, cluster_tokens) == "worker"
    assert tokens.role_of(manager, cluster_tokens) == "manager"
    assert tokens.role_of(tokens.make(KEY), cluster_tokens) is None


@pytest.mark.parametrize("bad", ["", "SWMTKN-1-x-y", f"SHTKN-1-{KEY}-short", f"SHTKN-1-{'zz' * 32}-{'a' * 25}"])
def test_malformed_tokens_are_refused(bad):
    with pytest.raises(tokens.BadToken):
        tokens.parse(bad)


SERVICES = {"abc123": {"ID": "abc123", "Spec": {"Name": "web"}}, "abd456": {"ID": "abd456", "Spec": {"Name": "api"}}}


def test_resolve_by_id_name_and_unique_prefix():
    assert resolve(SERVICES, "services", "abc123")["Spec"]["Name"] == "web"
    assert resolve(SERVICES, "services", "api")["ID"] == "abd456"
    assert resolve(SERVICES, "services", "abc")["ID"] == "abc123"


def test_resolve_errors():
    with pytest.raises(RpcError, match="no such service: nope") as missing:
        resolve(SERVICES, "services", "nope")
    assert missing.value.code == "not_found"
    with pytest.raises(RpcError, match="ambiguous"):
        resolve(SERVICES, "services", "ab")


def spec(**changes):
    base = {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "img", "Args": ["sleep", "1"]},
                                           "RestartPolicy": {"Condition": "any", "Delay": 0}},
            "Mode": {"Replicated": {"Replicas": 2}}, "EndpointSpec": {"Ports": []}}
    base.update(changes)
    return base


def test_a_good_spec_passes():
    specs.check_service_spec(spec())


@pytest.mark.parametrize("bad, message", [
    (spec(Name="bad name"), "invalid service name"),
    (spec(Name="x\x1b[2J"), "invalid service name 'x\\\\x1b\\[2J'"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": ""}}), "spec.TaskTemplate.ContainerSpec.Image: must not be empty"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": " "}}), "needs an image"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": "i", "Labels": [1]}}),
     "invalid spec.TaskTemplate.ContainerSpec.Labels: must be a map of strings to strings, not a list"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": "i", "Labels": {"a": 1}}}), "ContainerSpec.Labels.a: must be a string"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": "i", "Env": ["A"] * (limits.LIST_ITEMS + 1)}}), "Env: 1001 entries"),
    (spec(Mode={"Replicated": {"Replicas": -1}}), "invalid replicas value -1: must be a whole number >= 0"),
    (spec(Mode={"Replicated": {"Replicas": 10 ** 9}}), f"at most {limits.REPLICAS} replicas"),
    (spec(Mode={"Replicated": {"Replicas": 10 ** 30}}), f"at most {limits.REPLICAS} replicas"),
    (spec(Mode=[]), "invalid spec.Mode: must hold exactly one of Replicated, Global"),
    (spec(Mode={"Global": {"Replicas": 3}}), "^replicas can only be used with replicated or replicated-job mode$"),
    (spec(Mode={"GlobalJob": {"Replicas": 3}}), "^replicas can only be used with replicated or replicated-job mode$"),
    (spec(Mode={"ReplicatedJob": {"MaxConcurrent": -1}}), "spec.Mode.ReplicatedJob.MaxConcurrent: -1 is out of range"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": "i"}, "RestartPolicy": {"Condition": "sometimes"}}),
     "RestartPolicy.Condition: invalid value 'sometimes'"),
    (spec(EndpointSpec={"Ports": [{"TargetPort": 70000}]}), "Ports\\[0\\].TargetPort: 70000 is out of range 1..65535"),
    (spec(EndpointSpec={"Ports": [{"TargetPort": 80, "PublishMode": "magic"}]}), "PublishMode: invalid value 'magic'"),
    (spec(UpdateConfig={"Parallelism": -1}), "spec.UpdateConfig.Parallelism: -1 is out of range"),
    ("not a map", "a service spec must be a map"),
])
def test_bad_specs_name_their_problem(bad, message):
    with pytest.raises(RpcError, match=message) as raised:
        specs.check_service_spec(bad)
    assert raised.value.code == "invalid" and "\n" not in raised.value.message


@pytest.mark.parametrize("replicas", [0, 1, limits.REPLICAS])
def test_replicas_in_range(replicas):
    assert specs.check_replicas(replicas) == replicas


@pytest.mark.parametrize("replicas", [-1, limits.REPLICAS + 1, "3", 2.0, True, None, 10 ** 30])
def test_replicas_out_of_range_or_not_numbers(replicas):
    with pytest.raises(RpcError, match="invalid replicas value"):
        specs.check_replicas(replicas)


@pytest.mark.parametrize("mode, replicas", [(None, 1), ({"Replicated": {}}, 1), ({"Replicated": {"Replicas": 0}}, 0),
                                            ({"Replicated": {"Replicas": 7}}, 7)])
def test_a_spec_without_a_mode_or_replica_count_gets_dockers_default_of_one(mode, replicas):
    spec = {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}}}
    if mode is not None:
        spec["Mode"] = mode
    specs.check_service_spec(spec)
    assert specs.with_defaults(spec)["Mode"] == {"Replicated": {"Replicas": replicas}}
    assert "Mode" not in spec or spec["Mode"] == mode  # the caller's spec is left as it was


@pytest.mark.parametrize("mode", [{"Global": {}}, {"ReplicatedJob": {}}, {"GlobalJob": {}},
                                  {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 10}}])
def test_every_mode_the_orchestrator_runs_is_accepted(mode):
    specs.check_service_spec(spec(Mode=mode))


@pytest.mark.parametrize("job, defaulted", [
    ({}, {"MaxConcurrent": 1, "TotalCompletions": 1}),
    ({"MaxConcurrent": 3}, {"MaxConcurrent": 3, "TotalCompletions": 3}),
    ({"TotalCompletions": 10}, {"MaxConcurrent": 1, "TotalCompletions": 10}),
    ({"MaxConcurrent": 2, "TotalCompletions": 5}, {"MaxConcurrent": 2, "TotalCompletions": 5})])
def test_a_replicated_job_gets_dockers_defaults(job, defaulted):
    assert specs.with_defaults(spec(Mode={"ReplicatedJob": job}))["Mode"] == {"ReplicatedJob": defaulted}


def test_a_service_cannot_change_mode():
    service = {"ID": "s", "Spec": spec()}
    specs.check_mode_change(service, spec(Mode={"Replicated": {"Replicas": 5}}))
    with pytest.raises(RpcError, match="^service mode change is not allowed$"):
        specs.check_mode_change(service, spec(Mode={"Global": {}}))


def test_scale_sets_replicas_or_a_replicated_jobs_total_completions_and_refuses_the_rest():
    assert specs.scaled_spec({"Spec": spec()}, 5)["Mode"] == {"Replicated": {"Replicas": 5}}
    job = {"Spec": spec(Mode={"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 4}})}
    assert specs.scaled_spec(job, 9)["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 9}}
    assert job["Spec"]["Mode"]["ReplicatedJob"]["TotalCompletions"] == 4  # the stored spec is left as it was
    for mode in ({"Global": {}}, {"GlobalJob": {}}):
        with pytest.raises(RpcError, match="^web: scale can only be used with replicated or replicated-job mode$"):
            specs.scaled_spec({"Spec": spec(Mode=mode)}, 3)


def test_a_job_gets_a_new_iteration_on_every_spec_write():
    created = specs.job_changes(None, spec(Mode={"ReplicatedJob": {}}), 100.0)
    assert created == {"JobStatus": {"JobIteration": {"Index": 0}, "LastExecution": "1970-01-01T00:01:40.000000000Z"}}
    updated = specs.job_changes(created, spec(Mode={"ReplicatedJob": {}}), 200.0)
    assert updated["JobStatus"]["JobIteration"] == {"Index": 1}
    assert specs.job_changes(None, spec(), 100.0) == {}


def test_a_spec_too_large_to_keep_beside_its_previous_one_is_refused_in_one_line():
    labels = {f"k{number}": "v" * 4000 for number in range(limits.SPEC_BYTES // 4000 + 1)}
    spec = {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}},
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Labels": labels}}}
    with pytest.raises(RpcError) as raised:
        specs.check_service_spec(spec)
    assert raised.value.code == "invalid" and "larger than the limit" in raised.value.message


# -- placement and resources ------------------------------------------------

def with_template(mode=None, **template):
    return spec(TaskTemplate={"ContainerSpec": {"Image": "img"}, **template},
                **({"Mode": mode} if mode else {}))


GIB = 1 << 30


@pytest.mark.parametrize("good", [
    with_template(Placement={"Constraints": ["node.role==manager", "node.labels.zone != eu"]}),
    with_template(Placement={"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}},
                                             {"Spread": {"SpreadDescriptor": "engine.labels.rack"}}]}),
    with_template(Placement={"MaxReplicas": 2}),
    with_template(Placement={"MaxReplicas": 2}, mode={"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 4}}),
    with_template(Placement={"Platforms": [{"OS": "linux", "Architecture": "amd64"}]}),
    with_template(Resources={"Reservations": {"NanoCPUs": 10 ** 6, "MemoryBytes": 4 << 20}}),
    with_template(Resources={"Reservations": {"NanoCPUs": 512 * 10 ** 9, "MemoryBytes": 64 << 40}}),  # waits
    with_template(Resources={"Reservations": {"MemoryBytes": GIB}, "Limits": {"MemoryBytes": GIB, "Pids": 100}}),
])
def test_good_placement_and_resources_pass(good):
    specs.check_service_spec(good)


@pytest.mark.parametrize("bad, message", [
    (with_template(Placement={"Constraints": ["node.role=manager"]}), "constraint expected one operator from ==, !="),
    (with_template(Placement={"Constraints": ["node.role==manager", "node.labels.x=="]}), "value '' is invalid"),
    (with_template(Placement={"Constraints": ["node.rol==manager"]}), "key 'node.rol' is invalid: use node.id, "),
    (with_template(Placement={"Preferences": [{"Spread": {"SpreadDescriptor": "node.hostname"}}]}),
     "invalid spread descriptor 'node.hostname': use node.labels.<name> or engine.labels.<name>"),
    (with_template(Placement={"Preferences": [{}]}), "a placement preference must be a spread"),
    (with_template(Placement={"MaxReplicas": 1}, mode={"Global": {}}),
     "replicas-max-per-node can only be used with replicated or replicated-job mode"),
    (with_template(Placement={"MaxReplicas": 1}, mode={"GlobalJob": {}}),
     "replicas-max-per-node can only be used with replicated or replicated-job mode"),
    (with_template(Placement={"MaxReplicas": -1}), "MaxReplicas: -1 is out of range"),
    (with_template(Resources={"Reservations": {"NanoCPUs": 999_999}}),
     "invalid cpu value 0.000999999: Must be at least 0.001"),
    (with_template(Resources={"Limits": {"MemoryBytes": 1024}}), "invalid memory value 1024: Must be at least 4MiB"),
    (with_template(Resources={"Reservations": {"NanoCPUs": 10 ** 15}}), "invalid cpu value 1e\\+06: Must be at most 65536"),
    (with_template(Resources={"Reservations": {"MemoryBytes": 1 << 51}}), "Must be at most 1PiB"),
    (with_template(Resources={"Reservations": {"MemoryBytes": 2 * GIB}, "Limits": {"MemoryBytes": GIB}}),
     "memory reservation 2147483648 is larger than the memory limit 1073741824"),
])
def test_bad_placement_and_resources_are_refused(bad, message):
    with pytest.raises(RpcError, match=message) as raised:
        specs.check_service_spec(bad)
    assert raised.value.code == "invalid" and "\n" not in raised.value.message


def test_host_mode_ports_are_accepted():
    specs.check_service_spec(spec(EndpointSpec={"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}))

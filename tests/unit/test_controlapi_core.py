"""Control API pure parts: tokens, reference resolution, spec checks."""

import pytest

from actors.controlapi import specs, tokens
from actors.controlapi.resolve import resolve
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
    (spec(TaskTemplate={"ContainerSpec": {"Image": ""}}), "needs an image"),
    (spec(Mode={"Replicated": {"Replicas": -1}}), "replicas"),
    (spec(TaskTemplate={"ContainerSpec": {"Image": "i"}, "RestartPolicy": {"Condition": "sometimes"}}), "restart condition"),
    (spec(EndpointSpec={"Ports": [{"TargetPort": 70000}]}), "target port"),
    (spec(EndpointSpec={"Ports": [{"TargetPort": 80, "PublishMode": "magic"}]}), "publish mode"),
])
def test_bad_specs_name_their_problem(bad, message):
    with pytest.raises(RpcError, match=message):
        specs.check_service_spec(bad)

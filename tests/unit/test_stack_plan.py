"""Deciding a deploy's writes: first deploy, an unchanged re-deploy that writes nothing, a change that updates
only its service (ForceUpdate kept), --prune, refusals before the first write, and stack rm's order. The
cluster's objects here are what a fake store would hold: specs as sent, network names made ids."""

from __future__ import annotations

import copy

import pytest

from actors.stack import plan
from actors.stack.convert import NAMESPACE
from actors.stack.errors import ComposeError
from tests.unit.stackfiles import IMAGE, stack

FILE = f"""
services:
  web:
    image: {IMAGE}
    ports: ["8080:80"]
    networks: [front]
  worker:
    image: {IMAGE}
    command: sleep 1000
    networks: [front, back]
networks:
  front:
  back:
"""


def fake_store_after(steps: list[plan.Step], networks: list[dict] | None = None, services: list[dict] | None = None):
    """The networks and services a fake store holds once ``steps`` are applied (ids made up, network
    names in service specs turned into ids as the control API does)."""
    networks = copy.deepcopy(networks or [])
    services = copy.deepcopy(services or [])
    for number, step in enumerate(steps):
        if step.kind == "network_create":
            networks.append({"ID": f"net{number}", "Spec": step.body["spec"], "Version": {"Index": 1}})
        elif step.kind in ("service_create", "service_update"):
            spec = copy.deepcopy(step.body["spec"])
            ids = {n["Spec"]["Name"]: n["ID"] for n in networks}
            for entry in spec["TaskTemplate"]["Networks"]:
                entry["Target"] = ids[entry["Target"]]
            if step.kind == "service_create":
                services.append({"ID": f"svc{number}", "Spec": spec, "Version": {"Index": 1}})
            else:
                service = next(s for s in services if s["ID"] == step.body["ref"])
                service["Spec"], service["Version"] = spec, {"Index": service["Version"]["Index"] + 1}
        elif step.kind == "service_rm":
            services = [s for s in services if s["ID"] != step.body["ref"]]
    return networks, services


def test_first_deploy_creates_networks_then_services(tmp_path):
    steps = plan.deploy(stack(tmp_path, {"stack.yml": FILE}), [], [], [], [])
    assert [step.message for step in steps] == ["Creating network app_front", "Creating network app_back",
                                                "Creating service app_web", "Creating service app_worker"]
    assert steps[0].body["spec"]["Labels"] == {NAMESPACE: "app"}


def test_redeploying_the_same_file_writes_nothing_and_a_change_updates_only_its_service(tmp_path):
    first = stack(tmp_path, {"stack.yml": FILE})
    networks, services = fake_store_after(plan.deploy(first, [], [], [], []))
    assert plan.deploy(first, services, networks, [], []) == []
    web = next(s for s in services if s["Spec"]["Name"] == "app_web")
    web["Spec"]["TaskTemplate"]["ForceUpdate"] = 2  # a 'service update --force' since: a deploy keeps it
    web["Version"] = {"Index": 7}
    assert plan.deploy(first, services, networks, [], []) == []
    changed = stack(tmp_path, {"stack.yml": FILE.replace("sleep 1000", "sleep 2000")})
    steps = plan.deploy(changed, services, networks, [], [])
    assert [step.message for step in steps] == [f"Updating service app_worker (id: {services[1]['ID']})"]
    assert steps[0].body["version"] == 1 and steps[0].body["spec"]["TaskTemplate"]["ContainerSpec"]["Args"] == [
        "sleep", "2000"]
    scaled = stack(tmp_path, {"stack.yml": FILE.replace('ports: ["8080:80"]', 'ports: ["8080:80"]\n    deploy: {replicas: 3}')})
    steps = plan.deploy(scaled, services, networks, [], [])
    assert [(step.kind, step.body["version"]) for step in steps] == [("service_update", 7)]
    assert steps[0].body["spec"]["TaskTemplate"]["ForceUpdate"] == 2


def test_a_new_network_on_a_service_is_a_change(tmp_path):
    networks, services = fake_store_after(plan.deploy(stack(tmp_path, {"stack.yml": FILE}), [], [], [], []))
    moved = stack(tmp_path, {"stack.yml": FILE.replace("networks: [front]\n", "networks: [front, extra]\n")
                             + "  extra:\n"})
    assert [step.message for step in plan.deploy(moved, services, networks, [], [])] == [
        "Creating network app_extra", f"Updating service app_web (id: {services[0]['ID']})"]


def test_prune_removes_only_the_stacks_services_no_longer_in_the_file(tmp_path):
    networks, services = fake_store_after(plan.deploy(stack(tmp_path, {"stack.yml": FILE}), [], [], [], []))
    services.append({"ID": "other", "Spec": {"Name": "other_web", "Labels": {NAMESPACE: "other"}}})
    smaller = stack(tmp_path, {"stack.yml": FILE.replace("  worker:\n    image: " + IMAGE + "\n    command: sleep 1000\n"
                                                         "    networks: [front, back]\n", "")})
    assert plan.deploy(smaller, services, networks, [], []) == []
    steps = plan.deploy(smaller, services, networks, [], [], prune=True)
    assert [(step.message, step.body) for step in steps] == [("Removing service app_worker", {"ref": services[1]["ID"]})]
    # the pruned service's published port may go to another service of the same deploy
    services[1]["Spec"]["EndpointSpec"]["Ports"] = [{"Protocol": "tcp", "TargetPort": 81, "PublishedPort": 9090,
                                                    "PublishMode": "ingress"}]
    taker = stack(tmp_path, {"stack.yml": FILE.replace('["8080:80"]', '["8080:80", "9090:90"]')
                             .replace("  worker:\n    image: " + IMAGE + "\n    command: sleep 1000\n"
                                      "    networks: [front, back]\n", "")})
    with pytest.raises(ComposeError, match="port 9090/tcp is already in use by service 'app_worker'"):
        plan.deploy(taker, services, networks, [], [])
    assert [step.kind for step in plan.deploy(taker, services, networks, [], [], prune=True)] == [
        "service_rm", "service_update"]


@pytest.mark.parametrize("cluster, message", [
    ({"services": [{"ID": "x", "Spec": {"Name": "app_web", "Labels": {}}}]},
     "service app_web already exists and is not part of stack app"),
    ({"networks": [{"ID": "n", "Spec": {"Name": "app_front", "Labels": {NAMESPACE: "other"}}}]},
     "network app_front already exists and is not part of stack app"),
    ({"services": [{"ID": "x", "Spec": {"Name": "app_web", "Labels": {NAMESPACE: "app"}, "Mode": {"Global": {}}}}]},
     "service app_web: mode change is not allowed (global -> replicated)"),
])
def test_refusals_come_before_any_write(tmp_path, cluster, message):
    wanted = stack(tmp_path, {"stack.yml": FILE})
    with pytest.raises(ComposeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan.deploy(wanted, cluster.get("services", []), cluster.get("networks", []), [], [])


def test_external_network_must_exist(tmp_path):
    wanted = stack(tmp_path, {"stack.yml": FILE + "  corp:\n    external: true\n"})
    with pytest.raises(ComposeError, match="network 'corp' is declared as external, but could not be found"):
        plan.deploy(wanted, [], [], [], [])
    steps = plan.deploy(wanted, [], [{"ID": "c", "Spec": {"Name": "corp"}}], [], [])
    assert "Creating network corp" not in [step.message for step in steps]


def test_remove_takes_services_then_networks_and_leaves_what_is_not_the_stacks(tmp_path):
    networks, services = fake_store_after(plan.deploy(stack(tmp_path, {"stack.yml": FILE}), [], [], [], []))
    networks.append({"ID": "c", "Spec": {"Name": "corp", "Labels": {}}})
    services.append({"ID": "o", "Spec": {"Name": "other_web", "Labels": {NAMESPACE: "other"}}})
    steps = plan.remove("app", services, networks, [], [])
    assert [step.message for step in steps] == ["Removing service app_web", "Removing service app_worker",
                                                "Removing network app_back", "Removing network app_front"]
    assert plan.remove("nothing", services, networks, [], []) == []
    assert plan.stack_names(services) == {"app": 2, "other": 1}


SECRETS = f"""
services:
  web:
    image: {IMAGE}
    secrets: [pw, token]
    configs: [conf]
secrets:
  pw:
    environment: PASSWORD
  token:
    external: true
configs:
  conf:
    content: "listen 80"
"""


def fake_objects(steps: list[plan.Step], kind: str) -> list[dict]:
    """The secrets or configs a fake store holds once ``steps`` created them (as the control API lists them)."""
    return [{"ID": f"{kind}{number}", "Spec": {**step.body["spec"], **({"Data": step.body["data"]} if kind == "config"
                                                                       else {})}}
            for number, step in enumerate(steps) if step.kind == f"{kind}_create"]


def test_secrets_and_configs_are_created_then_kept(tmp_path):
    wanted = stack(tmp_path, {"stack.yml": SECRETS}, environ={"PASSWORD": "hunter2"})
    token = [{"ID": "tok", "Spec": {"Name": "token", "Labels": {}}}]
    steps = plan.deploy(wanted, [], [], token, [])
    assert [step.message for step in steps] == ["Creating network app_default", "Creating secret app_pw",
                                                "Creating config app_conf", "Creating service app_web"]
    assert steps[1].body == {"spec": {"Name": "app_pw", "Labels": {NAMESPACE: "app"}}, "data": b"hunter2"}
    assert all(b"hunter2" not in step.message.encode() for step in steps)
    networks, services = fake_store_after(steps)
    secrets, configs = token + fake_objects(steps, "secret"), fake_objects(steps, "config")
    for service in services:  # the control API stores the ids of the names it resolved
        for reference in service["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]:
            reference["SecretID"] = next(s["ID"] for s in secrets if s["Spec"]["Name"] == reference["SecretName"])
        for reference in service["Spec"]["TaskTemplate"]["ContainerSpec"]["Configs"]:
            reference["ConfigID"] = configs[0]["ID"]
    again = plan.deploy(wanted, services, networks, secrets, configs)
    # As Docker's deploy: each existing secret and config is updated, silently, with the file's labels and data
    # (the control API refuses other data, changes the labels): a changed secret file is not kept without a word.
    assert [(step.message, step.kind, step.body) for step in again] == [
        ("", "secret_update", {"ref": "secret1", "version": 0, "spec": {"Name": "app_pw", "Labels": {NAMESPACE: "app"}},
                               "data": b"hunter2"}),
        ("", "config_update", {"ref": "config2", "version": 0, "spec": steps[2].body["spec"], "data": steps[2].body["data"]})]
    changed = stack(tmp_path, {"stack.yml": SECRETS.replace("listen 80", "listen 81")}, environ={"PASSWORD": "x"})
    with pytest.raises(ComposeError, match="config app_conf exists with other data, and a config cannot change"):
        plan.deploy(changed, services, networks, secrets, configs)
    with pytest.raises(ComposeError, match=r"secret not found: token \(declared as external\)"):
        plan.deploy(wanted, [], [], [], [])
    removal = plan.remove("app", services, networks, secrets, configs)
    assert [step.message for step in removal] == ["Removing service app_web", "Removing secret app_pw",
                                                  "Removing config app_conf", "Removing network app_default"]


@pytest.mark.parametrize("references, message", [
    ("[{source: pw, target: dup}, {source: tok, target: /run/secrets/dup}]",
     "service app_web: secret references 'app_pw' and 'app_tok' have a conflicting target: '/run/secrets/dup'"),
    ("[{source: pw, target: ../../etc/shadow}]", "service app_web: invalid secret target '../../etc/shadow': it must "
                                                 "not contain '..'"),
])
def test_secrets_that_cannot_be_mounted_together_are_refused_before_any_write(tmp_path, references, message):
    # The control API refused the service, but only after the deploy had created the network and the secrets.
    text = f"services:\n  web:\n    image: {IMAGE}\n    secrets: {references}\n" \
           "secrets:\n  pw:\n    environment: PASSWORD\n  tok:\n    environment: PASSWORD\n"
    with pytest.raises(ComposeError) as raised:
        plan.deploy(stack(tmp_path, {"stack.yml": text}, environ={"PASSWORD": "x"}), [], [], [], [])
    assert str(raised.value) == message


def test_ports_and_subnets_taken_elsewhere_are_refused_before_any_write(tmp_path):
    outside = [{"ID": "o", "Spec": {"Name": "other", "Labels": {}, "EndpointSpec": {"Ports": []}},
                "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                        "PublishMode": "ingress"}]}}]
    wanted = stack(tmp_path, {"stack.yml": FILE})
    with pytest.raises(ComposeError, match="service app_web: port 8080/tcp is already in use by service 'other'"):
        plan.deploy(wanted, outside, [], [], [])
    twice = stack(tmp_path, {"stack.yml": FILE.replace("command: sleep 1000", "command: sleep 1000\n    ports: [8080:81]")})
    with pytest.raises(ComposeError, match="service app_worker: port 8080/tcp is already in use by service 'app_web'"):
        plan.deploy(twice, [], [], [], [])
    host_mode = stack(tmp_path, {"stack.yml": FILE.replace('ports: ["8080:80"]', "ports: [{target: 80, published: 8080, mode: host}]")})
    assert plan.deploy(host_mode, outside, [], [], [])  # a host-mode port is per node, not the cluster's
    subnet = stack(tmp_path, {"stack.yml": FILE + "    ipam:\n      config: [{subnet: 10.0.9.0/24}]\n"})
    held = [{"ID": "n", "Spec": {"Name": "corp", "Labels": {}}, "IPAMOptions": {"Configs": [{"Subnet": "10.0.0.0/16"}]}}]
    with pytest.raises(ComposeError, match="network app_back: subnet 10.0.9.0/24 overlaps subnet 10.0.0.0/16 of network corp"):
        plan.deploy(subnet, [], held, [], [])


def test_a_network_the_file_changes_is_refused_not_left_different(tmp_path):
    networks, services = fake_store_after(plan.deploy(stack(tmp_path, {"stack.yml": FILE}), [], [], [], []))
    assert plan.deploy(stack(tmp_path, {"stack.yml": FILE}), services, networks, [], []) == []
    internal = stack(tmp_path, {"stack.yml": FILE + "    internal: true\n    labels: [a=b]\n"})
    with pytest.raises(ComposeError, match="network app_back exists with other labels, internal, and a network is "
                                           "not updated"):
        plan.deploy(internal, services, networks, [], [])


def test_an_update_out_of_sequence_goes_again_only_while_the_spec_is_as_read(tmp_path):
    networks, services = fake_store_after(plan.deploy(stack(tmp_path, {"stack.yml": FILE}), [], [], [], []))
    changed = stack(tmp_path, {"stack.yml": FILE.replace("sleep 1000", "sleep 2000")})
    [step] = plan.deploy(changed, services, networks, [], [])
    read = services[1]
    rolled = {**copy.deepcopy(read), "Version": {"Index": 9}, "UpdateStatus": {"State": "updating"}}
    again = plan.update_again(step, read, rolled)
    assert again.body == {**step.body, "version": 9}
    edited = copy.deepcopy(rolled)
    edited["Spec"]["Labels"]["owner"] = "someone"
    with pytest.raises(ComposeError, match="service app_worker was changed by someone else during the deploy"):
        plan.update_again(step, read, edited)

"""The dispatcher's task_data decision: need-to-know delivery of secrets and configs (no sockets).

Secrets are sealed with a real data key (actors/common/sealing.py), as the store holds them."""

import pytest

from actors.common import datakey
from actors.dispatcher import taskdata
from transport import limits
from transport.rpc import RpcError

KEY = datakey.new()


def secret(secret_id, name, value):
    return {"ID": secret_id, "Spec": {"Name": name, "Labels": {}}, "Sealed": KEY.seal(secret_id.encode(), value)}


def config(config_id, name, value):
    return {"ID": config_id, "Spec": {"Name": name, "Labels": {}, "Data": value}}


SECRETS = {"s1": secret("s1", "db-password", b"hunter2"), "s2": secret("s2", "api-key", b"k3y")}
CONFIGS = {"c1": config("c1", "nginx.conf", b"server {}")}


def file(target):
    return {"Name": target, "UID": "0", "GID": "0", "Mode": 0o444}


def task(task_id="t1", node="n1", state="assigned", secrets=(("s1", "db-password"),), configs=(("c1", "nginx.conf"),)):
    return {"ID": task_id, "NodeID": node, "Status": {"State": state}, "DesiredState": "running",
            "Spec": {"ContainerSpec": {"Image": "img",
                                       "Secrets": [{"File": file(name), "SecretID": i, "SecretName": name}
                                                   for i, name in secrets],
                                       "Configs": [{"File": file(name), "ConfigID": i, "ConfigName": name}
                                                   for i, name in configs]}}}


def unseal(secret_id, sealed):
    return KEY.unseal(secret_id.encode(), sealed)


def answer(the_task, node="n1", secrets=SECRETS, configs=CONFIGS, task_id="t1"):
    return taskdata.task_data(the_task, task_id, node, secrets, configs, unseal)


def refusal(*args, **kwargs) -> RpcError:
    with pytest.raises(RpcError) as caught:
        answer(*args, **kwargs)
    return caught.value


def test_a_task_of_the_callers_node_gets_the_values_of_what_it_references():
    assert answer(task()) == {"secrets": [{"ID": "s1", "Name": "db-password", "Data": b"hunter2"}],
                              "configs": [{"ID": "c1", "Name": "nginx.conf", "Data": b"server {}"}]}


def test_only_the_referenced_secrets_are_sent_each_once():
    twice = task(secrets=(("s2", "api-key"), ("s2", "api-key")), configs=())
    assert answer(twice) == {"secrets": [{"ID": "s2", "Name": "api-key", "Data": b"k3y"}], "configs": []}


def test_a_task_of_another_node_is_refused_saying_so():
    refused = refusal(task(node="n2"))
    assert (refused.code, str(refused)) == ("permission_denied", "task t1 is not assigned to this node")


def test_an_unassigned_task_is_refused_as_not_this_nodes():
    unassigned = task()
    del unassigned["NodeID"]
    assert refusal(unassigned).code == "permission_denied"


@pytest.mark.parametrize("state", ["complete", "failed", "shutdown", "rejected", "orphaned"])
def test_a_task_that_ended_is_refused(state):
    refused = refusal(task(state=state))
    assert refused.code == "permission_denied" and f"has ended ({state})" in str(refused)


def test_an_unknown_task_is_not_found():
    refused = refusal(None, task_id="nosuch")
    assert (refused.code, str(refused)) == ("not_found", "task nosuch not found")


def test_a_secret_removed_since_the_task_was_made_is_missing_data_named_without_its_value():
    refused = refusal(task(), secrets={})
    assert refused.code == "missing_data"
    assert "db-password" in str(refused) and "s1" in str(refused) and "hunter2" not in str(refused)


def test_a_secret_sealed_for_another_id_does_not_unseal():
    moved = {"s1": {**SECRETS["s2"], "ID": "s1"}}  # s2's sealed value copied onto s1: bound to s2's id
    with pytest.raises(Exception, match="does not open"):
        answer(task(configs=()), secrets=moved)


def test_values_beyond_the_reply_limit_are_refused(monkeypatch):
    monkeypatch.setattr(limits, "TASK_DATA_BYTES", 10)
    refused = refusal(task())
    assert refused.code == "too_large" and "hunter2" not in str(refused)


def test_references_list_each_id_once_in_spec_order():
    refs = taskdata.references(task(secrets=(("s2", "b"), ("s1", "a"), ("s2", "b")), configs=()))
    assert refs == {"secrets": [("s2", "b"), ("s1", "a")], "configs": []}

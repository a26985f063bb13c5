"""The Engine API's endpoints (actors/engineapi/endpoints.py) over a fake control API: which calls each
request makes and what it answers. The real control API behind the real docker CLI is
tests/integration/test_engineapi.py's."""

import asyncio
import json

from actors.engineapi.endpoints import Endpoints
from actors.engineapi.translate import HostFacts
from transport.rpccall import RpcError

HOST = HostFacts(hostname="h1", kernel="6.1", operating_system="Debian", architecture="x86_64", cpus=2,
                 memory_bytes=2 ** 30, server_version="0.1.0-shoal")
WEB = {"ID": "s1", "Version": {"Index": 9}, "SpecVersion": {"Index": 2},
       "Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 2}}, "Shoal": {"Rebalance": False}}}
TASKS = [{"ID": "t1", "ServiceID": "s1", "Slot": 1, "NodeID": "n1", "DesiredState": "running", "SpecVersion": {"Index": 2}},
         {"ID": "t2", "ServiceID": "s1", "Slot": 2, "NodeID": "n2", "DesiredState": "shutdown", "SpecVersion": {"Index": 1}}]


class FakeControl:
    """A fake control API: canned replies by kind (a callable gets the body), every call recorded."""

    def __init__(self, **replies):
        self.replies = replies
        self.calls = []

    async def __call__(self, kind, body):
        self.calls.append((kind, body))
        reply = self.replies[kind]
        return reply(body) if callable(reply) else reply


async def no_sleep(seconds):
    pass


def respond(control, method, target, body=b""):
    name, answer = asyncio.run(Endpoints(control, HOST, "127.0.0.1", no_sleep).respond(method, target, body))
    return name, answer.status, answer.body


def service_ps(body):
    return [{"service": WEB}, *({"task": task} for task in TASKS),
            {"node": "n1", "hostname": "alpha", "down": False}, {"node": "n2", "hostname": "beta", "down": False}]


def test_fake_control_a_version_out_of_range_is_refused_before_any_call():
    control = FakeControl()
    assert respond(control, "GET", "/v1.99/info") == (
        "info", 400, {"message": "client version 1.99 is too new. Maximum supported API version is 1.41"})
    assert control.calls == []


def test_fake_control_unknown_paths_get_404_and_container_calls_501():
    assert respond(FakeControl(), "GET", "/v1.41/nowhere") == ("not_found", 404, {"message": "page not found"})
    name, status, body = respond(FakeControl(), "GET", "/v1.41/containers/json")
    assert (name, status) == ("unserved", 501) and "GET /containers/json is not served" in body["message"]


def test_fake_control_a_control_api_error_keeps_its_message_with_dockers_status():
    def missing(body):
        raise RpcError("not_found", f"no such service: {body['ref']}")
    assert respond(FakeControl(service_inspect=missing), "GET", "/v1.41/services/nope") == (
        "service_inspect", 404, {"message": "no such service: nope"})


def test_fake_control_service_status_is_shown_from_api_141_on_and_filters_apply():
    rows = [{"service": WEB, "running": 1, "desired": 2}, {"service": {**WEB, "ID": "s2", "Spec": {"Name": "db"}},
                                                            "running": 0, "desired": 1}]
    control = FakeControl(service_ls=rows)
    filters = json.dumps({"name": {"we": True}})
    _, status, body = respond(control, "GET", f"/v1.41/services?status=true&filters={filters}")
    assert status == 200 and [s["ID"] for s in body] == ["s1"]
    assert body[0]["ServiceStatus"] == {"RunningTasks": 1, "DesiredTasks": 2, "CompletedTasks": 0}
    _, _, body = respond(control, "GET", "/v1.40/services?status=true")
    assert [s.get("ServiceStatus") for s in body] == [None, None]


def test_fake_control_an_update_keeps_shoals_own_settings_a_go_client_dropped():
    control = FakeControl(service_inspect=WEB, service_update=WEB)
    spec = {"Name": "web", "Mode": {"Replicated": {"Replicas": 3}}, "TaskTemplate": {"Runtime": "container"}}
    assert respond(control, "POST", "/v1.41/services/web/update?version=9", json.dumps(spec).encode())[1:] == (
        200, {"Warnings": []})
    kind, body = control.calls[-1]
    assert kind == "service_update" and body["version"] == 9 and body["ref"] == "s1"
    assert body["spec"] == {"Name": "web", "Mode": {"Replicated": {"Replicas": 3}}, "TaskTemplate": {},
                            "Shoal": {"Rebalance": False}}


def test_fake_control_a_rollback_is_the_control_apis_rollback():
    control = FakeControl(service_rollback=WEB)
    respond(control, "POST", "/v1.41/services/web/update?version=9&rollback=previous", b"{}")
    assert control.calls == [("service_rollback", {"ref": "web", "version": 9})]


def test_fake_control_an_update_without_a_version_is_refused():
    control = FakeControl()
    assert respond(control, "POST", "/v1.41/services/web/update", b"{}")[1] == 400 and control.calls == []


def test_fake_control_tasks_are_filtered_by_node_hostname_desired_state_and_up_to_date():
    control = FakeControl(service_ls=[{"service": WEB, "running": 1, "desired": 2}], service_ps=service_ps)
    query = json.dumps({"node": ["beta"]})
    assert [t["ID"] for t in respond(control, "GET", f"/v1.41/tasks?filters={query}")[2]] == ["t2"]
    query = json.dumps({"service": {"web": True}, "desired-state": {"running": True}})
    assert [t["ID"] for t in respond(control, "GET", f"/v1.41/tasks?filters={query}")[2]] == ["t1"]
    assert control.calls[-1] == ("service_ps", {"ref": "web"})
    query = json.dumps({"_up-to-date": {"true": True}})
    assert [t["ID"] for t in respond(control, "GET", f"/v1.41/tasks?filters={query}")[2]] == ["t1"]


def test_fake_control_a_task_is_found_by_its_id_prefix():
    control = FakeControl(service_ls=[{"service": WEB, "running": 1, "desired": 2}], service_ps=service_ps)
    assert respond(control, "GET", "/v1.41/tasks/t2")[2]["ID"] == "t2"
    assert respond(control, "GET", "/v1.41/tasks/t")[1] == 404  # two match


def test_fake_control_a_node_update_checks_the_version_first():
    node = {"ID": "n1", "Version": {"Index": 5}, "Spec": {"Role": "worker", "Availability": "active"}}
    control = FakeControl(node_inspect=node, node_update=node)
    spec = json.dumps({"Role": "worker", "Availability": "drain"}).encode()
    assert respond(control, "POST", "/v1.41/nodes/n1/update?version=4", spec)[1:] == (500, {"message": "update out of sequence"})
    assert [kind for kind, _ in control.calls] == ["node_inspect"]
    assert respond(control, "POST", "/v1.41/nodes/n1/update?version=5", spec)[1] == 200
    assert control.calls[-1] == ("node_update", {"ref": "n1", "availability": "drain", "labels": {}, "role": "worker"})


def test_fake_control_swarm_update_rotates_tokens_and_changes_only_what_shoal_serves():
    cluster = {"ID": "c1", "Version": {"Index": 3}, "Spec": {"Name": "default", "Orchestration": {"TaskHistoryRetentionLimit": 5},
                                                             "Dispatcher": {"HeartbeatPeriod": 250000000}}}
    control = FakeControl(swarm_inspect=cluster, swarm_update=cluster, join_token={"token": "T"})
    # a Go client sends the spec it read, with zero values for what it knows beside
    spec = {"Name": "default", "Labels": {}, "Orchestration": {"TaskHistoryRetentionLimit": 5},
            "Raft": {"SnapshotInterval": 0}, "Dispatcher": {"HeartbeatPeriod": 250000000}, "CAConfig": {}}
    assert respond(control, "POST", "/v1.41/swarm/update?version=3&rotateWorkerToken=true", json.dumps(spec).encode())[1] == 200
    assert [kind for kind, _ in control.calls] == ["swarm_inspect", "join_token"]
    assert control.calls[-1][1] == {"role": "worker", "rotate": True}
    spec["Orchestration"]["TaskHistoryRetentionLimit"] = 2
    respond(control, "POST", "/v1.41/swarm/update?version=3", json.dumps(spec).encode())
    assert control.calls[-1] == ("swarm_update", {"task_history_limit": 2})
    spec["Raft"]["SnapshotInterval"] = 100
    _, status, body = respond(control, "POST", "/v1.41/swarm/update?version=3", json.dumps(spec).encode())
    assert status == 400 and "swarm setting Raft cannot be changed on Shoal" in body["message"]


def test_fake_control_a_joined_manager_refuses_init_and_join_as_dockerd_does():
    _, status, body = respond(FakeControl(), "POST", "/v1.41/swarm/init", b"{}")
    assert status == 503 and body["message"].startswith("This node is already part of a swarm")


def test_fake_control_network_create_answers_dockers_shape():
    control = FakeControl(network_create={"ID": "n9", "Spec": {"Name": "back"}})
    assert respond(control, "POST", "/v1.41/networks/create", b'{"Name": "back", "Driver": "overlay"}')[1:] == (
        201, {"Id": "n9", "Warning": ""})


def test_fake_control_secrets_are_listed_created_and_removed_through_the_control_api():
    control = FakeControl(secret_ls=[{"ID": "x1", "Spec": {"Name": "pw"}}], secret_create={"id": "x2"}, secret_rm={"id": "x2"})
    assert respond(control, "GET", '/v1.41/secrets?filters={"name":{"pw":true}}')[1:] == (200, [{"ID": "x1", "Spec": {"Name": "pw"}}])
    assert control.calls[-1] == ("secret_ls", {"filters": {"name": ["pw"]}})
    assert respond(control, "POST", "/v1.41/secrets/create", b'{"Name": "pw2", "Data": "eA=="}')[1:] == (201, {"ID": "x2"})
    assert control.calls[-1] == ("secret_create", {"spec": {"Name": "pw2", "Labels": {}}, "data": b"x"})
    assert respond(control, "DELETE", "/v1.41/secrets/pw2")[1] == 204 and control.calls[-1] == ("secret_rm", {"ref": "pw2"})


def test_fake_control_autolock_and_the_unlock_key_through_swarm_update():
    cluster = {"ID": "c1", "Version": {"Index": 3}, "Spec": {"Name": "default"}}
    control = FakeControl(swarm_inspect=cluster, swarm_update=cluster, unlock_key={"key": "SWMKEY-1-k"})
    spec = json.dumps({"Name": "default", "EncryptionConfig": {"AutoLockManagers": True}}).encode()
    respond(control, "POST", "/v1.41/swarm/update?version=3", spec)
    assert control.calls[-1] == ("swarm_update", {"autolock": True})
    respond(control, "POST", "/v1.41/swarm/update?version=3&rotateManagerUnlockKey=1", b'{"Name": "default"}')
    assert control.calls[-1] == ("unlock_key", {"rotate": True})
    assert respond(control, "GET", "/v1.41/swarm/unlockkey")[1:] == (200, {"UnlockKey": "SWMKEY-1-k"})


def refused_while(count, code="refused"):
    """A network_rm that refuses ``count`` times, then removes."""
    left = [count]

    def network_rm(body):
        if left[0]:
            left[0] -= 1
            raise RpcError(code, "network back is in use by service web")
        return {"id": "n1", "name": "back"}
    return network_rm


def test_fake_control_a_network_held_only_by_tasks_of_removed_services_is_removed_once_they_stop():
    control = FakeControl(network_rm=refused_while(3), network_inspect={"ID": "n1", "Spec": {"Name": "back"}, "Services": {"web": {}}},
                          service_ls=[])
    assert respond(control, "DELETE", "/v1.41/networks/back")[1] == 204
    assert [kind for kind, _ in control.calls].count("network_rm") == 4


def test_fake_control_a_network_a_service_uses_is_refused_at_once():
    control = FakeControl(network_rm=refused_while(1), network_inspect={"ID": "n1", "Spec": {"Name": "back"}, "Services": {"web": {}}},
                          service_ls=[{"service": WEB, "running": 2, "desired": 2}])
    assert respond(control, "DELETE", "/v1.41/networks/back")[1:] == (400, {"message": "network back is in use by service web"})
    assert [kind for kind, _ in control.calls].count("network_rm") == 1


def test_fake_control_a_network_still_held_after_the_wait_is_refused():
    control = FakeControl(network_rm=refused_while(1000), network_inspect={"ID": "n1", "Spec": {"Name": "back"}, "Services": {"web": {}}},
                          service_ls=[])
    assert respond(control, "DELETE", "/v1.41/networks/back")[1] == 400
    assert [kind for kind, _ in control.calls].count("network_rm") == 61  # 15 s at 0.25 s

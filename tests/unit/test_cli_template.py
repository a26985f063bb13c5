"""--format templates, --filter, progress pictures and --pretty output: the CLI's pure pieces."""

import json

import pytest

from actors.common import filters
from actors.cli.pretty import binary_size, go_duration, node_pretty, service_pretty
from actors.cli.progress import eligible_nodes, picture, update_outcome
from actors.cli.template import Template, TemplateError
from transport.schema import format_time

ROWS = [{"ID": "abc", "Name": "web", "Image": "img:1", "Replicas": "2/3", "DesiredState": "Running"},
        {"ID": "def", "Name": "db", "Image": "pg", "Replicas": "1/1", "DesiredState": "Shutdown"}]


def test_placeholders_fill_each_row():
    assert Template("{{.ID}}: {{.Name}} {{ .Image }}").render(ROWS) == "abc: web img:1\ndef: db pg"


def test_table_has_dockers_headers_and_aligned_columns():
    out = Template("table {{.ID}}\\t{{.DesiredState}}\\t{{.Replicas}}").render(ROWS)
    assert out.splitlines() == ["ID    DESIRED STATE   REPLICAS", "abc   Running         2/3", "def   Shutdown        1/1"]


def test_json_of_the_row_and_of_a_field():
    assert json.loads(Template("{{json .}}").render(ROWS[:1])) == ROWS[0]
    assert Template("{{json .Name}}").render(ROWS[:1]) == '"web"'


def test_json_alone_is_dockers_shorthand_for_each_row_as_json():
    assert [json.loads(line) for line in Template("json").render(ROWS).splitlines()] == ROWS


def test_nested_fields_as_on_inspect():
    service = {"Spec": {"Name": "web", "Labels": {"a": "1"}, "Mode": {"Replicated": {"Replicas": 3}}}, "UpdateStatus": None}
    assert Template("{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{json .Spec.Labels}}").render([service]) == \
        'web 3 {"a": "1"}'
    assert Template("{{.Spec.Missing}}|{{.UpdateStatus}}").render([service]) == "<no value>|<nil>"


@pytest.mark.parametrize("text, message", [
    ("{{.Nmae}}", "can't evaluate field Nmae"),
    ("{{upper .Name}}", "unsupported action {{upper .Name}}"),
    ("{{range .}}x{{end}}", "unsupported action"),
    ("{{if .ID}}x{{end}}", "unsupported action"),
    ("{{.Name", "unclosed action"),
    ("{{json}}", "unsupported action"),
])
def test_outside_the_subset_is_a_clear_error(text, message):
    with pytest.raises(TemplateError, match=message.replace("{", "\\{").replace("(", "\\(")):
        Template(text).render(ROWS)


def test_values_from_the_cluster_never_reach_the_terminal_raw():
    assert Template("{{.Name}}").render([{"Name": "x\x1b[2Jy"}]) == "x\\x1b[2Jy"


SERVICES = [{"ID": "aaa1", "Spec": {"Name": "web", "Labels": {"tier": "front"}, "Mode": {"Replicated": {}}}},
            {"ID": "bbb2", "Spec": {"Name": "webcache", "Labels": {"tier": "cache"}, "Mode": {"Global": {}}}},
            {"ID": "ccc3", "Spec": {"Name": "db", "Labels": {}, "Mode": {"ReplicatedJob": {}}}}]


@pytest.mark.parametrize("texts, names", [
    (["name=web"], ["web", "webcache"]),
    (["name=web", "name=db"], ["web", "webcache", "db"]),
    (["id=bbb"], ["webcache"]),
    (["label=tier"], ["web", "webcache"]),
    (["label=tier=cache"], ["webcache"]),
    (["mode=global"], ["webcache"]),
    (["mode=replicated-job"], ["db"]),
    (["name=web", "mode=replicated"], ["web"]),
])
def test_service_filters(texts, names):
    wanted = filters.parse(texts, filters.SERVICE_LS)
    assert [s["Spec"]["Name"] for s in filters.keep(SERVICES, wanted, filters.SERVICE_LS)] == names


@pytest.mark.parametrize("texts, message", [(["colour=red"], "invalid filter 'colour'"), (["name"], "expected name=value")])
def test_bad_filters(texts, message):
    with pytest.raises(ValueError, match=message):
        filters.parse(texts, filters.SERVICE_LS)


NODES = [{"ID": "n1", "Spec": {"Role": "manager", "Labels": {"zone": "a"}}, "Description": {"Hostname": "alpha"}},
         {"ID": "n2", "Spec": {"Role": "worker", "Labels": {}}, "Description": {"Hostname": "beta",
                                                                              "Engine": {"Labels": {"ssd": "1"}}}}]


@pytest.mark.parametrize("texts, ids", [(["role=worker"], ["n2"]), (["name=al"], ["n1"]), (["node.label=zone=a"], ["n1"]),
                                        (["label=ssd"], ["n2"]), (["membership=accepted"], ["n1", "n2"]),
                                        (["membership=pending"], [])])
def test_node_filters(texts, ids):
    wanted = filters.parse(texts, filters.NODE_LS)
    assert [n["ID"] for n in filters.keep(NODES, wanted, filters.NODE_LS)] == ids


def test_task_filters():
    tasks = [{"ID": "t1", "ServiceID": "s", "Slot": 1, "NodeID": "n1", "DesiredState": "running"},
             {"ID": "t2", "ServiceID": "s", "Slot": 2, "NodeID": "n2", "DesiredState": "shutdown"}]
    accepted = filters.task_filters({"s": "web"}, {"n1": "alpha", "n2": "beta"})
    for texts, ids in ((["node=beta"], ["t2"]), (["node=n1"], ["t1"]), (["name=web.2"], ["t2"]),
                       (["desired-state=running"], ["t1"]), (["id=t"], ["t1", "t2"])):
        assert [t["ID"] for t in filters.keep(tasks, filters.parse(texts, accepted), accepted)] == ids


TEMPLATE = {"ContainerSpec": {"Image": "img:2"}}
OLD = {"ContainerSpec": {"Image": "img:1"}}


def task(slot, state, spec, desired="running", created="1", node="n"):
    return {"Slot": slot, "Spec": spec, "DesiredState": desired, "Status": {"State": state}, "CreatedAt": created,
            "NodeID": node}


def service(mode=None, status=None):
    return {"Spec": {"Name": "web", "Mode": mode or {"Replicated": {"Replicas": 2}}, "TaskTemplate": TEMPLATE},
            "UpdateStatus": status}


def test_update_progress_counts_only_tasks_of_the_current_spec():
    tasks = [task(1, "running", TEMPLATE, created="2"), task(1, "shutdown", OLD, "shutdown"), task(2, "running", OLD)]
    shown = picture(service(), tasks)
    assert shown.lines[0] == "overall progress: 1 out of 2 tasks" and not shown.converged
    assert shown.lines[1].startswith("1/2: running") and shown.lines[2].startswith("2/2: new")
    tasks[2] = task(2, "running", TEMPLATE)
    assert picture(service(), tasks).converged


def test_start_first_is_not_converged_while_an_old_task_still_runs():
    tasks = [task(1, "running", TEMPLATE), task(2, "running", TEMPLATE), task(2, "running", OLD, "shutdown")]
    assert not picture(service(), tasks).converged


def test_global_progress_has_a_line_per_node():
    tasks = [task(None, "running", TEMPLATE, node="node-a"), task(None, "starting", TEMPLATE, node="node-b")]
    shown = picture(service({"Global": {}}), tasks)
    assert shown.lines[0] == "overall progress: 1 out of 2 tasks" and shown.lines[1].startswith("node-a: running")
    assert not shown.converged


def test_a_new_global_service_waits_for_every_eligible_node():
    assert not picture(service({"Global": {}}), [], eligible={"node-a", "node-b"}).converged  # no task yet: not 0/0
    tasks = [task(None, "running", TEMPLATE, node="node-a")]
    shown = picture(service({"Global": {}}), tasks, eligible={"node-a", "node-b"})
    assert shown.lines[0] == "overall progress: 1 out of 2 tasks" and shown.lines[2].startswith("node-b: new")
    assert picture(service({"Global": {}}), tasks + [task(None, "running", TEMPLATE, node="node-b")],
                   eligible={"node-a", "node-b"}).converged


def test_a_task_whose_host_ports_the_spec_changed_is_not_current_as_the_updater_says():
    svc = service({"Replicated": {"Replicas": 1}})
    svc["Spec"]["EndpointSpec"] = {"Ports": [{"TargetPort": 80, "PublishedPort": 8081, "PublishMode": "host"}]}
    old = {**task(1, "running", TEMPLATE), "Endpoint": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080,
                                                                  "PublishMode": "host"}]}}
    assert not picture(svc, [old]).converged
    new = {**old, "Endpoint": {"Ports": svc["Spec"]["EndpointSpec"]["Ports"]}}
    assert picture(svc, [new]).converged


def test_eligible_nodes_are_ready_active_and_meet_the_constraints():
    def node(node_id, state="ready", availability="active", role="worker"):
        return {"ID": node_id, "Status": {"State": state}, "Spec": {"Availability": availability, "Role": role}}
    nodes = [node("a"), node("b", state="down"), node("c", availability="drain"), node("d", role="manager")]
    spec = service({"Global": {}})
    assert eligible_nodes(spec, nodes) == {"a", "d"}
    spec["Spec"]["TaskTemplate"] = {**TEMPLATE, "Placement": {"Constraints": ["node.role==worker"]}}
    assert eligible_nodes(spec, nodes) == {"a"}


def test_job_progress_counts_completions():
    mode = {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 2}}
    tasks = [task(1, "complete", TEMPLATE, "complete"), task(2, "running", TEMPLATE)]
    shown = picture(service(mode), tasks)
    assert shown.lines[:2] == ["job progress: 1 out of 2 complete", "active tasks: 1 out of 1 tasks"]
    assert not shown.converged
    tasks[1] = task(2, "complete", TEMPLATE, "complete")
    assert picture(service(mode), tasks).converged
    rerun = dict(service(mode), JobStatus={"JobIteration": {"Index": 2}})  # an update started a new iteration
    assert picture(rerun, tasks).lines[0] == "job progress: 0 out of 2 complete"


BASE = {"State": "completed", "StartedAt": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize("status, rollback, outcome", [
    (None, False, ("done", "")),
    (BASE, False, ("done", "")),  # the previous update's status is not this command's
    ({"State": "updating", "Message": "update in progress"}, False, ("wait", "update in progress")),
    ({"State": "paused", "Message": "update paused due to failure"}, False,
     ("failed", "service update paused: update paused due to failure")),
    ({"State": "rollback_started", "Message": "update rolled back"}, False, ("wait", "update rolled back")),
    ({"State": "rollback_paused", "Message": "m"}, False, ("failed", "service rollback paused: m")),
    ({"State": "rollback_completed", "Message": "rollback completed"}, False,
     ("failed", "service rolled back: rollback completed")),
    ({"State": "rollback_completed", "Message": "rollback completed"}, True, ("done", "rollback completed")),
    ({"State": "completed", "Message": "update completed"}, False, ("done", "update completed")),
])
def test_update_outcomes(status, rollback, outcome):
    assert update_outcome(status, status != BASE, rollback) == outcome


def test_a_stepped_update_pausing_after_its_batch_succeeded_but_one_pausing_on_failure_did_not():
    step = {"State": "paused", "Message": "update paused after one step: 'shoal service update --continue' runs the next",
            "Shoal": {"Step": True}}
    assert update_outcome(step, True, False)[0] == "stepped"
    failed = {"State": "paused", "Message": "update paused due to failure or early termination of task t",
              "Shoal": {"Step": True, "Failed": ["t"]}}
    assert update_outcome(failed, True, False)[0] == "failed"


@pytest.mark.parametrize("nanos, text", [(0, "0s"), (5_000_000_000, "5s"), (90_000_000_000, "1m30s"),
                                         (300_000_000, "300ms"), (3_600_000_000_000, "1h0m0s")])
def test_go_durations(nanos, text):
    assert go_duration(nanos) == text


def test_binary_sizes():
    assert binary_size(64 << 20) == "64MiB" and binary_size(1536 << 20) == "1.5GiB" and binary_size(100) == "100B"


def test_service_pretty_shows_what_docker_shows():
    text = service_pretty({"ID": "sid", "Spec": {
        "Name": "web", "Labels": {"a": "1"}, "Mode": {"Replicated": {"Replicas": 3}},
        "TaskTemplate": {"ContainerSpec": {"Image": "img", "Args": ["sleep", "9"], "Env": ["A=1"]},
                         "Placement": {"Constraints": ["node.role==worker"]},
                         "Resources": {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20}}},
        "UpdateConfig": {"Parallelism": 2, "Delay": 10_000_000_000, "FailureAction": "rollback", "Monitor": 5_000_000_000,
                         "MaxFailureRatio": 0, "Order": "start-first"},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}},
        "UpdateStatus": {"State": "paused", "Message": "update paused due to failure", "StartedAt": format_time(880)}},
        now=1000)
    lines = [line.split() for line in text.splitlines()]
    for expected in (["ID:", "sid"], ["Name:", "web"], ["-", "a=1"], ["Replicas:", "3"], ["State:", "paused"],
                     ["Constraints:", "[node.role==worker]"], ["Parallelism:", "2"], ["Delay:", "10s"],
                     ["On", "failure:", "rollback"], ["Update", "order:", "start-first"], ["Image:", "img"],
                     ["Args:", "sleep", "9"], ["CPU:", "0.5"], ["Memory:", "64MiB"], ["PublishedPort", "=", "8080"],
                     ["PublishMode", "=", "host"], ["Started:", "2", "minutes", "ago"]):
        assert expected in lines, expected


def test_service_pretty_shows_networks_by_name_and_the_endpoint_mode():
    spec = {"Name": "web", "TaskTemplate": {"Networks": [{"Target": "n1"}, {"Target": "n2"}]},
            "EndpointSpec": {"Mode": "dnsrr"}}
    lines = [line.split() for line in service_pretty({"ID": "s", "Spec": spec}, 0, {"n1": "front"}).splitlines()]
    assert ["Networks:", "front", "n2"] in lines and ["Endpoint", "Mode:", "dnsrr"] in lines
    plain = [line.split() for line in service_pretty({"ID": "s", "Spec": {"Name": "web"}}, 0).splitlines()]
    assert ["Endpoint", "Mode:", "vip"] in plain and not any(line[:1] == ["Networks:"] for line in plain)


def test_node_pretty():
    text = node_pretty({"ID": "nid", "Spec": {"Role": "manager", "Availability": "drain", "Labels": {"zone": "a"}},
                        "Description": {"Hostname": "alpha", "Platform": {"OS": "linux", "Architecture": "x86_64"},
                                        "Resources": {"NanoCPUs": 2_000_000_000, "MemoryBytes": 2 << 30}},
                        "Status": {"State": "ready", "Addr": "127.0.0.1"},
                        "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:2377"}})
    lines = [line.split() for line in text.splitlines()]
    for expected in (["ID:", "nid"], ["-", "zone=a"], ["Hostname:", "alpha"], ["State:", "Ready"],
                     ["Availability:", "Drain"], ["Leader:", "Yes"], ["Operating", "System:", "linux"], ["CPUs:", "2"],
                     ["Memory:", "2GiB"]):
        assert expected in lines, expected

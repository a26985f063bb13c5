"""Swarm's service templates, expanded per task (no IO)."""

import pytest

from actors.executor import templates

TASK = {"ID": "task1", "ServiceID": "svc1", "Slot": 3,
        "ServiceAnnotations": {"Name": "web", "Labels": {"tier": "front"}}}
NODE = {"ID": "node1", "Description": {"Hostname": "host-a", "Platform": {"OS": "linux", "Architecture": "x86_64"}}}
FIELDS = templates.context(TASK, NODE)


@pytest.mark.parametrize("text, expanded", [
    ("{{.Service.Name}}", "web"), ("{{.Service.ID}}", "svc1"), ("{{.Task.Slot}}", "3"), ("{{.Task.ID}}", "task1"),
    ("{{.Task.Name}}", "web.3.task1"), ("{{.Node.ID}}", "node1"), ("{{.Node.Hostname}}", "host-a"),
    ("{{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}", "linux/x86_64"),
    ("{{.Node.Hostname}}-{{.Service.Name}}-{{.Task.Slot}}", "host-a-web-3"),
    ("{{ .Task.Slot }}", "3"), ("{{- .Task.Slot -}}", "3"), ("no template", "no template"), ("", ""),
    ('{{index .Service.Labels "tier"}}-{{.Task.Slot}}', "front-3"), ('{{ index .Service.Labels "absent" }}', "")])
def test_every_swarm_placeholder_expands(text, expanded):
    assert templates.expand(text, FIELDS) == expanded


def test_a_global_tasks_name_holds_its_node_id_and_its_slot_is_zero():
    fields = templates.context({"ID": "t", "ServiceID": "s", "NodeID": "node1", "ServiceAnnotations": {"Name": "agent"}},
                               NODE)
    assert templates.expand("{{.Task.Name}} {{.Task.Slot}}", fields) == "agent.node1.t 0"


@pytest.mark.parametrize("text, complaint", [
    ("{{.Service.Nope}}", "no field .Service.Nope"), ("{{.Service}}", "is not a single value"),
    ("{{.Task.Slot.X}}", "no field .Task.Slot.X"), ("{{.Service.Labels}}", "is not a single value"),
    ('{{index .Service.Nope "a"}}', "no field .Service.Nope"), ('{{index .Service.Name "a"}}', "is not a map"),
    ("{{index .Service.Labels tier}}", "only field placeholders"), ("{{printf \"%d\" 1}}", "only field placeholders")])
def test_anything_else_is_refused_naming_the_placeholder(text, complaint):
    with pytest.raises(templates.TemplateError, match=complaint) as refused:
        templates.expand(text, FIELDS)
    assert text in str(refused.value)

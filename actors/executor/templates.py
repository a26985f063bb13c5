"""Swarm's service templates: ``{{.Service.Name}}``, ``{{.Task.Slot}}``, ``{{.Node.Hostname}}`` ...

Swarm expands these placeholders, per task, in a container's hostname,
environment entries and mount sources and targets (``--hostname
"{{.Node.Hostname}}-{{.Task.Slot}}"``). The placeholders are Go template
field paths into :func:`context`; a placeholder naming no field, or any other
template action, is refused with :class:`TemplateError`, so a task with a bad
template is rejected rather than started with a wrong name.
"""

from __future__ import annotations

import re

from transport import schema

_PLACEHOLDER = re.compile(r"{{-?\s*(.*?)\s*-?}}")
_FIELD_PATH = re.compile(r"(\.[A-Za-z_][A-Za-z0-9_]*)+")


class TemplateError(ValueError):
    """A template Shoal cannot expand; the message quotes the offending placeholder."""


def context(task: dict, node: dict) -> dict:
    """The fields a template may name for ``task`` on ``node`` (a node id and its Description):
    Service.ID/Name, Node.ID/Hostname/Platform.OS/Platform.Architecture, Task.ID/Name/Slot, where
    Task.Name is the task's container name (``web.1.<task id>``), as in Swarm."""
    service_name = schema.get_path(task, "ServiceAnnotations.Name", "")
    return {"Service": {"ID": task.get("ServiceID", ""), "Name": service_name},
            "Node": {"ID": node.get("ID", ""), "Hostname": schema.get_path(node, "Description.Hostname", ""),
                     "Platform": {"OS": schema.get_path(node, "Description.Platform.OS", ""),
                                  "Architecture": schema.get_path(node, "Description.Platform.Architecture", "")}},
            "Task": {"ID": task["ID"], "Name": f"{schema.task_name(service_name, task)}.{task['ID']}",
                     "Slot": str(task.get("Slot", 0))}}


def expand(text: str, fields: dict) -> str:
    """``text`` with every ``{{.Path.To.Field}}`` replaced by that field of ``fields``; raises
    TemplateError for a placeholder that is not a field path or names no (leaf) field."""
    def replace(match: re.Match) -> str:
        expression = match.group(1)
        if not _FIELD_PATH.fullmatch(expression):
            raise TemplateError(f"template {match.group(0)!r}: only field placeholders such as "
                                "{{.Service.Name}} or {{.Task.Slot}} are supported")
        value = fields
        for key in expression[1:].split("."):
            if not isinstance(value, dict) or key not in value:
                raise TemplateError(f"template {match.group(0)!r}: no field {expression}")
            value = value[key]
        if isinstance(value, dict):
            raise TemplateError(f"template {match.group(0)!r}: {expression} is not a single value")
        return str(value)
    return _PLACEHOLDER.sub(replace, text)

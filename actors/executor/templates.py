"""Swarm's service templates: ``{{.Service.Name}}``, ``{{.Task.Slot}}``, ``{{.Node.Hostname}}`` ...

Swarm expands these placeholders, per task, in a container's hostname,
environment entries and mount sources and targets (``--hostname
"{{.Node.Hostname}}-{{.Task.Slot}}"``). The placeholders are Go template
field paths into :func:`context`, or ``index`` of a map field by a quoted key
(``{{index .Service.Labels "tier"}}``: "" when the key is absent, as in Go);
a placeholder naming no field, or any other template action, is refused with
:class:`TemplateError`, so a task with a bad template is rejected rather than
started with a wrong name.
"""

from __future__ import annotations

import re

from transport import schema

_PLACEHOLDER = re.compile(r"{{-?\s*(.*?)\s*-?}}")
_FIELD_PATH = r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+"
_FIELD = re.compile(_FIELD_PATH)
_INDEX = re.compile(rf'index\s+({_FIELD_PATH})\s+"([^"\\]*)"')


class TemplateError(ValueError):
    """A template Shoal cannot expand; the message quotes the offending placeholder."""


def context(task: dict, node: dict) -> dict:
    """The fields a template may name for ``task`` on ``node`` (a node id and its Description):
    Service.ID/Name/Labels, Node.ID/Hostname/Platform.OS/Platform.Architecture, Task.ID/Name/Slot,
    where Task.Name is the task's container name (``web.1.<task id>``), as in Swarm."""
    service_name = schema.get_path(task, "ServiceAnnotations.Name", "")
    return {"Service": {"ID": task.get("ServiceID", ""), "Name": service_name,
                        "Labels": dict(schema.get_path(task, "ServiceAnnotations.Labels") or {})},
            "Node": {"ID": node.get("ID", ""), "Hostname": schema.get_path(node, "Description.Hostname", ""),
                     "Platform": {"OS": schema.get_path(node, "Description.Platform.OS", ""),
                                  "Architecture": schema.get_path(node, "Description.Platform.Architecture", "")}},
            "Task": {"ID": task["ID"], "Name": f"{schema.task_name(service_name, task)}.{task['ID']}",
                     "Slot": str(task.get("Slot", 0))}}


def expand(text: str, fields: dict) -> str:
    """``text`` with every ``{{.Path.To.Field}}`` replaced by that field of ``fields`` and every
    ``{{index .Path "key"}}`` by that key of a map field; raises TemplateError for anything else, or
    a path that names no field (or a map where a single value is due)."""
    def replace(match: re.Match) -> str:
        placeholder, expression = match.group(0), match.group(1)
        if _FIELD.fullmatch(expression):
            value = _field(placeholder, expression, fields)
            if isinstance(value, dict):
                raise TemplateError(f"template {placeholder!r}: {expression} is not a single value")
            return str(value)
        indexed = _INDEX.fullmatch(expression)
        if indexed:
            mapping = _field(placeholder, indexed.group(1), fields)
            if not isinstance(mapping, dict):
                raise TemplateError(f"template {placeholder!r}: {indexed.group(1)} is not a map")
            return str(mapping.get(indexed.group(2), ""))
        raise TemplateError(f"template {placeholder!r}: only field placeholders such as {{{{.Service.Name}}}} "
                            'or {{index .Service.Labels "key"}} are supported')
    return _PLACEHOLDER.sub(replace, text)


def _field(placeholder: str, path: str, fields: dict):
    """The value at ``path`` (``.Service.Name``) in ``fields``; TemplateError when there is none."""
    value = fields
    for key in path[1:].split("."):
        if not isinstance(value, dict) or key not in value:
            raise TemplateError(f"template {placeholder!r}: no field {path}")
        value = value[key]
    return value

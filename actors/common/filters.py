"""``--filter KEY=VALUE`` as docker's CLI takes them on ls and ps.

Values of one key are alternatives (any may match); different keys must all
match. ``id`` and ``name`` match a prefix, ``label=KEY`` a label's presence
and ``label=KEY=VALUE`` its value; the others match exactly. Each command
names the keys it accepts; any other key is refused as docker refuses it
(``invalid filter 'foo'``).
"""

from __future__ import annotations

from typing import Callable

from transport import schema

Matcher = Callable[[dict, str], bool]


def parse(texts, accepted: dict[str, Matcher]) -> dict[str, list[str]]:
    """``("name=web", "label=a")`` -> ``{"name": ["web"], "label": ["a"]}``; ValueError for a malformed
    filter or a key not in ``accepted``."""
    wanted: dict[str, list[str]] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"bad format of filter (expected name=value): {text!r}")
        if key not in accepted:
            raise ValueError(f"invalid filter '{key}': use {', '.join(accepted)}")
        wanted.setdefault(key, []).append(value)
    return wanted


def keep(rows: list, wanted: dict[str, list[str]], accepted: dict[str, Matcher]) -> list:
    """The ``rows`` every filter key of ``wanted`` matches (by one of its values)."""
    return [row for row in rows
            if all(any(accepted[key](row, value) for value in values) for key, values in wanted.items())]


def prefix(path: str) -> Matcher:
    """Matches when the field at ``path`` starts with the value."""
    return lambda obj, value: str(schema.get_path(obj, path, "") or "").startswith(value)


def exact(path: str) -> Matcher:
    """Matches when the field at ``path`` is the value (case-insensitively, as docker's enums)."""
    return lambda obj, value: str(schema.get_path(obj, path, "") or "").lower() == value.lower()


def label(path: str) -> Matcher:
    """``KEY`` matches when the labels at ``path`` have KEY; ``KEY=VALUE`` when KEY has VALUE."""
    def matches(obj, value):
        labels = schema.get_path(obj, path, {}) or {}
        key, sep, wanted = value.partition("=")
        return key in labels and (not sep or labels[key] == wanted)
    return matches


def mode(obj: dict, value: str) -> bool:
    """A service's mode: replicated, global, replicated-job or global-job."""
    return schema.service_mode(obj) == value


SERVICE_LS = {"id": prefix("ID"), "name": prefix("Spec.Name"), "label": label("Spec.Labels"), "mode": mode}
NODE_LS = {"id": prefix("ID"), "name": prefix("Description.Hostname"), "role": exact("Spec.Role"),
           "membership": lambda node, value: value == "accepted",  # a node in the store has joined
           "label": label("Description.Engine.Labels"), "node.label": label("Spec.Labels")}
NETWORK_LS = {"id": prefix("ID"), "name": prefix("Spec.Name"), "label": label("Spec.Labels"),
              "driver": exact("Spec.DriverConfiguration.Name"), "scope": lambda network, value: value == "swarm"}


def task_filters(service_names: dict[str, str], hostnames: dict[str, str]) -> dict[str, Matcher]:
    """The filters of ``service ps`` and ``node ps``: a task's name is ``SERVICE.SLOT`` (or
    ``SERVICE.NODE``), and ``node`` takes a node's id or hostname."""
    def name(task, value):
        return schema.task_name(service_names.get(task["ServiceID"], ""), task).startswith(value)

    def node(task, value):
        node_id = task.get("NodeID") or ""
        return value in (node_id, hostnames.get(node_id)) or bool(value) and node_id.startswith(value)
    return {"id": prefix("ID"), "name": name, "node": node, "desired-state": exact("DesiredState")}

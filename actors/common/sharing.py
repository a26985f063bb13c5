"""One copy, in a view, of what the tasks of a service have in common.

Every task carries its service's task template (``Spec``), name and labels
(``ServiceAnnotations``), endpoint and spec version, copied when it was
created, and every change of a task arrives as a whole new object decoded
afresh: a view of 100k tasks held 100k equal copies of each, over half of a
task's bytes (benchmarks/memory.py). :class:`SharedParts` makes the tasks of
a view point at one copy of each equal part instead. It also makes the
strings that repeat across tasks (ids of services and nodes, states and
messages) one object each.

The objects keep their dict API and their values: sharing changes nothing a
reader sees, as views' readers never modify what they read (a part kept
here may belong to many tasks). A part is shared only with one equal to it
(``==``); the candidate is looked up by (service, spec version, field), so
the parts of a rolling update's two versions are each shared with their own.
"""

from __future__ import annotations

import sys

SHARED_FIELDS = ("Spec", "ServiceAnnotations", "Endpoint", "SpecVersion")
INTERNED_FIELDS = ("ServiceID", "NodeID", "DesiredState")
INTERNED_STATUS_FIELDS = ("State", "Message", "Err")
VERSIONS_KEPT = 4  # spec versions of one service whose parts are kept (an update has two in play)


class SharedParts:
    """The parts kept for the tasks of a view: (service id, field) -> {spec version: part}."""

    def __init__(self):
        self._kept: dict[tuple, dict] = {}

    def share(self, task: dict) -> None:
        """Point ``task``'s common parts at the equal ones already kept (keeping its own where none is),
        and intern its repeating strings. ``task`` is changed in place; its value stays equal."""
        service_id = task.get("ServiceID")
        version = _version_of(task.get("SpecVersion"))
        for field in SHARED_FIELDS:
            part = task.get(field)
            if part is None:
                continue
            versions = self._kept.get((service_id, field))
            if versions is None:
                versions = self._kept[(service_id, field)] = {}
            kept = versions.get(version)
            if kept is part:
                continue
            if kept is not None and kept == part:
                task[field] = kept
                continue
            versions.pop(version, None)
            versions[version] = part
            if len(versions) > VERSIONS_KEPT:
                del versions[next(iter(versions))]  # the version kept longest
        _intern(task, INTERNED_FIELDS)
        status = task.get("Status")
        if isinstance(status, dict):
            _intern(status, INTERNED_STATUS_FIELDS)

    def forget_service(self, service_id: str) -> None:
        """Drop the parts kept for ``service_id`` (deleted): tasks still holding them keep them."""
        for field in SHARED_FIELDS:
            self._kept.pop((service_id, field), None)

    def clear(self) -> None:
        """Drop every part kept (before a snapshot replaces the view)."""
        self._kept.clear()


def _version_of(spec_version) -> object:
    return spec_version.get("Index") if isinstance(spec_version, dict) else None


def _intern(obj: dict, fields: tuple[str, ...]) -> None:
    for field in fields:
        value = obj.get(field)
        if type(value) is str:
            obj[field] = sys.intern(value)

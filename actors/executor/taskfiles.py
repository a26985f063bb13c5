"""A task's secret and config files: where each goes, owned by whom, with which mode. Pure.

A task whose ContainerSpec references secrets or configs gets their data
from its dispatcher (``task_data``) before its container is made. Each
reference becomes one :class:`TaskFile`: its data, the absolute path it
takes in the container (a secret's relative target is under
``/run/secrets/``, a config's under ``/``, as in Docker) and the numeric
owner and mode the spec gives (Docker's defaults: ``0``, ``0``, ``0444``).
The engine adapter writes the files into a per-task tmpfs on the host (or
keeps them in memory: simengine.py), and :func:`bind_mounts` says how each
is bind-mounted, read-only, at its target.
"""

from __future__ import annotations

import dataclasses
import posixpath

from actors.common.datarefs import KINDS, target_path
from transport import schema

DEFAULT_MODE = 0o444
PAGE = 4096


class FilesError(ValueError):
    """A reference that cannot become a file (a non-numeric owner, data the reply lacks); one line, no data."""


@dataclasses.dataclass(frozen=True)
class TaskFile:
    """One file of a task: ``name`` in the task's directory on the host, ``target`` in the container."""

    name: str
    target: str
    uid: int
    gid: int
    mode: int
    data: bytes = dataclasses.field(repr=False)


def wanted(task: dict) -> bool:
    """True when the task's spec references any secret or config (its container waits for their data)."""
    spec = schema.get_path(task, "Spec.ContainerSpec") or {}
    return bool(spec.get("Secrets") or spec.get("Configs"))


def _owner(value, what: str) -> int:
    """A numeric uid or gid from its spec string ("" means 0, as in Docker); FilesError otherwise."""
    text = str(value or "0")
    if not text.isdigit():
        raise FilesError(f"{what} {text[:64]!r} is not a number: secrets and configs are owned by numeric ids")
    return int(text)


def files(task: dict, reply: dict) -> tuple[TaskFile, ...]:
    """The task's files, one per reference in its spec (secrets first), from a ``task_data`` reply
    (``{"secrets": [{"ID", "Name", "Data"}], "configs": [...]}``). FilesError when a reference's owner
    is not numeric or the reply lacks its data."""
    spec = schema.get_path(task, "Spec.ContainerSpec") or {}
    made = []
    for kind in KINDS:
        data = {item["ID"]: item["Data"] for item in reply.get(kind.table) or []}
        for number, reference in enumerate(spec.get(kind.field) or []):
            object_id, file = reference.get(kind.id_key, ""), reference["File"]
            if object_id not in data:
                raise FilesError(f"the dispatcher sent no data for {kind.noun} {object_id}")
            made.append(TaskFile(f"{kind.noun}-{number}", target_path(file["Name"], kind.directory),
                                 _owner(file.get("UID"), "uid"), _owner(file.get("GID"), "gid"),
                                 DEFAULT_MODE if file.get("Mode") is None else file["Mode"], data[object_id]))
    return tuple(made)


def bind_mounts(task_files: tuple[TaskFile, ...], directory: str) -> list[dict]:
    """The engine mounts (the spec's Mount shape) that put each file, read-only, at its target, from
    ``directory``, the task's directory on the host."""
    return [{"Type": "bind", "Source": posixpath.join(directory, file.name), "Target": file.target,
             "ReadOnly": True} for file in task_files]


def tmpfs_bytes(task_files: tuple[TaskFile, ...]) -> int:
    """The size a tmpfs holding ``task_files`` needs: each file's data rounded up to whole pages, plus a
    page for the directory."""
    return PAGE * (1 + sum(-(-len(file.data) // PAGE) or 1 for file in task_files))


def tasks_directory(root: str, node_id: str) -> str:
    """Where node ``node_id``'s task directories are on the host: ``ROOT/<node id>/tasks``."""
    return posixpath.join(root, node_id, "tasks")


def task_directory(root: str, node_id: str, task_id: str) -> str:
    """A task's directory on the host: ``ROOT/<node id>/tasks/<task id>``."""
    return posixpath.join(tasks_directory(root, node_id), task_id)

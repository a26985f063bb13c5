"""Secrets and configs as a ContainerSpec references them: the two kinds, with Docker's field names, and
where a reference's file lands in a container.

One definition for the control API (resolving and checking references), the
dispatcher (what ``task_data`` sends) and the executor (the files it makes).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from transport import model

SECRETS_DIR = "/run/secrets"  # where a secret with a relative target goes in the container
CONFIGS_DIR = "/"  # and a config


@dataclass(frozen=True)
class Kind:
    """Secrets or configs: their ``noun``, store ``table`` (also their field in a ``task_data`` reply), and
    ``field`` of a ContainerSpec, whose entries name the object by ``<Prefix>ID`` and ``<Prefix>Name``."""
    noun: str
    table: str
    field: str
    prefix: str
    directory: str  # where a relative target lands in the container

    @property
    def id_key(self) -> str:
        return self.prefix + "ID"

    @property
    def name_key(self) -> str:
        return self.prefix + "Name"


SECRET = Kind("secret", "secrets", "Secrets", "Secret", SECRETS_DIR)
CONFIG = Kind("config", "configs", "Configs", "Config", CONFIGS_DIR)
KINDS = (SECRET, CONFIG)


def target_path(target: str, directory: str) -> str:
    """The absolute path in the container of a file whose spec target is ``target`` (relative ones go under
    ``directory``), normalised."""
    return posixpath.normpath(posixpath.join(directory, target))


def target_refusal(container: dict) -> str | None:
    """Why the secrets and configs of ``container`` (a ContainerSpec whose references each have ``File.Name``
    and ``<Prefix>Name``) cannot be mounted together: a target with '..', or two files at one path (in
    swarmkit's words for two of a kind; a secret and a config at one path, which the engine would refuse
    at each task's start, likewise); None when they can."""
    by_path: dict[str, tuple[Kind, str]] = {}
    for kind in KINDS:
        for entry in container.get(kind.field) or []:
            target, name = entry["File"]["Name"], entry[kind.name_key]
            if ".." in target.split("/"):
                return f"invalid {kind.noun} target {model.shown(target)}: it must not contain '..'"
            path = target_path(target, kind.directory)
            if path in by_path:
                other, other_name = by_path[path]
                first = f"{kind.noun} references '{other_name}'" if other is kind else f"{other.noun} '{other_name}'"
                second = f"'{name}'" if other is kind else f"{kind.noun} '{name}'"
                return f"{first} and {second} have a conflicting target: '{target}'"
            by_path[path] = (kind, name)
    return None

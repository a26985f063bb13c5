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


def target_refusal(kind: Kind, references: list[dict]) -> str | None:
    """Why the ``kind`` references of one ContainerSpec (each with ``File.Name`` and ``<Prefix>Name``) cannot
    be mounted together, in swarmkit's words: a target with '..', or two at one path; None when they can."""
    by_path: dict[str, str] = {}
    for entry in references:
        target = entry["File"]["Name"]
        if ".." in target.split("/"):
            return f"invalid {kind.noun} target {model.shown(target)}: it must not contain '..'"
        path = target_path(target, kind.directory)
        if path in by_path:
            return (f"{kind.noun} references '{by_path[path]}' and '{entry[kind.name_key]}' have a conflicting "
                    f"target: '{target}'")
        by_path[path] = entry[kind.name_key]
    return None

"""The objects a service's spec refers to, which the store keeps in existence.

A service's ``Spec`` names secrets, configs and networks by ID. The control API checks that they
exist before it writes the spec, and refuses to remove one in use; but it decides from its view, so
a removal and a service write racing on two managers could both pass its checks. The store settles
it in the one order of the log: a service write whose spec names a missing object is rejected, and
so is the removal of an object some service's spec names. (``PreviousSpec`` is not held to this: a
rollback to it is checked when asked for.)
"""

from __future__ import annotations

from typing import Iterator

from transport import schema

# (table of the referred objects, list path in a service's Spec, field of an item naming the object)
REFERENCES = (
    ("secrets", "TaskTemplate.ContainerSpec.Secrets", "SecretID"),
    ("configs", "TaskTemplate.ContainerSpec.Configs", "ConfigID"),
    ("networks", "TaskTemplate.Networks", "Target"),
)
REFERRED_TABLES = frozenset(table for table, _, _ in REFERENCES)


def referred(spec: dict) -> Iterator[tuple[str, str]]:
    """The ``(table, object id)`` of each object ``spec`` (a service's Spec) names."""
    for table, path, field in REFERENCES:
        for item in schema.get_path(spec, path) or ():
            if isinstance(item, dict) and item.get(field):
                yield table, item[field]


def refers_to(spec: dict, table: str, object_id: str) -> bool:
    """Whether ``spec`` (a service's Spec) names object ``object_id`` of ``table``."""
    return (table, object_id) in set(referred(spec))


def touches_spec(paths) -> bool:
    """Whether a patch setting ``paths`` (dotted) may change what the object's Spec refers to."""
    return any(path == "Spec" or path.startswith("Spec.") for path in paths)

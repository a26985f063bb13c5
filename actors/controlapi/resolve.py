"""Finding an object from what a user typed: exact id, exact name, then unique id prefix."""

from __future__ import annotations

from transport.rpc import RpcError
from transport.schema import get_path

NOUNS = {"services": "service", "nodes": "node", "tasks": "task", "networks": "network", "secrets": "secret",
         "configs": "config"}
NAME_FIELDS = {"services": "Spec.Name", "nodes": "Description.Hostname", "networks": "Spec.Name",
               "secrets": "Spec.Name", "configs": "Spec.Name"}


def resolve(objects: dict[str, dict], table: str, ref: str) -> dict:
    """The object of ``table`` that ``ref`` names; RpcError ``not_found`` or ``ambiguous``."""
    noun = NOUNS.get(table, table)
    if not isinstance(ref, str) or not ref:
        raise RpcError("not_found", f"no such {noun}: {ref!r}")
    if ref in objects:
        return objects[ref]
    name_field = NAME_FIELDS.get(table)
    by_name = [obj for obj in objects.values() if name_field and get_path(obj, name_field) == ref]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise RpcError("ambiguous", f"{noun} name {ref} is ambiguous ({len(by_name)} matches): use an ID")
    by_prefix = [obj for object_id, obj in objects.items() if object_id.startswith(ref)]
    if len(by_prefix) == 1:
        return by_prefix[0]
    if len(by_prefix) > 1:
        raise RpcError("ambiguous", f"{noun} ID prefix {ref} is ambiguous ({len(by_prefix)} matches)")
    raise RpcError("not_found", f"no such {noun}: {ref}")

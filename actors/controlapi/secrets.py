"""The control API's secrets and configs, as pure functions: checking what ``secret create`` and
``config create`` ask, what reads show, who uses one, the references of a service spec, and the ops of
``secret rotate``. Tables in, an object, an answer or ops out; sealing is given the data key.

A secret's data is sealed with the cluster's data key (actors/common/sealing.py), its ID as associated
data, and never leaves the store otherwise: reads show ``ID, Version, CreatedAt, UpdatedAt, Spec`` as
Docker does. No message here quotes data, a secret's or a config's.
"""

from __future__ import annotations

import copy

from actors.common import filters
from actors.common import jobs, sealing
from actors.controlapi.specs import invalid
from actors.controlapi.updates import restart_spec, update_changes
from actors.common.datarefs import CONFIG, KINDS, SECRET, Kind, target_refusal
from transport import limits, model, schema
from transport.pages import encoded_size
from transport.rpc import RpcError

DEFAULT_FILE = {"UID": "0", "GID": "0", "Mode": 0o444}
SHOWN_FIELDS = ("ID", "Version", "CreatedAt", "UpdatedAt", "Spec")
# ``secret ls`` and ``config ls`` filters, as Docker's daemon takes them: id and name by prefix, label.
LS_FILTERS = {"id": filters.prefix("ID"), "name": filters.prefix("Spec.Name"), "label": filters.label("Spec.Labels")}



def checked_data(kind: Kind, data) -> bytes:
    """``data`` when it is 1 byte to less than SECRET_BYTES (Swarm's limit); RpcError ``invalid`` otherwise
    (saying how large, never what)."""
    if not isinstance(data, bytes):
        raise invalid(f"{kind.noun} data must be bytes")
    if not 0 < len(data) < limits.SECRET_BYTES:
        raise invalid(f"{kind.noun} data must be larger than 0 and less than {limits.SECRET_BYTES} bytes "
                      f"(it has {len(data)})")
    return data


def checked_spec(kind: Kind, spec) -> dict:
    """The ``{"Name", "Labels"}`` spec of a new secret or config, with empty labels filled in; RpcError
    ``invalid`` naming the problem."""
    if not isinstance(spec, dict):
        raise invalid(f"a {kind.noun} spec must be a map")
    try:
        model.name(spec.get("Name"), "Name")
    except model.Invalid:
        raise invalid(f"invalid {kind.noun} name {model.shown(spec.get('Name'))}: use letters, digits, '_', '.', '-', "
                      f"starting with a letter or digit (at most {limits.NAME_CHARS})") from None
    if kind is CONFIG and "Templating" in spec:
        raise invalid("config templating is not supported: a config's data is delivered as it is")
    spec = {"Labels": {}, **spec}
    try:
        model.secret_spec(spec, "spec")
    except model.Invalid as exc:
        raise invalid(f"invalid {exc}") from None
    return spec


def sealed(secret_id: str, data: bytes, key_id: str, key: bytes) -> dict:
    """The ``Sealed`` field of the secret ``secret_id`` holding ``data``: sealed with the data ``key`` (named
    ``key_id``), the secret's ID (UTF-8) as associated data, so it opens on no other secret."""
    return sealing.seal(key, key_id, secret_id.encode(), data)


def new_object(kind: Kind, object_id: str, spec: dict, data: bytes, key_id: str, key: bytes) -> dict:
    """The store object for a new secret (data sealed with ``key``, named ``key_id``) or config (data in
    its spec) whose checked ``spec`` and ``data`` are given."""
    if kind is CONFIG:
        return {"ID": object_id, "Spec": {**spec, "Data": data}}
    return {"ID": object_id, "Spec": spec, "Sealed": sealed(object_id, data, key_id, key)}


def name_taken(kind: Kind, objects: dict[str, dict], name: str) -> None:
    """RpcError ``name_conflict`` when one of ``objects`` is named ``name`` (Docker's words)."""
    if any(obj["Spec"]["Name"] == name for obj in objects.values()):
        raise RpcError("name_conflict", f"{kind.noun} {name} already exists")


def shown(obj: dict) -> dict:
    """What reads show of a secret or config: Docker's fields, never ``Sealed``."""
    return {key: copy.deepcopy(obj[key]) for key in SHOWN_FIELDS if key in obj}


def listed(objects: dict[str, dict], wanted) -> list[dict]:
    """The objects the ``wanted`` filters (``{"name": [prefixes], "id": [...], "label": [KEY or KEY=VALUE]}``)
    keep, shown and by name; RpcError ``invalid`` for another filter."""
    wanted = wanted or {}
    if not isinstance(wanted, dict) or any(not isinstance(values, list) or not all(isinstance(v, str) for v in values)
                                           for values in wanted.values()):
        raise invalid("filters must map a filter's name to a list of strings")
    unknown = sorted(str(key)[:64] for key in wanted if key not in LS_FILTERS)
    if unknown:
        raise invalid(f"invalid filter '{unknown[0]}': use {', '.join(LS_FILTERS)}")
    kept = filters.keep(list(objects.values()), wanted, LS_FILTERS)
    return [shown(obj) for obj in sorted(kept, key=lambda obj: (obj["Spec"]["Name"], obj["ID"]))]


def references(kind: Kind, spec: dict | None) -> list[dict]:
    """The ``kind`` references of a service ``spec`` (its ContainerSpec's Secrets or Configs)."""
    return schema.get_path(spec or {}, f"TaskTemplate.ContainerSpec.{kind.field}") or []


def users(kind: Kind, object_id: str, services: dict[str, dict]) -> list[dict]:
    """The services whose spec references the secret or config ``object_id``, by name."""
    return sorted((service for service in services.values()
                   if any(ref.get(kind.id_key) == object_id for ref in references(kind, service.get("Spec")))),
                  key=lambda service: service["Spec"]["Name"])


def removal_refusal(kind: Kind, obj: dict, services: dict[str, dict]) -> str | None:
    """Why ``obj`` cannot be removed now (a service references it, in Docker's words), or None."""
    names = [service["Spec"]["Name"] for service in users(kind, obj["ID"], services)]
    if not names:
        return None
    return (f"{kind.noun} '{obj['Spec']['Name']}' is in use by the following service{'s' if len(names) > 1 else ''}: "
            f"{', '.join(names)}")


def resolved_references(spec: dict, tables: dict[str, dict[str, dict]]) -> dict:
    """A copy of the (model-valid) service ``spec`` whose secret and config references each name an
    existing object by ID and by its name (a reference may give either; ``tables`` maps ``secrets`` and
    ``configs`` to their objects), with Docker's file defaults (uid and gid 0, mode 0444). RpcError
    ``not_found`` for an unknown one (``secret not found: NAME``), ``invalid`` for a target with ``..``
    or two references (of either kind) at one path."""
    spec = copy.deepcopy(spec)
    for kind in KINDS:
        for entry in references(kind, spec):
            obj = _referenced(kind, entry, tables[kind.table])
            entry[kind.id_key], entry[kind.name_key] = obj["ID"], obj["Spec"]["Name"]
            entry["File"] = {**DEFAULT_FILE, **entry["File"]}
    refusal = target_refusal(schema.get_path(spec, "TaskTemplate.ContainerSpec") or {})
    if refusal:
        raise invalid(refusal)
    return spec


def _referenced(kind: Kind, entry: dict, objects: dict[str, dict]) -> dict:
    """The object a reference names: by its ID when it has one, else by its name (a missing one is
    named by its name when the reference has it)."""
    if entry.get(kind.id_key):
        found = objects.get(entry[kind.id_key])
        ref = entry.get(kind.name_key) or entry[kind.id_key]
    elif entry.get(kind.name_key):
        ref = entry[kind.name_key]
        found = next((obj for obj in objects.values() if obj["Spec"]["Name"] == ref), None)
    else:
        raise invalid(f"a {kind.noun} reference needs {kind.id_key} or {kind.name_key}")
    if found is None:
        raise RpcError("not_found", f"{kind.noun} not found: {ref}")
    return found


def rotation_ops(secret: dict, sealed: dict, services: dict[str, dict]) -> tuple[list[dict], list[str]]:
    """``secret rotate``'s one proposal, version-checked: the secret's ``Sealed`` replaced by ``sealed``, and
    every service (not a job: its next run reads the new value) whose spec references the secret given
    ForceUpdate + 1, so it rolls within its own UpdateConfig. Returns the ops and the names of the services
    rolled; RpcError ``refused`` when they would not fit one proposal."""
    ops = [{"op": "patch", "table": "secrets", "id": secret["ID"], "version": schema.version_of(secret),
            "set": {"Sealed": sealed}}]
    rolled = [service for service in users(SECRET, secret["ID"], services) if not jobs.is_job(service)]
    ops += [{"op": "patch", "table": "services", "id": service["ID"], "version": schema.version_of(service),
             "set": update_changes(service, restart_spec(service))} for service in rolled]
    size = encoded_size(ops)
    if size > limits.PROPOSAL_BYTES or len(ops) > limits.BATCH_OPS:
        raise RpcError("refused", f"rotating secret {secret['Spec']['Name']} would rewrite {len(rolled)} services "
                                  f"({size} bytes) in one proposal, more than the store takes at once "
                                  f"({limits.BATCH_OPS} ops, {limits.PROPOSAL_BYTES} bytes)")
    return ops, [service["Spec"]["Name"] for service in rolled]

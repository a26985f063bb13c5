"""Docker's update of a secret or config (``POST /secrets/{id}/update``): only its labels change, as
swarmkit allows; a rename or other data is refused in swarmkit's words. The data given is compared with
the stored data in constant time and never quoted."""

from __future__ import annotations

import hmac

from actors.common import sealing
from actors.controlapi import secrets
from actors.controlapi.specs import checked, invalid
from actors.controlapi.updates import out_of_sequence
from transport import model, schema

ONLY_LABELS = "only updates to Labels are allowed"


def stored_data(kind: secrets.Kind, obj: dict, key: bytes) -> bytes:
    """The data of secret or config ``obj`` (a secret's unsealed with the data ``key``)."""
    if kind is secrets.CONFIG:
        return obj["Spec"]["Data"]
    return sealing.unseal(key, obj["ID"].encode(), obj["Sealed"])


def label_changes(kind: secrets.Kind, obj: dict, version, spec, data, key: bytes) -> dict:
    """The patch (path -> value) that an update of ``obj`` made from its ``version`` with ``spec``
    (``{"Name", "Labels"}``) and ``data`` (None: not given) asks; empty when the labels are as stored.
    RpcError ``out_of_sequence`` for another version, ``invalid`` ONLY_LABELS for a new name or data."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise invalid(f"a {kind.noun} update must carry the version of the {kind.noun} it was made from")
    if version != schema.version_of(obj):
        raise out_of_sequence()
    if not isinstance(spec, dict):
        raise invalid(f"a {kind.noun} spec must be a map")
    if spec.get("Name") != obj["Spec"]["Name"]:
        raise invalid(ONLY_LABELS)
    if data is not None and not (isinstance(data, bytes) and hmac.compare_digest(data, stored_data(kind, obj, key))):
        raise invalid(ONLY_LABELS)
    labels = checked(model.labels, spec.get("Labels") or {}, "Labels")
    return {} if labels == obj["Spec"].get("Labels", {}) else {"Spec.Labels": labels}

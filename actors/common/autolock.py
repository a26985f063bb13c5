"""Autolock as decisions: the unlock key's form, where the cluster keeps it, and what changes when.

The unlock key is 32 random bytes shown as Docker shows it, ``SWMKEY-1-`` and the bytes in unpadded
base64. Under autolock a manager's data key file is wrapped only by a key derived from it
(:func:`wrapping_key`), so the manager cannot read its data key after a restart until the operator
gives the unlock key (``shoal swarm unlock``). The cluster object keeps:

- ``Spec.EncryptionConfig.AutoLockManagers``: whether autolock is on (Docker's field);
- ``Shoal.UnlockKey``: the unlock key sealed with the cluster's data key (bound to the cluster's
  ID), absent or None when autolock is off. It reaches other managers only this way, inside the
  store, so each re-wraps its own data key file when the key changes (actors/controlapi/keywrap.py).

Nothing here does IO; the data key is passed in.
"""

from __future__ import annotations

import base64
import binascii

from actors.common import datakey, sealing
from transport import schema

PREFIX = "SWMKEY-1-"
ENABLED_PATH = "Spec.EncryptionConfig.AutoLockManagers"
SEALED_FIELD = "UnlockKey"
SEALED_PATH = "Shoal." + SEALED_FIELD
INVALID_KEY = "invalid key"
NO_KEY = "no unlock key is set"
NOT_ON = "cannot rotate because autolock is not turned on"
_WRAP_PURPOSE = "shoal: the unlock key wraps a manager's data key"


class InvalidKey(ValueError):
    """Text that is not an unlock key, or a key that does not open this manager (one line; quotes nothing)."""

    def __init__(self):
        super().__init__(INVALID_KEY)


def new_key() -> bytes:
    """A fresh unlock key."""
    return sealing.new_key()


def show(key: bytes) -> str:
    """The unlock key as the operator sees and types it: ``SWMKEY-1-...``."""
    return PREFIX + base64.b64encode(key).decode().rstrip("=")


def parse(text: str) -> bytes:
    """The key of :func:`show`'s form (surrounding blanks ignored); InvalidKey when it is not one."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise InvalidKey()
    body = text[len(PREFIX):]
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey() from None
    if len(key) != sealing.KEY_BYTES:
        raise InvalidKey()
    return key


def wrapping_key(unlock_key: bytes) -> bytes:
    """The key-encryption key that wraps a manager's data key under autolock."""
    return sealing.derive_key(unlock_key, _WRAP_PURPOSE)


def _associated(cluster_id: str) -> bytes:
    return f"shoal unlock key {cluster_id}".encode()


def enabled(cluster: dict) -> bool:
    """True when the cluster keeps an unlock key (autolock is on)."""
    return bool(schema.get_path(cluster, SEALED_PATH))


def stored_key(cluster: dict, data_key: datakey.DataKey) -> bytes | None:
    """The cluster's unlock key, unsealed with ``data_key``; None when autolock is off. SealError when the
    sealed key does not open (another cluster's data key, tampering)."""
    sealed = schema.get_path(cluster, SEALED_PATH)
    return data_key.unseal(_associated(cluster["ID"]), sealed) if sealed else None


def seal_key(cluster_id: str, data_key: datakey.DataKey, key: bytes) -> dict:
    """Unlock key ``key`` sealed with ``data_key`` for cluster ``cluster_id`` (its ``Shoal.UnlockKey``)."""
    return data_key.seal(_associated(cluster_id), key)


def _keep(cluster: dict, data_key: datakey.DataKey, key: bytes) -> dict:
    return {ENABLED_PATH: True, SEALED_PATH: seal_key(cluster["ID"], data_key, key)}


def changes(cluster: dict, wanted: bool | None, data_key: datakey.DataKey) -> dict:
    """The patch ``swarm update --autolock=wanted`` asks of ``cluster``: on from off, a new key sealed with
    ``data_key``; off from on, the key dropped; nothing when it already is as wanted (an autolocked
    cluster keeps its key, as Docker's does) or ``wanted`` is None."""
    if wanted is None or wanted == enabled(cluster):
        return {}
    return _keep(cluster, data_key, new_key()) if wanted else {ENABLED_PATH: False, SEALED_PATH: None}


def rotation(cluster: dict, data_key: datakey.DataKey) -> dict:
    """The patch that gives an autolocked ``cluster`` a new unlock key; ValueError(NO_KEY) when autolock is
    off (there is no key to rotate)."""
    if not enabled(cluster):
        raise ValueError(NO_KEY)
    return _keep(cluster, data_key, new_key())


def shown(cluster: dict) -> dict:
    """``cluster`` as reads show it: without the sealed unlock key (no read returns a sealed value)."""
    shoal = cluster.get("Shoal")
    if not shoal or SEALED_FIELD not in shoal:
        return cluster
    return {**cluster, "Shoal": {name: value for name, value in shoal.items() if name != SEALED_FIELD}}


def wrapping_wanted(cluster: dict) -> str:
    """How every manager's data key file must be wrapped now: by the unlock key under autolock, else by
    the manager's own key-encryption key."""
    return datakey.BY_UNLOCK_KEY if enabled(cluster) else datakey.BY_KEK

"""Each manager keeps its data key file wrapped as the cluster's autolock setting says.

When autolock is turned on, its unlock key rotated, or autolock turned off, the cluster object changes;
every manager's controlapi sees that in its view and re-wraps its own ``keys/data.key``: by a key
derived from the current unlock key (which it unseals from the store with the data key; the unlock key
travels between managers only that way), or, autolock off, by a fresh key-encryption key of its own.
"""

from __future__ import annotations

import pathlib

from actors.common import autolock, datakey, sealing


def rewrap(state_dir: pathlib.Path, cluster: dict, data_key: datakey.DataKey) -> str | None:
    """Bring this manager's data key file in line with ``cluster``; returns how it was re-wrapped
    (datakey.BY_KEK or BY_UNLOCK_KEY), None when it already was. SealError when the cluster's sealed
    unlock key does not open with ``data_key``."""
    cluster_id = cluster["ID"]
    if autolock.wrapping_wanted(cluster) == datakey.BY_KEK:
        if datakey.wrapped_by(state_dir) == datakey.BY_KEK:
            return None
        datakey.store_with_kek(state_dir, cluster_id, data_key)
        return datakey.BY_KEK
    kek = autolock.wrapping_key(autolock.stored_key(cluster, data_key))
    if datakey.wrapped_by(state_dir) == datakey.BY_UNLOCK_KEY:
        try:
            if datakey.unwrap(state_dir, cluster_id, kek) == data_key:
                return None
        except sealing.SealError:
            pass  # wrapped by the key before a rotation
    datakey.wrap_with_unlock_key(state_dir, cluster_id, data_key, kek)
    return datakey.BY_UNLOCK_KEY


async def keep_wrapped(view, state_dir: pathlib.Path, data_key: datakey.DataKey, log) -> None:
    """Re-wrap this manager's data key file (:func:`rewrap`) whenever ``view``'s cluster object changes,
    until cancelled."""
    changed = view.watch(frozenset({"cluster"}))
    while True:
        cluster = view.cluster
        if cluster is not None:
            try:
                how = rewrap(state_dir, cluster, data_key)
            except (sealing.SealError, datakey.DataKeyError) as exc:
                log.error("cannot re-wrap the data key", error=str(exc))
            else:
                if how is not None:
                    log.info("data key re-wrapped", wrapped_by=how)
        await changed.wait(None)
        changed.take()

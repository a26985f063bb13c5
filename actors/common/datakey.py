"""The cluster's data key on a manager: made at ``swarm init``, kept on disk wrapped, given to the actors.

One data key per cluster seals what the store must not hold in clear (secret values, the autolock
unlock key): every manager holds the same key, so each unseals what any other sealed; workers never
get it. On a manager's disk it lives only wrapped (:mod:`actors.common.sealing`), in
``keys/data.key``, by one of two key-encryption keys:

- ``kek``: a random key in ``keys/kek.key`` beside it (each manager its own) — a copy of the disk
  gives the data key;
- ``unlock``: a key derived from the cluster's unlock key (autolock), which is on no disk: the
  manager is locked after a restart until ``shoal swarm unlock`` gives it.

shoald reads (or, unlocked, is given) the data key and hands it to the actors that need it through an
inherited pipe, so under autolock it never touches the disk in clear.

Both files are written with mode 0600, fsynced, and replaced atomically. The wrapped key is bound to
the cluster's ID and the data key's ID (associated data), so a file copied from another cluster
does not open.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import secrets

from actors.common import sealing
from actors.common.hostconfig import LOCKED_MESSAGE
from transport import codec, keys

DATA_KEY_FILE = ("keys", "data.key")
KEK_FILE = ("keys", "kek.key")
BY_KEK, BY_UNLOCK_KEY = "kek", "unlock"
# The actors that hold the data key (the controlapi seals, the dispatcher unseals); shoald hands it to them.
DATA_KEY_ACTORS = frozenset({"controlapi", "dispatcher"})
HANDOFF_ENV = "SHOAL_DATA_KEY_FD"


class DataKeyError(Exception):
    """The data key cannot be had here (one line; never quotes key material)."""


class Locked(DataKeyError):
    """The data key is wrapped by the unlock key (autolock) and was not unlocked."""

    def __init__(self):
        super().__init__(LOCKED_MESSAGE)


@dataclasses.dataclass(frozen=True)
class DataKey:
    """The cluster's data key: ``key`` (32 bytes) named ``key_id`` (the ``KeyID`` of what it seals)."""

    key_id: str
    key: bytes = dataclasses.field(repr=False)

    def seal(self, associated: bytes, plaintext: bytes) -> dict:
        """``plaintext`` sealed with this key (sealing.seal)."""
        return sealing.seal(self.key, self.key_id, associated, plaintext)

    def unseal(self, associated: bytes, sealed: dict) -> bytes:
        """The plaintext of ``sealed`` (sealing.unseal): SealError on a wrong key or tampering."""
        return sealing.unseal(self.key, associated, sealed)


def new() -> DataKey:
    """A fresh data key (at ``swarm init``)."""
    return DataKey(secrets.token_hex(8), sealing.new_key())


def to_wire(data_key: DataKey) -> dict:
    """The data key as a message field (sent only over CURVE, only to managers)."""
    return {"KeyID": data_key.key_id, "Key": data_key.key}


def from_wire(field) -> DataKey:
    """A :func:`to_wire` field back as a DataKey; DataKeyError when malformed."""
    if not isinstance(field, dict) or not isinstance(field.get("KeyID"), str) \
            or not isinstance(field.get("Key"), bytes) or len(field["Key"]) != sealing.KEY_BYTES:
        raise DataKeyError("the data key sent is malformed")
    return DataKey(field["KeyID"], field["Key"])


def _associated(cluster_id: str, key_id: str) -> bytes:
    return f"shoal data key {cluster_id} {key_id}".encode()


def wrap(state_dir: pathlib.Path, cluster_id: str, data_key: DataKey, wrapped_by: str, kek: bytes) -> None:
    """Write ``keys/data.key``: ``data_key`` wrapped by ``kek`` (``wrapped_by``: BY_KEK, the key in
    keys/kek.key, or BY_UNLOCK_KEY, one derived from the unlock key)."""
    sealed = sealing.seal(kek, wrapped_by, _associated(cluster_id, data_key.key_id), data_key.key)
    keys.write_private(state_dir.joinpath(*DATA_KEY_FILE),
                  codec.encode({"KeyID": data_key.key_id, "WrappedBy": wrapped_by, "Sealed": sealed}))


def store_with_kek(state_dir: pathlib.Path, cluster_id: str, data_key: DataKey) -> None:
    """Keep ``data_key`` on this manager wrapped by a fresh key-encryption key of its own (keys/kek.key,
    written first, so the data key file never names a key that is not on disk)."""
    kek = sealing.new_key()
    keys.write_private(state_dir.joinpath(*KEK_FILE), kek)
    wrap(state_dir, cluster_id, data_key, BY_KEK, kek)


def _read(state_dir: pathlib.Path) -> dict:
    try:
        record = codec.decode(state_dir.joinpath(*DATA_KEY_FILE).read_bytes())
    except FileNotFoundError:
        raise DataKeyError(f"this manager has no data key ({state_dir.joinpath(*DATA_KEY_FILE)} is missing)") from None
    except codec.CodecError:
        raise DataKeyError(f"{state_dir.joinpath(*DATA_KEY_FILE)} is damaged") from None
    if not isinstance(record, dict) or record.get("WrappedBy") not in (BY_KEK, BY_UNLOCK_KEY) \
            or not isinstance(record.get("KeyID"), str):
        raise DataKeyError(f"{state_dir.joinpath(*DATA_KEY_FILE)} is damaged")
    return record


def wrapped_by(state_dir: pathlib.Path) -> str | None:
    """How this host's data key file is wrapped (BY_KEK or BY_UNLOCK_KEY), or None when it has none."""
    try:
        return _read(state_dir)["WrappedBy"]
    except DataKeyError:
        return None


def unwrap(state_dir: pathlib.Path, cluster_id: str, kek: bytes) -> DataKey:
    """The data key of ``keys/data.key`` unwrapped with ``kek``; sealing.SealError when ``kek`` is not
    the key that wrapped it (or the file was altered), DataKeyError when there is no readable file."""
    record = _read(state_dir)
    key = sealing.unseal(kek, _associated(cluster_id, record["KeyID"]), record["Sealed"])
    return DataKey(record["KeyID"], key)


def load(state_dir: pathlib.Path, cluster_id: str) -> DataKey:
    """The data key from this manager's disk: Locked when it is wrapped by the unlock key, DataKeyError
    when it is missing or does not open."""
    record = _read(state_dir)
    if record["WrappedBy"] == BY_UNLOCK_KEY:
        raise Locked()
    try:
        return unwrap(state_dir, cluster_id, state_dir.joinpath(*KEK_FILE).read_bytes())
    except (FileNotFoundError, sealing.SealError):
        raise DataKeyError(f"the data key does not open with {state_dir.joinpath(*KEK_FILE)}") from None


def forget(state_dir: pathlib.Path) -> None:
    """Remove this host's data key and key-encryption key files (a manager demoted to worker)."""
    for parts in (DATA_KEY_FILE, KEK_FILE):
        state_dir.joinpath(*parts).unlink(missing_ok=True)


def wrap_with_unlock_key(state_dir: pathlib.Path, cluster_id: str, data_key: DataKey, kek: bytes) -> None:
    """Wrap the data key by ``kek``, derived from the unlock key, and remove keys/kek.key (after: a crash
    in between leaves a file that still opens)."""
    wrap(state_dir, cluster_id, data_key, BY_UNLOCK_KEY, kek)
    state_dir.joinpath(*KEK_FILE).unlink(missing_ok=True)


def handoff(data_key: DataKey) -> int:
    """A pipe holding ``data_key`` for a child process (shoald to an actor; never on disk): returns the
    read end, to pass with ``pass_fds`` and name in the child's ``HANDOFF_ENV``; the caller closes it
    once the child has started."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, codec.encode(to_wire(data_key)))  # ~80 bytes: far below a pipe's buffer
    finally:
        os.close(write_end)
    return read_end


_handed: DataKey | None = None


def _take_handoff(fd: int) -> DataKey:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    try:
        return from_wire(codec.decode(b"".join(chunks)))
    except codec.CodecError:
        raise DataKeyError("the data key handed over is malformed") from None


def for_actor(config) -> DataKey:
    """The cluster's data key as an actor of the manager ``config`` (a HostConfig) gets it: from shoald
    through an inherited pipe (:func:`handoff`, read once per process), else from its disk (wrapped by
    the key-encryption key there). Raises Locked when the manager is autolocked and shoald did not hand
    it over, DataKeyError when it has no data key."""
    global _handed
    fd = os.environ.pop(HANDOFF_ENV, None)
    if fd is not None:
        _handed = _take_handoff(int(fd))
    if _handed is not None:
        return _handed
    return load(config.state_dir, config.cluster_id)

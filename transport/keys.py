"""CURVE key pairs on disk: ``NAME.key`` (secret, mode 0600) and ``NAME.pub``."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import zmq
from zmq.utils import z85


@dataclasses.dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair, both halves z85-encoded (40 ASCII characters)."""

    public: bytes
    secret: bytes

    @property
    def public_text(self) -> str:
        """The public key as str, as stored in the cluster's objects."""
        return self.public.decode("ascii")


def generate() -> KeyPair:
    """A fresh CURVE key pair."""
    public, secret = zmq.curve_keypair()
    return KeyPair(public=public, secret=secret)


def write_private(path: pathlib.Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a temporary file (0600) written and fsynced, renamed over it, the
    directory fsynced, so a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save(directory: pathlib.Path, name: str, pair: KeyPair) -> None:
    """Write ``name.key`` (secret, 0600) and ``name.pub`` under ``directory`` (:func:`write_private`)."""
    write_private(directory / (name + ".key"), pair.public + b"\n" + pair.secret + b"\n")
    write_private(directory / (name + ".pub"), pair.public + b"\n")


def load(directory: pathlib.Path, name: str) -> KeyPair:
    """Read the key pair ``name`` from ``directory``; FileNotFoundError if absent, ValueError if damaged."""
    lines = (directory / (name + ".key")).read_bytes().split()
    if len(lines) != 2 or any(len(line) != 40 for line in lines):
        raise ValueError(f"key file {directory / (name + '.key')} is damaged")
    return KeyPair(public=lines[0], secret=lines[1])


def public_from_hex(text: str) -> bytes:
    """z85 public key from the hex form used inside join tokens."""
    return z85.encode(bytes.fromhex(text))


def public_to_hex(public: bytes) -> str:
    """Hex form of a z85 public key (shell-safe, for join tokens)."""
    return z85.decode(public).hex()

"""Sealing: authenticated encryption of small values with a 256-bit key (AES-256-GCM), pure.

A sealed value is the dict ``{"KeyID", "Nonce", "Ciphertext"}`` that the store keeps (a secret's
``Sealed``, the cluster's sealed unlock key) and that a manager's data key file holds (the data key
wrapped by a key-encryption key). ``KeyID`` names the key that sealed it, so a reader knows which key
to try; ``associated`` data (an object's ID, a cluster's ID) is authenticated but not stored, so a
sealed value copied onto another object does not unseal there.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12  # GCM's 96-bit nonce, random per seal (at most a few million seals per key: far from 2**32)


class SealError(Exception):
    """A sealed value that does not open: a wrong key, the wrong associated data, or tampering. Its
    message is one line and never quotes the value."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key derived from high-entropy ``secret`` for ``purpose`` (HKDF-SHA256): two purposes
    give unrelated keys."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()).derive(secret)


def seal(key: bytes, key_id: str, associated: bytes, plaintext: bytes) -> dict:
    """``plaintext`` encrypted and authenticated under ``key`` (named ``key_id``) with ``associated`` data:
    ``{"KeyID": key_id, "Nonce": bytes, "Ciphertext": bytes}`` (the ciphertext ends with GCM's tag)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a sealing key has {KEY_BYTES} bytes")
    nonce = os.urandom(NONCE_BYTES)
    return {"KeyID": key_id, "Nonce": nonce, "Ciphertext": AESGCM(key).encrypt(nonce, plaintext, associated)}


def unseal(key: bytes, associated: bytes, sealed: dict) -> bytes:
    """The plaintext of ``sealed`` (as :func:`seal` made it) under ``key`` and ``associated``; SealError when
    it does not open (wrong key, wrong associated data, altered nonce or ciphertext, malformed dict)."""
    try:
        nonce, ciphertext = sealed["Nonce"], sealed["Ciphertext"]
        if len(key) != KEY_BYTES or not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES \
                or not isinstance(ciphertext, bytes):
            raise SealError("sealed value is malformed")
        return AESGCM(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag:
        raise SealError("sealed value does not open with this key (wrong key or altered data)") from None
    except (KeyError, TypeError):
        raise SealError("sealed value is malformed") from None

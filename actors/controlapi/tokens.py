"""Join tokens: ``SHTKN-1-<manager CURVE public key, hex>-<secret>``.

The key part lets a joining host pin the manager's key before it sends
anything; the secret part (different for workers and managers) proves it
was invited.
"""

from __future__ import annotations

import hmac
import secrets
import string

PREFIX = "SHTKN-1"
_ALPHABET = string.ascii_lowercase + string.digits


class BadToken(ValueError):
    """A token that is not of Shoal's form."""


def make(server_key_hex: str) -> str:
    """A fresh token for a manager whose public key (hex) is ``server_key_hex``."""
    return f"{PREFIX}-{server_key_hex}-{''.join(secrets.choice(_ALPHABET) for _ in range(25))}"


def parse(token: str) -> tuple[str, str]:
    """``(server key hex, secret)`` of ``token``; BadToken if it is malformed."""
    parts = token.strip().split("-")
    if len(parts) != 4 or "-".join(parts[:2]) != PREFIX or len(parts[2]) != 64 or len(parts[3]) != 25:
        raise BadToken("invalid join token: expected SHTKN-1-<key>-<secret>")
    try:
        bytes.fromhex(parts[2])
    except ValueError:
        raise BadToken("invalid join token: the key part is not hex") from None
    return parts[2], parts[3]


def role_of(token: str, tokens: dict) -> str | None:
    """``worker`` or ``manager`` when ``token`` equals the cluster's token of that role (constant-time), else None."""
    for role, key in (("worker", "Worker"), ("manager", "Manager")):
        expected = tokens.get(key, "")
        if expected and hmac.compare_digest(expected.encode(), token.strip().encode()):
            return role
    return None

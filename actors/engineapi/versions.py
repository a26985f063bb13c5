"""API versions, negotiated as dockerd does: a ``/vX.Y`` path prefix names the version a client speaks;
no prefix means the newest served."""

from __future__ import annotations

import re

API_VERSION = "1.41"  # the newest served: dockerd 20.10's, whose swarm shapes Shoal's objects follow
MIN_API_VERSION = "1.24"  # the oldest: the docker CLI's and docker-py's own minimum

_PREFIX = re.compile(r"^/v([0-9]+)\.([0-9]+)(/.*)$")


def parsed(version: str) -> tuple[int, ...]:
    """``"1.41"`` -> ``(1, 41)``."""
    return tuple(int(part) for part in version.split("."))


def split(path: str) -> tuple[str, str]:
    """``(version, rest)`` of a request path: ``/v1.40/info`` -> ``("1.40", "/info")``; a path with no
    version prefix is at API_VERSION."""
    match = _PREFIX.match(path)
    if match is None:
        return API_VERSION, path
    return f"{int(match.group(1))}.{int(match.group(2))}", match.group(3)


def refusal(version: str) -> str | None:
    """dockerd's message refusing a client at ``version``, or None when it is served."""
    if parsed(version) > parsed(API_VERSION):
        return f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
    if parsed(version) < parsed(MIN_API_VERSION):
        return (f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
                "please upgrade your client to a newer version")
    return None


def at_least(version: str, minimum: str) -> bool:
    """True when a request at ``version`` may use what API ``minimum`` brought."""
    return parsed(version) >= parsed(minimum)

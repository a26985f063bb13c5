"""A service's ``ports``: the short syntax (``8080:80``, ``80``, ``9000-9001:9000-9001/udp``) and the long
one (``{target, published, protocol, mode}``), as EndpointSpec ports."""

from __future__ import annotations

import re

from actors.stack.errors import Path
from actors.stack.values import Reader, choice, only_keys, text, whole

_SHORT = re.compile(r"(?:(?P<ip>[^:]*):)??(?:(?P<published>[0-9]+(?:-[0-9]+)?):)?(?P<target>[0-9]+(?:-[0-9]+)?)"
                    r"(?:/(?P<protocol>[a-z]+))?")
PROTOCOLS = ("tcp", "udp", "sctp")
MODES = ("ingress", "host")


def service_ports(value, path: Path, reader: Reader) -> list[dict]:
    """Every port of the list at ``path``, ranges expanded, as ``{Protocol, TargetPort, PublishedPort,
    PublishMode}``."""
    if not isinstance(value, list):
        raise reader.error(path, "must be a list")
    out = []
    for index, entry in enumerate(value):
        at = path + (index,)
        out += _long(entry, at, reader) if isinstance(entry, dict) else _short(entry, at, reader)
    return out


def _long(entry: dict, path: Path, reader: Reader) -> list[dict]:
    entry = only_keys(entry, path, reader, ("target", "published", "protocol", "mode", "host_ip", "name",
                                            "app_protocol"))
    if entry.get("host_ip"):
        raise reader.error(path + ("host_ip",), "not supported: Swarm publishes a port on every address of a node")
    if "app_protocol" in entry:
        raise reader.error(path + ("app_protocol",), "not supported: a Swarm port has no application protocol")
    if "target" not in entry:
        raise reader.error(path, "a port needs a target")
    target = whole(entry["target"], path + ("target",), reader, 65535)
    published = whole(entry.get("published", 0), path + ("published",), reader, 65535)
    port = {"Protocol": choice(entry.get("protocol", "tcp"), path + ("protocol",), reader, PROTOCOLS),
            "TargetPort": target, "PublishedPort": published,
            "PublishMode": choice(entry.get("mode", "ingress"), path + ("mode",), reader, MODES)}
    if entry.get("name"):
        port["Name"] = text(entry["name"], path + ("name",), reader)
    return [port]


def _short(entry, path: Path, reader: Reader) -> list[dict]:
    spec = text(entry, path, reader)
    match = _SHORT.fullmatch(spec)
    if not match:
        raise reader.error(path, f"invalid port {spec!r}: use TARGET, PUBLISHED:TARGET or a range, with /udp or /tcp")
    if match.group("ip"):
        raise reader.error(path, f"invalid port {spec!r}: a host address is not supported: Swarm publishes a "
                                 "port on every address of a node")
    protocol = choice(match.group("protocol") or "tcp", path, reader, PROTOCOLS)
    targets = _range(match.group("target"), path, reader)
    published = _range(match.group("published"), path, reader) if match.group("published") else [0] * len(targets)
    if len(published) != len(targets):
        raise reader.error(path, f"invalid port {spec!r}: the published and target ranges differ in length")
    return [{"Protocol": protocol, "TargetPort": target, "PublishedPort": outside, "PublishMode": "ingress"}
            for outside, target in zip(published, targets)]


def _range(text_: str, path: Path, reader: Reader) -> list[int]:
    low, _, high = text_.partition("-")
    first, last = int(low), int(high or low)
    if not 0 < first <= last <= 65535 or last - first >= 1000:
        raise reader.error(path, f"invalid port range {text_!r}")
    return list(range(first, last + 1))

"""One compose file's top level: ``version``, ``services``, ``networks``, ``volumes``, ``secrets``,
``configs`` (and ``x-*`` extension fields, dropped), checked and in canonical form."""

from __future__ import annotations

import posixpath

from actors.stack import services
from actors.stack.errors import Path
from actors.stack.values import Reader, boolean, mapping, only_keys, pairs, read_each, scalar_text, text
from transport import limits

TOP_LEVEL = ("version", "name", "services", "networks", "volumes", "secrets", "configs")
SECTIONS = ("services", "networks", "volumes", "secrets", "configs")


def document(data: dict, reader: Reader, base_dir: str, environ: dict, read, noted: dict) -> dict:
    """The canonical form of one file's (interpolated) ``data``: ``{section: {name: entry}}`` for each of
    SECTIONS; ``read(path) -> bytes`` reads env, secret and config files (relative to ``base_dir``)."""
    data = only_keys(data, (), reader, TOP_LEVEL)
    if "version" in data:
        version = scalar_text(data["version"], ("version",), reader)
        if not version.startswith("3"):
            raise reader.error(("version",), f"unsupported Compose file version: {version} (a stack needs "
                                             "version 3 or none)")
    if "name" in data:  # the project's name: a stack's is the one given on the command line
        noted["ignored"].add("name")
    out = {section: {} for section in SECTIONS}
    readers = {"networks": _network, "volumes": _volume,
               "secrets": lambda v, p, r: _object(v, p, r, base_dir, environ, read, "secret"),
               "configs": lambda v, p, r: _object(v, p, r, base_dir, environ, read, "config"),
               "services": lambda v, p, r: services.service(v, p, r, base_dir, environ,
                                                            lambda name: read(name).decode("utf-8"), noted)}
    for section in SECTIONS:
        entries = data.get(section) or {}
        for name, entry in mapping(entries, (section,), reader).items():
            if name.startswith("x-") and section != "services":
                continue
            out[section][name] = readers[section](entry, (section, name), reader)
    return out


def _external(value: dict, path: Path, reader: Reader, out: dict) -> None:
    """``external: true`` (or the old ``external: {name: N}``) into ``out``; nothing else may be set beside it."""
    external = value.get("external", False)
    if isinstance(external, dict):
        external = only_keys(external, path + ("external",), reader, ("name",))
        if "name" in external:
            out["name"] = text(external["name"], path + ("external", "name"), reader)
        external = True
    out["external"] = boolean(external, path + ("external",), reader)
    if "name" in value:
        out["name"] = text(value["name"], path + ("name",), reader)
    others = sorted(set(value) - {"external", "name"})
    if out["external"] and others:
        raise reader.error(path + (others[0],), "conflicts with external: an external object is used as it is")


def _network(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value or {}, path, reader, ("driver", "driver_opts", "attachable", "internal", "ipam",
                                                  "external", "name", "labels", "enable_ipv6"))
    out: dict = {"labels": {}}
    _external(value, path, reader, out)
    if "driver" in value and value["driver"] != "overlay":
        raise reader.error(path + ("driver",), f"network driver {value['driver']!r} is not supported: Shoal's "
                                                "networks are overlay")
    if value.get("driver_opts"):
        raise reader.error(path + ("driver_opts",), "not supported: Shoal's overlay takes no driver options")
    for key, why in (("attachable", "only service tasks get addresses on Shoal's networks"),
                     ("enable_ipv6", "Shoal's networks are IPv4")):
        if key in value and boolean(value[key], path + (key,), reader):
            raise reader.error(path + (key,), f"not supported: {why}")
    if "internal" in value:
        out["internal"] = boolean(value["internal"], path + ("internal",), reader)
    if "labels" in value:
        out["labels"] = _labels(value["labels"], path + ("labels",), reader)
    if "ipam" in value:
        out.update(_ipam(value["ipam"] or {}, path + ("ipam",), reader))
    return out


def _ipam(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value, path, reader, ("driver", "config", "options"))
    if value.get("driver", "default") != "default":
        raise reader.error(path + ("driver",), "not supported: use the default IPAM driver")
    if value.get("options"):
        raise reader.error(path + ("options",), "not supported: the default IPAM driver takes no options")
    configs = value.get("config") or []
    if not isinstance(configs, list) or len(configs) > 1:
        raise reader.error(path + ("config",), "must be a list of one subnet: Shoal's networks have one")
    out = {}
    for config in configs:
        at = path + ("config", 0)
        config = only_keys(config, at, reader, ("subnet", "gateway", "ip_range", "aux_addresses"))
        for refused in ("ip_range", "aux_addresses"):
            if refused in config:
                raise reader.error(at + (refused,), "not supported: addresses come from the whole subnet")
        out = read_each(config, at, reader, {"subnet": text, "gateway": text})
    return out


def _volume(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value or {}, path, reader, ("driver", "driver_opts", "external", "name", "labels"))
    out: dict = {"labels": {}}
    _external(value, path, reader, out)
    if "driver" in value:
        out["driver"] = text(value["driver"], path + ("driver",), reader)
    if "driver_opts" in value:
        options = pairs(value["driver_opts"], path + ("driver_opts",), reader)
        out["driver_opts"] = {key: item or "" for key, item in options.items()}
    if "labels" in value:
        out["labels"] = _labels(value["labels"], path + ("labels",), reader)
    return out


def _object(value, path: Path, reader: Reader, base_dir: str, environ: dict, read, kind: str) -> dict:
    """A top-level secret or config: ``{external, name?, labels, data?}``; data from ``file``, ``environment``
    (the variable's value) or, for a config, ``content``. Error texts name the source, never the data."""
    sources = ("file", "environment") + (("content",) if kind == "config" else ())
    refused = ("driver", "driver_opts", "template_driver")
    value = only_keys(value or {}, path, reader, sources + refused + ("external", "name", "labels"))
    for key in refused:
        if key in value:
            raise reader.error(path + (key,), f"not supported: Shoal stores {kind}s itself and does not render "
                                              "templates")
    out: dict = {"labels": {}}
    _external(value, path, reader, out)
    if "labels" in value:
        out["labels"] = _labels(value["labels"], path + ("labels",), reader)
    if out["external"]:
        return out
    given = [key for key in sources if key in value]
    if len(given) != 1:
        raise reader.error(path, f"a {kind} needs exactly one of {', '.join(sources)} (or external: true)")
    source = given[0]
    at = path + (source,)
    if source == "file":
        name = posixpath.join(base_dir, text(value["file"], at, reader))
        try:
            out["data"] = read(name)
        except OSError as exc:
            raise reader.error(at, f"cannot read {kind} file {name}: {exc.strerror or exc}") from None
    elif source == "environment":
        variable = text(value["environment"], at, reader)
        if variable not in environ:
            raise reader.error(at, f"environment variable {variable} is not set")
        out["data"] = environ[variable].encode()
    else:
        out["data"] = text(value["content"], at, reader).encode()
    if not 0 < len(out["data"]) < limits.SECRET_BYTES:  # Swarm's limit, checked before any write
        raise reader.error(at, f"{kind} data must be larger than 0 and less than {limits.SECRET_BYTES} bytes "
                               f"(it has {len(out['data'])})")
    return out


def _labels(value, path: Path, reader: Reader) -> dict[str, str]:
    return {key: item or "" for key, item in pairs(value, path, reader).items()}

"""A service's ``volumes``: short (``data:/var/lib/db:ro``, ``./conf:/etc/app``, ``/scratch``) and long
syntax, as mounts in Docker's shape with the volume's compose name still to be scoped (convert.py)."""

from __future__ import annotations

import posixpath

from actors.stack.errors import Path
from actors.stack.values import Reader, boolean, choice, memory, octal_mode, only_keys, text

_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_SHORT_OPTIONS = ("ro", "rw", "nocopy") + _PROPAGATIONS


def service_volumes(value, path: Path, reader: Reader, base_dir: str, environ: dict) -> list[dict]:
    """Each entry as ``{"Type", "Source"?, "Target", "ReadOnly"?, ...Options}``: a bind's relative source is
    made absolute from ``base_dir`` (``~`` is $HOME); a volume's Source is its compose name."""
    if not isinstance(value, list):
        raise reader.error(path, "must be a list")
    mounts = []
    for index, entry in enumerate(value):
        at = path + (index,)
        mount = _long(entry, at, reader) if isinstance(entry, dict) else _short(text(entry, at, reader), at, reader)
        if mount["Type"] == "bind":
            mount["Source"] = _host_path(mount["Source"], base_dir, environ)
        if not mount["Target"].startswith("/"):
            raise reader.error(at, f"invalid mount target {mount['Target']!r}: use an absolute path")
        if any(m["Target"] == mount["Target"] for m in mounts):
            raise reader.error(at, f"duplicate mount target {mount['Target']}")
        mounts.append(mount)
    return mounts


def _host_path(source: str, base_dir: str, environ: dict) -> str:
    if source.startswith("~"):
        source = environ.get("HOME", "~") + source[1:]
    return posixpath.normpath(posixpath.join(base_dir, source))


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


def _short(spec: str, path: Path, reader: Reader) -> dict:
    parts = spec.split(":")
    if len(parts) == 1:
        return {"Type": "volume", "Target": parts[0]}
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise reader.error(path, f"invalid volume {spec!r}: use [SOURCE:]TARGET[:MODE]")
    source, target = parts[0], parts[1]
    mount = {"Type": "bind" if _is_path(source) else "volume", "Source": source, "Target": target}
    for option in parts[2].split(",") if len(parts) == 3 else []:
        if option not in _SHORT_OPTIONS:
            raise reader.error(path, f"invalid volume {spec!r}: unknown mode {option!r} (use ro, rw, nocopy "
                                     "or a bind propagation)")
        if option in ("ro", "rw"):
            mount["ReadOnly"] = option == "ro"
        elif option == "nocopy":
            if mount["Type"] != "volume":
                raise reader.error(path, f"invalid volume {spec!r}: nocopy is for named volumes")
            mount["VolumeOptions"] = {"NoCopy": True}
        else:
            if mount["Type"] != "bind":
                raise reader.error(path, f"invalid volume {spec!r}: a propagation is for bind mounts")
            mount["BindOptions"] = {"Propagation": option}
    return mount


def _long(entry: dict, path: Path, reader: Reader) -> dict:
    entry = only_keys(entry, path, reader, ("type", "source", "target", "read_only", "consistency", "bind",
                                            "volume", "tmpfs"))
    kind = choice(entry.get("type", "volume"), path + ("type",), reader, ("volume", "bind", "tmpfs"))
    if "target" not in entry:
        raise reader.error(path, "a volume needs a target")
    mount = {"Type": kind, "Target": text(entry["target"], path + ("target",), reader)}
    if entry.get("source") is not None:
        if kind == "tmpfs":
            raise reader.error(path + ("source",), "a tmpfs mount has no source")
        mount["Source"] = text(entry["source"], path + ("source",), reader)
    elif kind == "bind":
        raise reader.error(path, "a bind mount needs a source")
    if "read_only" in entry:
        mount["ReadOnly"] = boolean(entry["read_only"], path + ("read_only",), reader)
    if "consistency" in entry:
        mount["Consistency"] = choice(entry["consistency"], path + ("consistency",), reader,
                                      ("default", "consistent", "cached", "delegated"))
    for key, expected, read in (("bind", "bind", _bind), ("volume", "volume", _volume), ("tmpfs", "tmpfs", _tmpfs)):
        if key in entry:
            if kind != expected:
                raise reader.error(path + (key,), f"cannot mix '{key}' options with type {kind}")
            mount.update(read(entry[key] or {}, path + (key,), reader))
    return mount


def _bind(options, path: Path, reader: Reader) -> dict:
    options = only_keys(options, path, reader, ("propagation", "create_host_path"))
    if "create_host_path" in options and boolean(options["create_host_path"], path + ("create_host_path",), reader):
        raise reader.error(path + ("create_host_path",), "not supported: a service's bind source must exist on "
                                                          "the node (create_host_path: false)")
    if "propagation" not in options:
        return {}
    return {"BindOptions": {"Propagation": choice(options["propagation"], path + ("propagation",), reader,
                                                  _PROPAGATIONS)}}


def _volume(options, path: Path, reader: Reader) -> dict:
    options = only_keys(options, path, reader, ("nocopy",))
    return {"VolumeOptions": {"NoCopy": boolean(options["nocopy"], path + ("nocopy",), reader)}} if options else {}


def _tmpfs(options, path: Path, reader: Reader) -> dict:
    options = only_keys(options, path, reader, ("size", "mode"))
    tmpfs = {}
    if "size" in options:
        tmpfs["SizeBytes"] = memory(options["size"], path + ("size",), reader)
    if "mode" in options:
        tmpfs["Mode"] = octal_mode(options["mode"], path + ("mode",), reader)
    return {"TmpfsOptions": tmpfs} if tmpfs else {}

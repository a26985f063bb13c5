"""Docker's CLI value formats, parsed: memory and CPU amounts, mounts, ulimits, hosts, published ports.

Each parser takes the text a user typed after one flag and returns the spec
fragment Docker's CLI makes of it, or raises ValueError with a one-line
reason (the caller names the flag). Pure: no IO, no click.
"""

from __future__ import annotations

import csv
import re
import shlex

from actors.common.durations import parse_duration

_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_NANO = 1_000_000_000


def memory_bytes(text: str) -> int:
    """``64M``, ``1g``, ``512KiB``, ``1024`` -> bytes (binary units, as Docker's RAMInBytes)."""
    match = _MEMORY.fullmatch(text.strip())
    if not match:
        raise ValueError("use a number with an optional unit: b, k, m, g, t, p (e.g. 64M)")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])


def nano_cpus(text: str) -> int:
    """``0.5`` -> 500000000 NanoCPUs; a positive decimal number of CPUs."""
    try:
        cpus = float(text)
    except ValueError:
        raise ValueError("use a decimal number of CPUs, e.g. 0.5") from None
    if not cpus > 0 or cpus > 1_000_000:
        raise ValueError("use a positive number of CPUs, e.g. 0.5")
    return round(cpus * _NANO)


def duration(text: str) -> int:
    """A Go duration (``10s``, ``1m30s``, ``0``) in nanoseconds."""
    return parse_duration(text)


def whole(text: str) -> int:
    """A whole number >= 0."""
    if not text.strip().isdigit():
        raise ValueError("use a whole number >= 0")
    return int(text)


def ratio(text: str) -> float:
    """A fraction in 0..1 (``0.2``)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError("use a number between 0 and 1") from None
    if not 0 <= value <= 1:
        raise ValueError("use a number between 0 and 1")
    return value


def choice(*choices: str):
    """A parser accepting exactly one of ``choices``."""
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"use {' or '.join(choices)}")
        return text
    return parse


def words(text: str) -> list[str]:
    """Shell-like words (``--entrypoint "sh -c"``, ``--args "a 'b c'"``)."""
    return shlex.split(text)


def key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (or ``KEY``, an empty value) -> (KEY, VALUE)."""
    key, _, value = text.partition("=")
    if not key:
        raise ValueError("use KEY=VALUE")
    return key, value


def env_item(text: str) -> str:
    """``KEY=VALUE`` as it goes into ContainerSpec.Env."""
    key_value(text)
    return text


def env_key(text: str) -> str:
    """The variable an Env entry (``K=V``) or an ``--env-rm K`` sets."""
    return text.partition("=")[0]


def env_file(path: str, environ: dict[str, str]) -> list[str]:
    """The ``KEY=VALUE`` lines of an env file (``#`` comments and blank lines skipped; a bare
    ``KEY`` takes its value from ``environ`` and is dropped when unset, as Docker does)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, _ = line.partition("=")
        if not key or " " in key:
            raise ValueError(f"{path}:{number}: variable {key!r} contains whitespaces")
        if sep:
            entries.append(line)
        elif key in environ:
            entries.append(f"{key}={environ[key]}")
    return entries


def _options(text: str, what: str) -> list[tuple[str, str]]:
    """``a=1,b=2,flag`` -> [(a, 1), (b, 2), (flag, "")], CSV-style quoting allowed."""
    pairs = []
    for part in next(csv.reader([text])) if text else []:
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not key:
            raise ValueError(f"invalid field {part!r} in {what}")
        pairs.append((key, value if sep else ""))
    return pairs


def _bool_field(key: str, value: str) -> bool:
    if value == "":
        return True
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def mount(text: str) -> dict:
    """``type=bind,source=/a,target=/b,readonly`` -> a Mount (type defaults to volume, as Docker's)."""
    spec: dict = {"Type": "volume"}
    volume: dict = {}
    for key, value in _options(text, "mount"):
        if key == "type":
            if value not in ("bind", "volume", "tmpfs"):
                raise ValueError(f"invalid mount type {value!r}: use bind, volume or tmpfs")
            spec["Type"] = value
        elif key in ("source", "src"):
            spec["Source"] = value
        elif key in ("target", "dst", "destination"):
            spec["Target"] = value
        elif key in ("readonly", "ro"):
            spec["ReadOnly"] = _bool_field(key, value)
        elif key == "consistency":
            spec["Consistency"] = value
        elif key == "bind-propagation":
            spec.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "bind-nonrecursive":
            spec.setdefault("BindOptions", {})["NonRecursive"] = _bool_field(key, value)
        elif key == "volume-nocopy":
            volume["NoCopy"] = _bool_field(key, value)
        elif key == "volume-label":
            label, _, label_value = value.partition("=")
            volume.setdefault("Labels", {})[label] = label_value
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            option, _, option_value = value.partition("=")
            volume.setdefault("DriverConfig", {}).setdefault("Options", {})[option] = option_value
        elif key == "tmpfs-size":
            spec.setdefault("TmpfsOptions", {})["SizeBytes"] = memory_bytes(value)
        elif key == "tmpfs-mode":
            try:
                spec.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
            except ValueError:
                raise ValueError(f"invalid tmpfs-mode {value!r}: use octal, e.g. 1777") from None
        else:
            raise ValueError(f"unexpected key {key!r} in {text!r}")
    if volume:
        spec["VolumeOptions"] = volume
    if not spec.get("Target"):
        raise ValueError("target is required")
    if spec["Type"] == "bind" and not spec.get("Source"):
        raise ValueError("source is required when specifying bind mounts")
    if spec["Type"] != "volume" and volume:
        raise ValueError(f"cannot mix 'volume-*' options with mount type {spec['Type']!r}")
    if spec["Type"] != "bind" and "BindOptions" in spec:
        raise ValueError(f"cannot mix 'bind-*' options with mount type {spec['Type']!r}")
    if spec["Type"] != "tmpfs" and "TmpfsOptions" in spec:
        raise ValueError(f"cannot mix 'tmpfs-*' options with mount type {spec['Type']!r}")
    if spec["Type"] == "tmpfs" and spec.get("Source"):
        raise ValueError("source must not be specified for tmpfs mounts")
    return spec


def mount_target(text: str) -> str:
    """What ``--mount-rm`` names: the target path."""
    return text


def ulimit(text: str) -> dict:
    """``nofile=1024:2048`` (or ``nofile=1024``: soft = hard) -> a Ulimit."""
    name, sep, limits_text = text.partition("=")
    soft, _, hard = limits_text.partition(":")
    try:
        soft_value = int(soft)
        hard_value = int(hard) if hard else soft_value
    except ValueError:
        raise ValueError("use NAME=SOFT[:HARD], e.g. nofile=1024:2048") from None
    if not name or not sep:
        raise ValueError("use NAME=SOFT[:HARD], e.g. nofile=1024:2048")
    if soft_value > hard_value:
        raise ValueError(f"soft limit {soft_value} is above hard limit {hard_value}")
    return {"Name": name, "Soft": soft_value, "Hard": hard_value}


def ulimit_name(text: str) -> str:
    """What ``--ulimit-rm`` names: the limit's name (``nofile`` or ``nofile=...``)."""
    return text.partition("=")[0]


def host(text: str) -> str:
    """``name:ip`` -> ``ip name``, the /etc/hosts form ContainerSpec.Hosts holds (as Docker converts it)."""
    name, sep, address = text.partition(":")
    if not name or not sep or not address:
        raise ValueError("use HOST:IP, e.g. db:10.0.0.2")
    return f"{address} {name}"


def host_key(text: str) -> str:
    """What ``--host-rm`` names, in the stored ``ip name`` form (``name:ip``), or just a name."""
    return host(text) if ":" in text else text


def host_matches(entry: str, key: str) -> bool:
    """Whether the stored ``ip name`` entry is what ``--host-rm`` named (the whole entry, or its name)."""
    return entry == key or key in entry.split()[1:]


def placement_pref(text: str) -> dict:
    """``spread=node.labels.zone`` -> a placement Preference."""
    strategy, sep, descriptor = text.partition("=")
    if strategy != "spread" or not sep or not descriptor:
        raise ValueError("use spread=node.labels.NAME (the only strategy is spread)")
    return {"Spread": {"SpreadDescriptor": descriptor}}


def publish(text: str) -> dict:
    """``mode=host,target=80,published=8080[,protocol=udp]`` or ``8080:80[/udp]`` -> an EndpointSpec port
    (PublishMode defaults to ingress, as Docker's)."""
    if "=" in text:
        fields = dict(_options(text, "publish"))
        unknown = set(fields) - {"target", "published", "protocol", "mode"}
        if unknown:
            raise ValueError(f"unexpected key {sorted(unknown)[0]!r}: use mode, target, published, protocol")
        if "target" not in fields:
            raise ValueError("missing target port, e.g. target=80")
        target, published = fields["target"], fields.get("published", "0")
        protocol, mode = fields.get("protocol", "tcp"), fields.get("mode", "ingress")
    else:
        ports, _, protocol = text.partition("/")
        published, _, target = ports.rpartition(":")
        protocol, mode, published = protocol or "tcp", "ingress", published or "0"
    if not (target.isdigit() and published.isdigit()):
        raise ValueError("use mode=host,target=80,published=8080 or 8080:80")
    port = {"Protocol": protocol, "TargetPort": int(target), "PublishedPort": int(published), "PublishMode": mode}
    if not 1 <= port["TargetPort"] <= 65535 or port["PublishedPort"] > 65535:
        raise ValueError("ports are 1-65535")
    if protocol not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid protocol {protocol!r}: use tcp, udp or sctp")
    if mode not in ("ingress", "host"):
        raise ValueError(f"invalid mode {mode!r}: use ingress or host")
    return port


def network(text: str) -> dict:
    """``NAME`` or ``name=NAME,alias=A[,alias=B]`` -> a ``TaskTemplate.Networks`` entry (``{Target, Aliases}``;
    the control API resolves the name to the network's id)."""
    if "=" not in text:
        if not text or "," in text:
            raise ValueError("use NAME or name=NAME,alias=ALIAS")
        return {"Target": text, "Aliases": []}
    entry = {"Target": "", "Aliases": []}
    for key, value in _options(text, "network"):
        if key == "name" and value:
            entry["Target"] = value
        elif key == "alias" and value:
            entry["Aliases"].append(value)
        else:
            raise ValueError(f"unexpected key {key!r}: use name and alias")
    if not entry["Target"]:
        raise ValueError("missing network name, e.g. name=front")
    return entry


def published_key(text: str) -> tuple[int, str]:
    """What ``--publish-rm`` names: (target port, protocol), from ``80``, ``80/udp`` or a full publish form."""
    if "=" in text or ":" in text:
        port = publish(text)
        return port["TargetPort"], port["Protocol"]
    number, _, protocol = text.partition("/")
    if not number.isdigit():
        raise ValueError("use the target port, e.g. 80 or 80/udp")
    return int(number), protocol or "tcp"


def _file_mode(text: str) -> int:
    """A file mode as Docker's CLI reads it (Go's base-0 numbers: ``0400`` and ``0o400`` are octal)."""
    try:
        value = int(text[1:], 8) if len(text) > 1 and text[0] == "0" and text[1].isdigit() else int(text, 0)
    except ValueError:
        raise ValueError(f"invalid mode {text!r}: use octal, e.g. 0400") from None
    if not 0 <= value <= 0o777:
        raise ValueError(f"invalid mode {text!r}: at most 0777")
    return value


def file_reference(prefix: str, default_dir: str):
    """The parser of ``--secret`` (``prefix`` ``Secret``) or ``--config`` (``Config``): ``NAME`` or
    ``source=NAME,target=PATH,uid=0,gid=0,mode=0444`` -> ``{"File": {Name, UID, GID, Mode}, "<prefix>Name"}``
    with Docker's defaults (the target is NAME, under ``default_dir``: '' for a secret, whose relative
    targets are under /run/secrets/, '/' for a config). The control API resolves the name to an ID."""
    def parse(text: str) -> dict:
        file = {"Name": "", "UID": "0", "GID": "0", "Mode": 0o444}
        source = text if text and "=" not in text and "," not in text else ""
        for key, value in ([] if source else _options(text, prefix.lower())):
            if key in ("source", "src"):
                source = value
            elif key == "target":
                file["Name"] = value
            elif key in ("uid", "gid"):
                if not value.isdigit():
                    raise ValueError(f"invalid {key} {value!r}: use a number")
                file[key.upper()] = value
            elif key == "mode":
                file["Mode"] = _file_mode(value)
            else:
                raise ValueError(f"invalid field '{key}': use source, target, uid, gid and mode")
        if not source:
            raise ValueError("source is required")
        file["Name"] = file["Name"] or default_dir + source
        return {"File": file, f"{prefix}Name": source}
    return parse


def duplicate_target(prefix: str):
    """Docker's refusal of a second ``--secret`` (``prefix`` ``Secret``) or ``--config`` at a target one
    command already gave: the message naming the later reference's source."""
    return lambda reference: f"duplicate {prefix.lower()} target for {reference[f'{prefix}Name']} not allowed"


def file_reference_matches(prefix: str):
    """What ``--secret-rm`` or ``--config-rm`` names: a reference's source name or ID."""
    return lambda reference, text: text in (reference.get(f"{prefix}Name"), reference.get(f"{prefix}ID"))

"""One service of a compose file, checked and put into one canonical form (the long syntax of each key).

Keys Swarm does not use are collected to be reported ("Ignoring unsupported
options: build, depends_on"), as ``docker stack deploy`` reports them; keys
Docker forbids in a stack, and keys Shoal cannot honour, are refused with the
reason; any other unknown key is an error, as in Docker's schema check.
"""

from __future__ import annotations

import posixpath

from actors.stack import ports, volumes
from actors.stack.deploy import deploy
from actors.stack.errors import Path
from actors.stack.values import (Reader, boolean, command, duration, mapping, octal_mode, only_keys, pairs,
                                 strings, text, whole)

# Accepted and not used by Swarm: reported once per deploy, as Docker does.
IGNORED = ("build", "cgroup_parent", "cgroupns_mode", "depends_on", "devices", "domainname", "external_links",
           "ipc", "links", "mac_address", "network_mode", "pid", "privileged", "profiles", "pull_policy",
           "security_opt", "shm_size", "userns_mode")
DEPRECATED = {"container_name": "Setting the container name is not supported.",
              "expose": "Exposing ports is unnecessary - services on the same network can access each other's "
                        "containers on any port."}
# Refused, as Docker refuses them in a stack file.
FORBIDDEN = {"extends": "Support for `extends` is not implemented yet.",
             "volume_driver": "Instead of setting the volume driver on the service, define a volume using the "
                              "top-level `volumes` option and specify the driver there.",
             "volumes_from": "To share a volume between services, define it using the top-level `volumes` option "
                             "and reference it from each service that shares it using the service-level `volumes` "
                             "option.",
             **{key: "Set resource limits using deploy.resources"
                for key in ("cpu_quota", "cpu_shares", "cpuset", "mem_limit", "memswap_limit")}}
# Honoured by Docker's swarm mode but not by Shoal: refused rather than dropped.
NOT_HONOURED = {"logging": "Shoal's tasks log to the engine's default driver",
                "sysctls": "not part of Shoal's container spec yet",
                "oom_score_adj": "not part of Shoal's container spec yet",
                "credential_spec": "Windows only", "isolation": "Windows only",
                "platform": "Shoal places by constraints, not by platform",
                "tmpfs": "write a volumes entry with type: tmpfs instead"}
RESTARTS = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def service(value, path: Path, reader: Reader, base_dir: str, environ: dict, read, noted: dict) -> dict:
    """The canonical form of the service at ``path`` (``("services", NAME)``); ``base_dir`` is the
    compose file's directory (relative paths), ``read(path) -> str`` reads an ``env_file``, ``environ``
    fills ``environment`` entries without a value; ignored and deprecated keys are added to ``noted``
    (``{"ignored": set, "deprecated": set}``)."""
    if value is None:
        value = {}
    value = mapping(value, path, reader)
    for key in value:
        if key in FORBIDDEN:
            raise reader.error(path + (key,), f"unsupported option: {FORBIDDEN[key]}")
        if key in NOT_HONOURED:
            raise reader.error(path + (key,), f"not supported: {NOT_HONOURED[key]}")
    value = only_keys(value, path, reader, set(_READERS) | set(IGNORED) | set(DEPRECATED) | {"restart"})
    out: dict = {}
    for key, item in value.items():
        at = path + (key,)
        if key in IGNORED:
            noted["ignored"].add(key)
        elif key in DEPRECATED:
            noted["deprecated"].add(key)
        elif key == "restart":
            out["restart"] = _restart(item, at, reader)
        elif key == "env_file":
            out["env_file"] = _env_files(item, at, reader, base_dir, environ, read)
        elif key == "volumes":
            out["volumes"] = volumes.service_volumes(item, at, reader, base_dir, environ)
        elif key == "environment":
            out["environment"] = {k: environ.get(k) if v is None else v for k, v in pairs(item, at, reader).items()}
        else:
            out[key] = _READERS[key](item, at, reader)
    if "restart" in out and "restart_policy" in out.get("deploy", {}):
        noted["ignored"].add("restart")  # deploy.restart_policy wins, as in Docker
        del out["restart"]
    if "env_file" in out:  # entries of ``environment`` win over the files', as in Docker
        out["environment"] = {**out.pop("env_file"), **out.get("environment", {})}
    return out


def _restart(value, path: Path, reader: Reader) -> dict:
    """``restart: no|always|unless-stopped|on-failure[:N]`` as a restart policy (used when ``deploy``
    gives none, as Docker does)."""
    word, _, attempts = text(value, path, reader).partition(":")
    if word not in RESTARTS or attempts and (word != "on-failure" or not attempts.isdigit()):
        raise reader.error(path, f"must be one of no, always, unless-stopped, on-failure[:N], not {value!r}")
    policy = {"condition": RESTARTS[word]}
    if attempts:
        policy["max_attempts"] = int(attempts)
    return policy


def _env_files(value, path: Path, reader: Reader, base_dir: str, environ: dict, read) -> dict:
    """The variables of each ``env_file`` (a path, a list of paths, or ``{path, required}`` entries)."""
    entries = value if isinstance(value, list) else [value]
    variables: dict = {}
    for index, entry in enumerate(entries):
        at = path + (index,) if isinstance(value, list) else path
        required = True
        if isinstance(entry, dict):
            entry = only_keys(entry, at, reader, ("path", "required"))
            required = boolean(entry.get("required", True), at + ("required",), reader)
            entry = entry.get("path")
        name = posixpath.join(base_dir, text(entry, at, reader))
        try:
            lines = read(name)
        except OSError as exc:
            if not required:
                continue
            raise reader.error(at, f"cannot read env file {name}: {exc.strerror or exc}") from None
        variables.update(_env_lines(lines, name, at, reader, environ))
    return variables


def _env_lines(lines: str, name: str, path: Path, reader: Reader, environ: dict) -> dict:
    variables: dict = {}
    for number, line in enumerate(lines.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, rest = line.partition("=")
        if not key or " " in key:
            raise reader.error(path, f"{name}:{number}: variable {key!r} contains whitespaces")
        variables[key] = rest if sep else environ.get(key)
    return variables


def _healthcheck(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value, path, reader, ("test", "interval", "timeout", "retries", "start_period",
                                            "start_interval", "disable"))
    out: dict = {}
    if "disable" in value and boolean(value["disable"], path + ("disable",), reader):
        if "test" in value:
            raise reader.error(path + ("disable",), "test and disable can't be set at the same time")
        return {"test": ["NONE"]}
    if "test" in value:
        test = value["test"]
        if isinstance(test, str):
            out["test"] = ["CMD-SHELL", test]
        else:
            out["test"] = strings(test, path + ("test",), reader, one_allowed=False)
            if out["test"] and out["test"][0] not in ("NONE", "CMD", "CMD-SHELL"):
                raise reader.error(path + ("test",), "a test list must start with NONE, CMD or CMD-SHELL")
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in value:
            out[key] = duration(value[key], path + (key,), reader)
    if "retries" in value:
        out["retries"] = whole(value["retries"], path + ("retries",), reader, 2 ** 31)
    return out


def _networks(value, path: Path, reader: Reader) -> dict:
    """Networks as ``{name: {"aliases": [...]}}`` from a list of names or a map."""
    if isinstance(value, list):
        return {text(item, path + (index,), reader): {"aliases": []} for index, item in enumerate(value)}
    out = {}
    for name, options in mapping(value, path, reader).items():
        at = path + (name,)
        options = only_keys(options or {}, at, reader, ("aliases", "ipv4_address", "ipv6_address", "link_local_ips",
                                                       "priority", "driver_opts", "mac_address", "gw_priority"))
        refused = sorted(set(options) - {"aliases"})
        if refused:
            raise reader.error(at + (refused[0],), "not supported: Shoal gives each task its address from the "
                                                   "network's subnet")
        out[name] = {"aliases": strings(options.get("aliases", []), at + ("aliases",), reader, one_allowed=False)}
    return out


def _objects(kind: str):
    """Reader of a service's ``secrets`` or ``configs``: short names or ``{source, target, uid, gid, mode}``."""
    def read(value, path: Path, reader: Reader) -> list[dict]:
        if not isinstance(value, list):
            raise reader.error(path, "must be a list")
        out = []
        for index, entry in enumerate(value):
            at = path + (index,)
            if not isinstance(entry, dict):
                entry = {"source": text(entry, at, reader)}
            entry = only_keys(entry, at, reader, ("source", "target", "uid", "gid", "mode"))
            if "source" not in entry:
                raise reader.error(at, f"a {kind[:-1]} needs a source")
            item = {"source": text(entry["source"], at + ("source",), reader)}
            for key in ("target", "uid", "gid"):
                if key in entry:
                    item[key] = text(entry[key], at + (key,), reader)
            if "mode" in entry:
                item["mode"] = octal_mode(entry["mode"], at + ("mode",), reader)
            out.append(item)
        return out
    return read


def _extra_hosts(value, path: Path, reader: Reader) -> list[str]:
    """``host:ip`` / ``host=ip`` entries, or a map host -> ip, as ContainerSpec.Hosts' ``ip host`` lines."""
    entries = ([f"{host}={address}" for host, address in mapping(value, path, reader).items()]
               if isinstance(value, dict) else strings(value, path, reader, one_allowed=False))
    hosts = []
    for entry in entries:
        separator = "=" if "=" in entry else ":"
        host, _, address = entry.partition(separator)
        if not host or not address:
            raise reader.error(path, f"invalid extra host {entry!r}: use HOST:IP")
        hosts.append(f"{address} {host}")
    return hosts


def _ulimits(value, path: Path, reader: Reader) -> list[dict]:
    out = []
    for name, limit in mapping(value, path, reader).items():
        at = path + (name,)
        if isinstance(limit, dict):
            limit = only_keys(limit, at, reader, ("soft", "hard"))
            soft = whole(limit.get("soft", 0), at + ("soft",), reader)
            hard = whole(limit.get("hard", soft), at + ("hard",), reader)
        else:
            soft = hard = whole(limit, at, reader)
        if soft > hard:
            raise reader.error(at, f"soft limit {soft} is above hard limit {hard}")
        out.append({"Name": name, "Soft": soft, "Hard": hard})
    return out


def _words(value, path: Path, reader: Reader) -> list[str]:
    return strings(value, path, reader)


_READERS = {
    "image": text, "command": command, "entrypoint": command, "labels": pairs, "ports": ports.service_ports,
    "networks": _networks, "secrets": _objects("secrets"), "configs": _objects("configs"),
    "healthcheck": _healthcheck, "user": text, "working_dir": text, "hostname": text,
    "stop_grace_period": duration, "stop_signal": text, "init": boolean, "read_only": boolean, "tty": boolean,
    "stdin_open": boolean, "cap_add": _words, "cap_drop": _words, "group_add": _words, "extra_hosts": _extra_hosts,
    "dns": _words, "dns_search": _words, "dns_opt": _words, "ulimits": _ulimits, "deploy": deploy,
    "environment": pairs, "env_file": None, "volumes": None}

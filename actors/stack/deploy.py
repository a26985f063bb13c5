"""A service's ``deploy`` section: mode, replicas, placement, resources, restart, update and rollback
policies, endpoint mode, labels, in canonical form (compose's key names, Shoal's units)."""

from __future__ import annotations

from actors.stack.errors import Path
from actors.stack.values import (Reader, choice, cpus, duration, memory, only_keys, pairs, ratio, read_each, strings,
                                 text, whole)
from transport import limits

MODES = ("replicated", "global", "replicated-job", "global-job")
_POLICY_KEYS = ("parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")


def deploy(value, path: Path, reader: Reader) -> dict:
    """The canonical ``deploy`` map; ComposeError for what is malformed or what Shoal cannot honour."""
    value = only_keys(value or {}, path, reader, ("mode", "replicas", "labels", "placement", "resources",
                                                  "restart_policy", "update_config", "rollback_config",
                                                  "endpoint_mode"))
    out: dict = {}
    if "mode" in value:
        out["mode"] = choice(value["mode"], path + ("mode",), reader, MODES)
    if "replicas" in value:
        out["replicas"] = whole(value["replicas"], path + ("replicas",), reader, limits.REPLICAS)
    if "labels" in value:
        out["labels"] = pairs(value["labels"], path + ("labels",), reader)
    if "endpoint_mode" in value:
        out["endpoint_mode"] = choice(value["endpoint_mode"], path + ("endpoint_mode",), reader, ("vip", "dnsrr"))
    for key, read in (("placement", _placement), ("resources", _resources), ("restart_policy", _restart_policy),
                      ("update_config", _policy(("pause", "continue", "rollback"))),
                      ("rollback_config", _policy(("pause", "continue")))):
        if key in value:
            out[key] = read(value[key] or {}, path + (key,), reader)
    return out


def _placement(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value, path, reader, ("constraints", "preferences", "max_replicas_per_node"))
    out: dict = {}
    if "constraints" in value:
        out["constraints"] = strings(value["constraints"], path + ("constraints",), reader, one_allowed=False)
    if "preferences" in value:
        preferences = value["preferences"]
        if not isinstance(preferences, list):
            raise reader.error(path + ("preferences",), "must be a list")
        out["preferences"] = []
        for index, preference in enumerate(preferences):
            at = path + ("preferences", index)
            preference = only_keys(preference, at, reader, ("spread",))
            if "spread" not in preference:
                raise reader.error(at, "a placement preference must be a spread (spread: node.labels.zone)")
            out["preferences"].append(text(preference["spread"], at + ("spread",), reader))
    if "max_replicas_per_node" in value:
        out["max_replicas_per_node"] = whole(value["max_replicas_per_node"], path + ("max_replicas_per_node",),
                                             reader, limits.REPLICAS)
    return out


def _amounts(value, path: Path, reader: Reader, known: tuple[str, ...]) -> dict:
    value = only_keys(value or {}, path, reader, known + ("generic_resources", "devices"))
    for refused in ("generic_resources", "devices"):
        if refused in value:
            raise reader.error(path + (refused,), "not supported: Shoal schedules CPU, memory and pids only")
    return read_each(value, path, reader, {"cpus": cpus, "memory": memory, "pids": whole})


def _resources(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value, path, reader, ("limits", "reservations"))
    out = {}
    if "limits" in value:
        out["limits"] = _amounts(value["limits"], path + ("limits",), reader, ("cpus", "memory", "pids"))
    if "reservations" in value:
        out["reservations"] = _amounts(value["reservations"], path + ("reservations",), reader, ("cpus", "memory"))
    return out


def _restart_policy(value, path: Path, reader: Reader) -> dict:
    value = only_keys(value, path, reader, ("condition", "delay", "max_attempts", "window"))
    return read_each(value, path, reader, {"condition": _choices("none", "on-failure", "any"), "delay": duration,
                                           "window": duration, "max_attempts": whole})


def _choices(*choices: str):
    return lambda value, path, reader: choice(value, path, reader, choices)


def _policy(failure_actions: tuple[str, ...]):
    """Reader of ``update_config`` or ``rollback_config``."""
    def read(value, path: Path, reader: Reader) -> dict:
        value = only_keys(value, path, reader, _POLICY_KEYS)
        return read_each(value, path, reader, {
            "parallelism": lambda v, p, r: whole(v, p, r, limits.REPLICAS), "delay": duration, "monitor": duration,
            "failure_action": _choices(*failure_actions), "max_failure_ratio": ratio,
            "order": _choices("stop-first", "start-first")})
    return read

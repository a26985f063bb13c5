"""Docker's JSON to control-API bodies and back, without IO.

Shoal's store objects already carry Docker's field names, so most answers are the objects themselves;
what differs is said here: the fields of Docker's requests that Shoal does not model (dropped when they
ask for nothing, refused otherwise), the shapes of ``/info``, ``/version``, ``/swarm`` and networks,
filters, and how a control-API error becomes an HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json

from actors.engineapi import versions
from transport import schema


class EngineError(Exception):
    """An answer other than success: an HTTP ``status`` and Docker's ``{"message": ...}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# A control-API error code -> the status dockerd gives the same refusal (moby maps swarmkit's gRPC codes:
# InvalidArgument and FailedPrecondition 400, NotFound 404, AlreadyExists 409, Unavailable 503).
STATUS_OF_CODE = {"invalid": 400, "malformed": 400, "port_conflict": 400, "bad_token": 400, "refused": 400,
                  "ambiguous": 400, "not_found": 404, "name_conflict": 409, "already_joined": 409,
                  "permission_denied": 403, "too_large": 413, "unavailable": 503, "no_leader": 503,
                  "timeout": 503, "disk_full": 503}


def error_of(code: str, message: str) -> EngineError:
    """The HTTP answer to a control-API error ``code`` (500 for one not listed, as dockerd's default)."""
    return EngineError(STATUS_OF_CODE.get(code, 500), message)


def json_body(raw: bytes):
    """The JSON document of a request body; EngineError 400 with the parser's reason when it is not JSON."""
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise EngineError(400, f"invalid JSON: {exc}") from None


def json_object(raw: bytes) -> dict:
    """A request body that must be a JSON object (an empty body is ``{}``)."""
    value = json_body(raw) if raw else {}
    if not isinstance(value, dict):
        raise EngineError(400, "invalid JSON: the body must be an object")
    return value


def query_bool(query: dict[str, str], name: str) -> bool:
    """A boolean query parameter as dockerd reads one: absent, ``""``, ``0``, ``false``, ``no`` are false."""
    return query.get(name, "").strip().lower() not in ("", "0", "false", "no", "none")


def query_int(query: dict[str, str], name: str) -> int | None:
    """An integer query parameter, None when absent; EngineError 400 when it is not an integer."""
    text = query.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise EngineError(400, f"invalid {name} {text!r}: not an integer") from None


# -- filters -------------------------------------------------------------------------------------

def filters_of(query: dict[str, str], accepted) -> dict[str, list[str]]:
    """The ``filters`` parameter as key -> values: Docker's ``{"name": {"web": true}}`` or the older
    ``{"name": ["web"]}``. EngineError 400 for malformed JSON or a key not in ``accepted``."""
    text = query.get("filters")
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise EngineError(400, f"invalid filter: {exc}") from None
    if not isinstance(raw, dict):
        raise EngineError(400, "invalid filter: filters must be an object")
    wanted = {}
    for key, values in raw.items():
        if key not in accepted:
            raise EngineError(400, f"invalid filter '{key}'")
        if isinstance(values, dict):
            wanted[key] = [value for value, on in values.items() if on]
        elif isinstance(values, list) and all(isinstance(value, str) for value in values):
            wanted[key] = list(values)
        else:
            raise EngineError(400, f"invalid filter: the values of '{key}' must be an object or a list of strings")
    return wanted


# -- services --------------------------------------------------------------------------------------

def meaningful(value):
    """``value`` without its empty leaves (None, "", 0, False, {}, []), None when nothing is left: a Go client
    sends zero values for every field it knows, and those say nothing."""
    if isinstance(value, dict):
        return {key: kept for key, item in value.items() if (kept := meaningful(item)) is not None} or None
    if isinstance(value, list):
        return value or None
    return None if value in (None, "", 0, False) else value


# Fields of Docker's ServiceSpec that Shoal does not model, with the values beside their zero values that
# ask for nothing (the docker CLI sends Runtime and Isolation on every create, stack deploy an empty
# Privileges): dropped when they hold one of those, refused otherwise.
UNMODELLED = {
    ("TaskTemplate", "Runtime"): ("container",),
    ("TaskTemplate", "ContainerSpec", "Isolation"): ("default",),
    ("TaskTemplate", "ContainerSpec", "Privileges"): (),
    ("TaskTemplate", "LogDriver"): (),
    ("Networks",): (),
    ("TaskTemplate", "Resources", "Reservations", "GenericResources"): (),
}


# The field names of Docker's ServiceSpec that Shoal models (transport/model.py), and the maps among them
# whose keys are the user's (labels, options). dockerd, in Go, matches a JSON member to a field whatever its
# case, and docker-py relies on it (``{"replicated": {"Replicas": 2}}``).
SPEC_FIELDS = frozenset("""
    Name Labels TaskTemplate Mode UpdateConfig RollbackConfig EndpointSpec Networks ContainerSpec Resources
    RestartPolicy Placement ForceUpdate Runtime Image Command Args Env Hostname Dir User Groups Init TTY OpenStdin
    ReadOnly Mounts StopSignal StopGracePeriod Healthcheck Hosts DNSConfig CapabilityAdd CapabilityDrop Ulimits
    Isolation Privileges Type Source Target Consistency BindOptions Propagation NonRecursive VolumeOptions NoCopy
    DriverConfig Options TmpfsOptions SizeBytes Test Interval Timeout Retries StartPeriod StartInterval Soft Hard
    Nameservers Search Limits Reservations NanoCPUs MemoryBytes Pids GenericResources Condition Delay MaxAttempts
    Window Constraints Preferences Spread SpreadDescriptor MaxReplicas Platforms Architecture OS Aliases
    DriverOpts Replicated Replicas Global ReplicatedJob MaxConcurrent TotalCompletions GlobalJob Parallelism
    FailureAction Monitor MaxFailureRatio Order Ports Protocol TargetPort PublishedPort PublishMode LogDriver
    Secrets Configs File UID GID SecretID SecretName ConfigID ConfigName Shoal Rebalance""".split())
_BY_FOLDED = {name.lower(): name for name in SPEC_FIELDS}
USER_MAPS = frozenset({"Labels", "Options", "DriverOpts"})


def without_empty_strings(value):
    """``value`` without the members of its objects that are ``""`` (the keys of USER_MAPS kept): Docker's
    Go types have no "unset" for a string, so a Go client sends ``""`` for each one it leaves alone
    (``UpdateConfig.Order`` from ``docker stack deploy``), and swarmkit reads it as the default."""
    if isinstance(value, list):
        return [without_empty_strings(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: item if key in USER_MAPS else without_empty_strings(item) for key, item in value.items() if item != ""}


def go_decoded(value):
    """``value`` as dockerd's Go decoder reads it: each member named as the field it matches whatever its
    case (:data:`SPEC_FIELDS`; the keys of USER_MAPS kept as sent), and null members dropped (a null is the
    field's zero value, as if absent: docker-py sends every field it has a name for)."""
    if isinstance(value, list):
        return [go_decoded(item) for item in value]
    if not isinstance(value, dict):
        return value
    decoded = {}
    for key, item in value.items():
        if item is None:
            continue
        name = _BY_FOLDED.get(key.lower(), key) if isinstance(key, str) else key
        decoded[name] = item if name in USER_MAPS else go_decoded(item)
    return decoded


def service_spec_in(spec) -> dict:
    """Docker's ServiceSpec as the control API takes it: the UNMODELLED fields that ask for nothing
    dropped, read as Go reads it and swarmkit defaults it (:func:`go_decoded`, :func:`without_empty_strings`);
    EngineError 400 for one that asks for something.
    Everything else goes on to the control API, which checks it (an unknown field is refused there)."""
    if not isinstance(spec, dict):
        raise EngineError(400, "invalid JSON: a service spec must be an object")
    spec = without_empty_strings(go_decoded(spec))
    for path, nothing in UNMODELLED.items():
        parent = spec
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue
        if meaningful(parent[path[-1]]) is not None and parent[path[-1]] not in nothing:
            raise EngineError(400, f"{'.'.join(path)} is not supported by Shoal (it asks for "
                                   f"{json.dumps(parent[path[-1]])[:80]})")
        del parent[path[-1]]
    return spec


def service_out(service: dict, row: dict | None = None) -> dict:
    """A service as Docker shows it; with ``row`` (a ``service_ls`` row), its ``ServiceStatus`` too."""
    if row is None:
        return service
    shown = dict(service)
    shown["ServiceStatus"] = {"RunningTasks": row["running"], "DesiredTasks": row["desired"],
                              "CompletedTasks": row.get("completed", 0)}
    return shown


SERVICE_FILTERS = ("id", "name", "label", "mode")
TASK_FILTERS = ("id", "name", "node", "service", "desired-state", "label", "_up-to-date")
NODE_FILTERS = ("id", "name", "role", "membership", "label", "node.label")
NETWORK_FILTERS = ("id", "name", "label", "driver", "scope", "type")
OBJECT_FILTERS = ("id", "name", "label")  # of secrets and configs (the control API's)


def up_to_date(task: dict, services: dict[str, dict]) -> bool:
    """True when ``task`` runs its service's current spec (the docker CLI's ``_up-to-date`` filter, with
    which it follows a service converging)."""
    service = services.get(task.get("ServiceID"))
    return service is not None and schema.get_path(task, "SpecVersion.Index") == schema.get_path(service, "SpecVersion.Index")


# -- nodes -----------------------------------------------------------------------------------------

def node_update_body(node: dict, spec) -> dict:
    """The control API's ``node_update`` body for Docker's NodeSpec ``spec`` over ``node``; EngineError 400
    for a spec that is not an object or renames the node (Shoal keeps no node names)."""
    if not isinstance(spec, dict):
        raise EngineError(400, "invalid JSON: a node spec must be an object")
    name = spec.get("Name") or ""
    if name != (schema.get_path(node, "Spec.Name") or ""):
        raise EngineError(400, "node names are not supported by Shoal: a node is named by its hostname")
    return {"ref": node["ID"], "availability": spec.get("Availability"), "labels": spec.get("Labels") or {},
            "role": spec.get("Role")}


def check_version(obj: dict, version: int | None) -> None:
    """EngineError unless ``version`` (the ``version`` query parameter) is ``obj``'s Version.Index, as
    Docker refuses an update made from a stale read."""
    if version is None:
        raise EngineError(400, "invalid version: the version parameter is required")
    if version != schema.get_path(obj, "Version.Index"):
        raise EngineError(500, "update out of sequence")


# -- networks --------------------------------------------------------------------------------------

def network_spec_in(body: dict) -> dict:
    """Docker's network-create request as the control API's network spec; EngineError 400 for what Shoal's
    overlay networks cannot do (IPv6, config-only networks, a local scope, IPAM options)."""
    if body.get("EnableIPv6"):
        raise EngineError(400, "IPv6 is not supported by Shoal's networks")
    if body.get("ConfigOnly") or (body.get("ConfigFrom") or {}).get("Network"):
        raise EngineError(400, "config-only networks are not supported by Shoal")
    if body.get("Scope") not in (None, "", "swarm"):
        raise EngineError(400, f"network scope {body['Scope']!r} is not supported: Shoal's networks are swarm-scoped")
    ipam = body.get("IPAM") or {}
    if ipam.get("Options"):
        raise EngineError(400, "IPAM options are not supported by Shoal")
    configs = []
    for config in ipam.get("Config") or []:
        if config.get("AuxiliaryAddresses"):
            raise EngineError(400, "auxiliary addresses are not supported by Shoal")
        configs.append({key: config[key] for key in ("Subnet", "Gateway", "IPRange") if config.get(key)})
    spec = {"Name": body.get("Name"), "Labels": body.get("Labels") or {},
            "DriverConfiguration": {"Name": body.get("Driver") or "overlay", "Options": body.get("Options") or {}},
            "IPAMOptions": {"Driver": {"Name": ipam.get("Driver") or "default"}},
            "Attachable": bool(body.get("Attachable")), "Internal": bool(body.get("Internal")),
            "Ingress": bool(body.get("Ingress"))}
    if configs:
        spec["IPAMOptions"]["Configs"] = configs
    return spec


def network_out(network: dict) -> dict:
    """A network as Docker's ``/networks`` shows a swarm-scoped one; ``Services`` and ``Peers`` when the
    control API's inspect added them (Docker's verbose inspect)."""
    spec = network["Spec"]
    driver = network.get("DriverState") or spec.get("DriverConfiguration") or {}
    configs = schema.get_path(network, "IPAMOptions.Configs") or schema.get_path(network, "Spec.IPAMOptions.Configs") or []
    shown = {"Name": spec["Name"], "Id": network["ID"], "Created": network.get("CreatedAt", ""), "Scope": "swarm",
             "Driver": driver.get("Name", "overlay"), "EnableIPv6": False,
             "IPAM": {"Driver": "default", "Options": None,
                      "Config": [{key: config[key] for key in ("Subnet", "Gateway", "IPRange") if config.get(key)}
                                 for config in configs]},
             "Internal": spec.get("Internal", False), "Attachable": spec.get("Attachable", False),
             "Ingress": spec.get("Ingress", False), "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
             "Containers": {}, "Options": driver.get("Options") or {}, "Labels": spec.get("Labels") or {}}
    for extra in ("Services", "Peers"):
        if extra in network:
            shown[extra] = network[extra]
    return shown


# -- secrets and configs ---------------------------------------------------------------------------

def object_create_body(noun: str, body: dict) -> dict:
    """The control API's ``secret_create``/``config_create`` body for Docker's SecretSpec or ConfigSpec
    ``body`` (``Data`` in base64); EngineError 400 for data that is not base64 or a secret driver (Shoal
    keeps the data itself). No message quotes the data."""
    if (body.get("Driver") or {}).get("Name"):
        raise EngineError(400, f"{noun} drivers are not supported by Shoal: it keeps the data itself")
    spec = {"Name": body.get("Name"), "Labels": body.get("Labels") or {}}
    if body.get("Templating") is not None:
        spec["Templating"] = body["Templating"]  # the control API refuses it in its own words
    return {"spec": spec, "data": _decoded(noun, body.get("Data") or "")}


def object_update_body(noun: str, ref: str, version: int | None, body: dict) -> dict:
    """The control API's ``secret_update``/``config_update`` body for Docker's update of ``ref`` made from
    ``version``: its spec, and its data when the request gives one (which must be the stored data)."""
    data = body.get("Data")
    return {"ref": ref, "version": version, "spec": {"Name": body.get("Name"), "Labels": body.get("Labels") or {}},
            "data": None if data is None else _decoded(noun, data)}


def _decoded(noun: str, text) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise EngineError(400, f"invalid {noun} Data: it must be base64") from None


# -- swarm, info, version --------------------------------------------------------------------------

@dataclasses.dataclass
class HostFacts:
    """What ``/info`` and ``/version`` say about the machine the actor runs on (the actor reads them)."""

    hostname: str
    kernel: str
    operating_system: str
    architecture: str
    cpus: int
    memory_bytes: int
    server_version: str


# The cluster object's fields that Docker's Swarm shows (Shoal's own, its admin keys, are not shown).
SWARM_FIELDS = ("ID", "Version", "CreatedAt", "UpdatedAt", "Spec", "DefaultAddrPool", "SubnetSize")


def swarm_out(cluster: dict) -> dict:
    """The cluster as Docker's ``GET /swarm``: its Swarm fields and the join tokens."""
    shown = {key: cluster[key] for key in SWARM_FIELDS if key in cluster}
    shown["JoinTokens"] = cluster.get("JoinTokens") or {}
    shown["RootRotationInProgress"] = False
    return shown


def manager_addr(node: dict) -> str:
    """``ADDR:PORT`` where manager ``node`` takes joins (its ManagerStatus.Addr, else its endpoints)."""
    stated = schema.get_path(node, "ManagerStatus.Addr")
    if stated:
        return stated
    endpoints = schema.get_path(node, "Shoal.Endpoints") or {}
    return f"{endpoints.get('addr', '')}:{endpoints.get('port', '')}"


def info_out(info: dict, nodes: list[dict], host: HostFacts, node_addr: str) -> dict:
    """Docker's ``/info`` from the control API's ``info`` and ``node_ls`` replies and the host's facts: the
    engine part describes this machine; no containers or images are counted (Shoal serves none)."""
    cluster = {key: info["cluster"][key] for key in SWARM_FIELDS if key in info["cluster"]}
    managers = [{"NodeID": node["ID"], "Addr": manager_addr(node)}
                for node in nodes if schema.get_path(node, "Spec.Role") == "manager"]
    return {"ID": info["node_id"], "Name": host.hostname, "ServerVersion": host.server_version,
            "OperatingSystem": host.operating_system, "OSType": "linux", "Architecture": host.architecture,
            "KernelVersion": host.kernel, "NCPU": host.cpus, "MemTotal": host.memory_bytes,
            "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0, "ContainersStopped": 0, "Images": 0,
            "Driver": "", "Plugins": {"Volume": [], "Network": ["overlay"], "Log": []}, "Labels": [],
            "ExperimentalBuild": False, "Warnings": [],
            "Swarm": {"NodeID": info["node_id"], "NodeAddr": node_addr, "LocalNodeState": "active",
                      "ControlAvailable": True, "Error": "", "RemoteManagers": managers,
                      "Nodes": info["nodes"], "Managers": info["managers"], "Cluster": cluster}}


GO_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}


def version_out(host: HostFacts) -> dict:
    """Docker's ``/version``: Shoal's version, the API versions served, the machine (its architecture
    named as Go names it, as dockerd does here)."""
    details = {"ApiVersion": versions.API_VERSION, "MinAPIVersion": versions.MIN_API_VERSION,
               "Os": "linux", "Arch": GO_ARCHITECTURES.get(host.architecture, host.architecture),
               "KernelVersion": host.kernel}
    return {"Platform": {"Name": "Shoal"},
            "Components": [{"Name": "Engine", "Version": host.server_version, "Details": details}],
            "Version": host.server_version, **details, "GitCommit": "", "GoVersion": "", "BuildTime": ""}

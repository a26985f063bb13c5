"""The object model: what a valid object of each table looks like, checked field by field.

:func:`check_object` is what the store runs on every object a batch writes
(after the create, update or patch, so a patch is judged by the object it
produces); the dispatcher and the control API run the same field checks on
what nodes and clients send before they propose it. A problem raises
:class:`Invalid`, whose message names the field path and the problem on one
line (``Spec.Mode: must hold exactly one of Replicated, Global, ...``).

Shapes follow Docker's objects as docs/architecture.md lists them. A field
may be absent unless a table marks it required, but when present it has its
type, its enum, its bounds (transport/limits.py) and, where an operator will
read it, only printable characters. Required are the fields actors read
without a default: a task's ``ServiceID``, ``DesiredState`` and
``Status.State``, a node's ``Spec.Role`` and ``Status.State``, a named
object's ``Spec.Name``, a lease's ``Holder``, ``Epoch`` and ``Expires``. Maps a user or a node fills in (specs,
descriptions, statuses) are closed: an unknown key is refused rather than
silently ignored. Top-level objects stay open, so Shoal-internal tables may
carry fields of their own.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Callable

from transport import codec, limits, schema, text

Check = Callable[[object, str], None]


class Invalid(ValueError):
    """A value that breaks the model: ``path`` names the field, ``problem`` says what is wrong."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path or 'value'}: {problem}")
        self.path = path
        self.problem = problem


def shown(value) -> str:
    """A short, printable rendering of ``value`` for an error message."""
    return text.escaped(text.clipped(repr(value), 40))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value) -> str:
    return {dict: "a map", list: "a list", str: "a string", bool: "a boolean", bytes: "bytes"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else "null" if value is None else type(value).__name__)


# -- field checks: each returns a Check(value, path) that raises Invalid -------------------------

def string(max_chars: int = limits.STRING_CHARS, *, printable: bool = True, allow: str = "",
           nonempty: bool = False, pattern: str | None = None, choices: tuple[str, ...] | None = None) -> Check:
    """A str of at most ``max_chars``; ``printable`` refuses control characters other than ``allow``;
    ``pattern`` (a full-match regex) or ``choices`` (an enum) narrow it further."""
    matcher = re.compile(pattern) if pattern else None

    def check(value, path):
        if not isinstance(value, str):
            raise Invalid(path, f"must be a string, not {_kind(value)}")
        if choices is not None and value not in choices:
            raise Invalid(path, f"invalid value {shown(value)}: use {', '.join(choices)}")
        if len(value) > max_chars:
            raise Invalid(path, f"{len(value)} characters, more than the limit of {max_chars}")
        if nonempty and not value:
            raise Invalid(path, "must not be empty")
        if printable:
            position = text.first_unprintable(value, allow)
            if position is not None:
                raise Invalid(path, f"unprintable character {value[position]!r} at position {position}")
        if matcher is not None and not matcher.fullmatch(value):
            raise Invalid(path, f"invalid value {shown(value)}")
    return check


def data(max_bytes: int) -> Check:
    """Bytes, at most ``max_bytes`` of them (never quoted in a message: they may be secret)."""
    def check(value, path):
        if not isinstance(value, bytes):
            raise Invalid(path, f"must be bytes, not {_kind(value)}")
        if len(value) > max_bytes:
            raise Invalid(path, f"{len(value)} bytes, more than the limit of {max_bytes}")
    return check


def enum(*choices: str) -> Check:
    """One of ``choices``."""
    return string(choices=choices)


def integer(low: int = 0, high: int = limits.COUNT) -> Check:
    """A whole number (not a boolean) in ``low..high``."""
    def check(value, path):
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(path, f"must be a whole number, not {_kind(value)}")
        if not low <= value <= high:
            raise Invalid(path, f"{shown(value)} is out of range {low}..{high}")
    return check


def number(low: float, high: float) -> Check:
    """A finite int or float in ``low..high``."""
    def check(value, path):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise Invalid(path, f"must be a finite number, not {shown(value)}")
        if not low <= value <= high:
            raise Invalid(path, f"{shown(value)} is out of range {low:g}..{high:g}")
    return check


def boolean(value, path) -> None:
    """A True or False."""
    if not isinstance(value, bool):
        raise Invalid(path, f"must be true or false, not {_kind(value)}")


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


def timestamp(value, path) -> None:
    """An RFC 3339 UTC time as :func:`schema.format_time` writes it, which :func:`schema.parse_time` reads."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise Invalid(path, f"invalid time {shown(value)}: use RFC 3339 UTC, e.g. 2024-01-31T12:00:00.000000000Z")
    try:
        schema.parse_time(value)
    except (ValueError, OverflowError):
        raise Invalid(path, f"invalid time {shown(value)}") from None


def nullable(check: Check) -> Check:
    """``check``, or None."""
    def nullable_check(value, path):
        if value is not None:
            check(value, path)
    return nullable_check


def list_of(item: Check, max_items: int = limits.LIST_ITEMS) -> Check:
    """A list of at most ``max_items`` entries, each passing ``item``."""
    def check(value, path):
        if not isinstance(value, list):
            raise Invalid(path, f"must be a list, not {_kind(value)}")
        if len(value) > max_items:
            raise Invalid(path, f"{len(value)} entries, more than the limit of {max_items}")
        for position, entry in enumerate(value):
            item(entry, f"{path}[{position}]")
    return check


def fields(known: dict[str, Check], required: tuple[str, ...] = (), closed: bool = True) -> Check:
    """A map whose ``known`` keys pass their checks; ``required`` keys must be present; a ``closed``
    map refuses any other key (an open one lets it through unchecked)."""
    def check(value, path):
        if not isinstance(value, dict):
            raise Invalid(path, f"must be a map, not {_kind(value)}")
        for key in required:
            if key not in value:
                raise Invalid(_join(path, key), "is required")
        for key, entry in value.items():
            rule = known.get(key) if isinstance(key, str) else None
            if rule is not None:
                rule(entry, _join(path, key))
            elif closed:
                raise Invalid(path, f"unknown field {shown(key)}")
    return check


def labels(value, path) -> None:
    """A map of at most LABELS printable string keys to printable string values."""
    if not isinstance(value, dict):
        raise Invalid(path, f"must be a map of strings to strings, not {_kind(value)}")
    if len(value) > limits.LABELS:
        raise Invalid(path, f"{len(value)} labels, more than the limit of {limits.LABELS}")
    for key, entry in value.items():
        _LABEL_KEY(key, f"{path} key")
        _LABEL_VALUE(entry, _join(path, key))


_LABEL_KEY = string(limits.LABEL_KEY_CHARS, nonempty=True)
_LABEL_VALUE = string(limits.LABEL_VALUE_CHARS)


def exactly_one(options: dict[str, Check]) -> Check:
    """A map holding exactly one of the ``options`` keys, whose value passes that option's check."""
    names = ", ".join(options)

    def check(value, path):
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in options:
            raise Invalid(path, f"must hold exactly one of {names}, not {shown(value)}")
        key, entry = next(iter(value.items()))
        options[key](entry, _join(path, key))
    return check


def address(value, path) -> None:
    """An IPv4 address or a DNS host name (letters, digits and '-' in dot-separated labels). IPv6 is
    refused for now: endpoints are written ``tcp://ADDR:PORT`` and sockets are not opened for IPv6."""
    _ADDRESS_TEXT(value, path)
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.version == 6:
        raise Invalid(path, f"IPv6 address {shown(value)} is not supported yet: use an IPv4 address or a host name")
    if parsed is None and (not _HOST_NAME.fullmatch(value) or value.replace(".", "").isdigit()):
        raise Invalid(path, f"invalid address {shown(value)}: use an IPv4 address or a host name")


def ipv4(prefix: str = "none") -> Check:
    """An IPv4 address written as text: ``prefix`` ``none`` (``10.0.1.5``), ``required`` (``10.0.1.5/24``,
    an address within its subnet) or ``network`` (``10.0.1.0/24``, host bits zero)."""
    def check(value, path):
        if not isinstance(value, str) or len(value) > 18:
            raise Invalid(path, f"invalid IPv4 {'address' if prefix != 'network' else 'subnet'} {shown(value)}")
        try:
            if prefix == "none":
                ipaddress.IPv4Address(value)
            elif prefix == "required":
                ipaddress.IPv4Interface(value)
                if "/" not in value:
                    raise ValueError(value)
            else:
                ipaddress.IPv4Network(value)
        except ValueError:
            if prefix == "network" and _host_bits_set(value):
                raise Invalid(path, f"invalid IPv4 subnet {shown(value)}: host bits are set (did you mean "
                                    f"{ipaddress.IPv4Network(value, strict=False)}?)") from None
            expected = {"none": "10.0.1.5", "required": "10.0.1.5/24", "network": "10.0.1.0/24"}[prefix]
            raise Invalid(path, f"invalid IPv4 value {shown(value)}: write it as {expected}") from None
    return check


def _host_bits_set(value: str) -> bool:
    """True if ``value`` is a subnet but for bits set past its prefix (``10.0.1.5/24``)."""
    try:
        ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        return False
    return True


_ADDRESS_TEXT = string(limits.HOSTNAME_CHARS, nonempty=True)
_HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


# -- shared fields -----------------------------------------------------------------------------

object_id = string(limits.ID_CHARS, nonempty=True, pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A dispatcher process: its manager's node id, and ``/K`` for a further instance (hostconfig.dispatcher_name).
dispatcher_name = string(limits.ID_CHARS, nonempty=True, pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[0-9]+)?")
name = string(limits.NAME_CHARS, nonempty=True, pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*")
hostname = string(limits.HOSTNAME_CHARS)
public_key = string(limits.KEY_CHARS, nonempty=True)
port_number = integer(1, 65535)
base_port = integer(1, 65535 - limits.HOST_PORT_SPAN)
strings = list_of(string(printable=False))
message = string(limits.STATUS_MESSAGE_CHARS, allow="\t\n")
version = fields({"Index": integer()})

NODE_ROLES = ("manager", "worker")
NODE_STATES = (schema.NODE_UNKNOWN, schema.NODE_READY, schema.NODE_DOWN, "disconnected")
AVAILABILITIES = (schema.ACTIVE, schema.PAUSE, schema.DRAIN)
REACHABILITIES = ("unknown", "unreachable", "reachable")
RESTART_CONDITIONS = ("any", "on-failure", "none")
PROTOCOLS = ("tcp", "udp", "sctp")
PUBLISH_MODES = ("ingress", "host")

# -- services and tasks ------------------------------------------------------------------------

port = fields({"Name": string(limits.NAME_CHARS), "Protocol": enum(*PROTOCOLS), "TargetPort": port_number,
               "PublishedPort": integer(0, 65535), "PublishMode": enum(*PUBLISH_MODES)}, required=("TargetPort",))
endpoint_spec = fields({"Mode": enum("vip", "dnsrr"), "Ports": list_of(port)})
MOUNT_TYPES = ("bind", "volume", "tmpfs")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
mount = fields({
    "Type": enum(*MOUNT_TYPES), "Source": string(), "Target": string(nonempty=True), "ReadOnly": boolean,
    "Consistency": enum("default", "consistent", "cached", "delegated"),
    "BindOptions": fields({"Propagation": enum(*PROPAGATIONS), "NonRecursive": boolean}),
    "VolumeOptions": fields({"NoCopy": boolean, "Labels": labels,
                             "DriverConfig": fields({"Name": string(limits.NAME_CHARS), "Options": labels})}),
    "TmpfsOptions": fields({"SizeBytes": integer(), "Mode": integer(0, 0o7777)})}, required=("Type", "Target"))
healthcheck = fields({"Test": strings, "Interval": integer(), "Timeout": integer(), "Retries": integer(0, 2 ** 31),
                      "StartPeriod": integer(), "StartInterval": integer()})
ulimit = fields({"Name": string(limits.NAME_CHARS, nonempty=True), "Soft": integer(-1, limits.COUNT),
                 "Hard": integer(-1, limits.COUNT)}, required=("Name",))
dns_config = fields({"Nameservers": strings, "Search": strings, "Options": strings})


def numeric_id(value, path) -> None:
    """A user or group id as Docker's File.UID/GID carry it: a string of digits below 2**32 (the engine
    mounts the file with that owner; a name would only fail on the node)."""
    if not isinstance(value, str):
        raise Invalid(path, f"must be a string, not {_kind(value)}")
    if not (0 < len(value) <= 10 and value.isascii() and value.isdigit() and int(value) < 2 ** 32):
        raise Invalid(path, f"invalid id {shown(value)}: a number from 0 to 4294967295")


# A secret or config file in a task's container: Name is its target (a secret's relative target is under
# /run/secrets/), owned by UID:GID with Mode; the reference names the object by ID and name (Docker's shapes).
file_target = fields({"Name": string(limits.PATH_CHARS, nonempty=True), "UID": numeric_id,
                      "GID": numeric_id, "Mode": integer(0, 0o777)}, required=("Name",))
secret_reference = fields({"File": file_target, "SecretID": object_id, "SecretName": name}, required=("File",))
config_reference = fields({"File": file_target, "ConfigID": object_id, "ConfigName": name}, required=("File",))
container_spec = fields({"Image": string(nonempty=True), "Command": strings, "Args": strings, "Env": strings,
                         "Labels": labels, "Hostname": hostname, "Dir": string(), "User": string(), "Groups": strings,
                         "Init": nullable(boolean), "TTY": boolean, "OpenStdin": boolean, "ReadOnly": boolean,
                         "Mounts": list_of(mount), "StopSignal": string(limits.NAME_CHARS), "StopGracePeriod": integer(),
                         "Healthcheck": healthcheck, "Hosts": strings, "DNSConfig": dns_config,
                         "CapabilityAdd": strings, "CapabilityDrop": strings, "Ulimits": list_of(ulimit),
                         "Secrets": list_of(secret_reference), "Configs": list_of(config_reference)})
resource_amounts = fields({"NanoCPUs": integer(), "MemoryBytes": integer(), "Pids": integer()})
resources = fields({"Limits": resource_amounts, "Reservations": resource_amounts})
restart_policy = fields({"Condition": enum(*RESTART_CONDITIONS), "Delay": integer(), "MaxAttempts": integer(),
                         "Window": integer()})
placement = fields({"Constraints": list_of(string(limits.LABEL_KEY_CHARS + limits.LABEL_VALUE_CHARS)),
                    "Preferences": list_of(fields({"Spread": fields({"SpreadDescriptor": string(nonempty=True)},
                                                                    required=("SpreadDescriptor",))})),
                    "MaxReplicas": integer(0, limits.REPLICAS),
                    "Platforms": list_of(fields({"Architecture": string(limits.NAME_CHARS),
                                                 "OS": string(limits.NAME_CHARS)}))})
network_attachment_config = fields({"Target": object_id, "Aliases": list_of(name, limits.NETWORK_ALIASES),
                                   "DriverOpts": labels}, required=("Target",))
task_template = fields({"ContainerSpec": container_spec, "RestartPolicy": restart_policy, "Resources": resources,
                        "Placement": placement, "ForceUpdate": integer(),
                        "Networks": list_of(network_attachment_config, limits.NETWORKS_PER_SERVICE)})
FAILURE_ACTIONS = ("pause", "continue", "rollback")
UPDATE_ORDERS = ("stop-first", "start-first")


def update_config(*failure_actions: str) -> Check:
    """Docker's UpdateConfig (or RollbackConfig, whose failure action cannot be ``rollback``)."""
    return fields({"Parallelism": integer(0, limits.REPLICAS), "Delay": integer(),
                   "FailureAction": enum(*failure_actions), "Monitor": integer(),
                   "MaxFailureRatio": number(0, 1), "Order": enum(*UPDATE_ORDERS)})


service_mode = exactly_one({"Replicated": fields({"Replicas": integer(0, limits.REPLICAS)}),
                            "Global": fields({}),
                            "ReplicatedJob": fields({"MaxConcurrent": integer(0, limits.REPLICAS),
                                                     "TotalCompletions": integer(0, limits.REPLICAS)}),
                            "GlobalJob": fields({})})
service_spec = fields({"Name": name, "Labels": labels, "TaskTemplate": task_template, "Mode": service_mode,
                       "UpdateConfig": update_config(*FAILURE_ACTIONS),
                       "RollbackConfig": update_config("pause", "continue"),
                       "EndpointSpec": endpoint_spec,
                       # Shoal's own: Rebalance (default true) lets the orchestrator even out a spread.
                       "Shoal": fields({"Rebalance": boolean})}, required=("Name",))
UPDATE_STATES = ("updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed")
update_status = fields({"State": enum(*UPDATE_STATES), "StartedAt": timestamp, "CompletedAt": timestamp,
                        "Message": message,
                        # Shoal's own: Step pauses after each batch (``service update --update-step``), StepTaken
                        # says the current step's batch was started; Failed lists the new tasks that failed early.
                        "Shoal": fields({"Step": boolean, "StepTaken": boolean,
                                         "Failed": list_of(object_id, limits.REPLICAS)})})
container_status = fields({"ContainerID": string(limits.ID_CHARS), "PID": nullable(integer(0, 2 ** 31)),
                           "ExitCode": nullable(integer(-2 ** 31, 2 ** 31))})
HEALTH_STATES = ("starting", "healthy", "unhealthy", "none")
_TASK_STATUS_FIELDS = {"Timestamp": timestamp, "State": enum(*schema.TASK_STATES), "Message": message,
                       "Err": string(limits.STATUS_ERR_CHARS, allow="\t\n"), "ContainerStatus": container_status,
                       "PortStatus": fields({"Ports": list_of(port)})}
task_status = fields(_TASK_STATUS_FIELDS, required=("State",))
# What a worker reports for a task: its Status, plus Shoal's Health (stored as the task's Shoal.Health).
status_report = fields({**_TASK_STATUS_FIELDS, "Health": enum(*HEALTH_STATES)}, required=("State",))

# -- nodes -------------------------------------------------------------------------------------

node_description = fields({
    "Hostname": hostname,
    "Platform": fields({"Architecture": string(limits.NAME_CHARS), "OS": string(limits.NAME_CHARS)}),
    "Resources": fields({"NanoCPUs": integer(), "MemoryBytes": integer()}),
    "Engine": fields({"EngineVersion": string(limits.NAME_CHARS), "Labels": labels})})
node_status = fields({"State": enum(*NODE_STATES), "Addr": string(limits.HOSTNAME_CHARS), "Message": message,
                      "Timestamp": timestamp}, required=("State",))
endpoints = fields({"addr": address, "port": base_port}, required=("addr", "port"))
# Where a host's actors serve their metrics (actors/controlapi/discovery.py), from swarm init/join.
METRICS_SCHEMES = ("http", "https")
metrics_endpoint = fields({"addr": address, "scheme": enum(*METRICS_SCHEMES)}, required=("addr", "scheme"))

# -- networks ----------------------------------------------------------------------------------

driver = fields({"Name": string(limits.NAME_CHARS, nonempty=True), "Options": labels}, required=("Name",))
ipam_options = fields({"Driver": driver, "Configs": list_of(fields({"Subnet": ipv4("network"), "Gateway": ipv4(),
                                                                    "IPRange": ipv4("network")}), 1)})
network_spec = fields({"Name": name, "Labels": labels, "DriverConfiguration": driver, "IPAMOptions": ipam_options,
                       "Attachable": boolean, "Internal": boolean, "Ingress": boolean}, required=("Name",))
network_summary = fields({"ID": object_id, "Spec": network_spec, "DriverState": driver, "IPAMOptions": ipam_options},
                         required=("ID",))
addresses = list_of(ipv4("required"), 4)
task_network_attachment = fields({"Network": network_summary, "Addresses": addresses,
                                  "Aliases": list_of(name, limits.NETWORK_ALIASES)}, required=("Network",))
node_network_attachment = fields({"Network": fields({"ID": object_id}, required=("ID",)), "Addresses": addresses},
                                 required=("Network",))
virtual_ip = fields({"NetworkID": object_id, "Addr": ipv4("required")}, required=("NetworkID", "Addr"))

# -- secrets and configs ----------------------------------------------------------------------

# A value sealed with the cluster's data key (actors/common/sealing.py): the ciphertext carries GCM's 16-byte tag.
sealed = fields({"KeyID": string(limits.ID_CHARS, nonempty=True), "Nonce": data(64),
                 "Ciphertext": data(limits.SECRET_BYTES + 16)}, required=("KeyID", "Nonce", "Ciphertext"))
secret_spec = fields({"Name": name, "Labels": labels}, required=("Name",))
config_spec = fields({"Name": name, "Labels": labels, "Data": data(limits.SECRET_BYTES)}, required=("Name", "Data"))

# -- tables ------------------------------------------------------------------------------------

_COMMON = {"ID": object_id, "Version": version, "CreatedAt": timestamp, "UpdatedAt": timestamp}


def _table(known: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    return fields({**_COMMON, **known}, required=("ID",) + required, closed=False)


TABLE_CHECKS: dict[str, Check] = {
    "cluster": _table({
        "Spec": fields({"Name": name, "Labels": labels,
                        "Orchestration": fields({"TaskHistoryRetentionLimit": integer(0, limits.LIST_ITEMS)}),
                        "Dispatcher": fields({"HeartbeatPeriod": integer()}),
                        "EncryptionConfig": fields({"AutoLockManagers": boolean})}),
        "JoinTokens": fields({"Worker": string(limits.TOKEN_CHARS), "Manager": string(limits.TOKEN_CHARS)}),
        "DefaultAddrPool": list_of(ipv4("network"), limits.ADDRESS_POOLS), "SubnetSize": integer(1, 30),
        "Shoal": fields({"AdminKeys": list_of(public_key), "UnlockKey": nullable(sealed)})}),
    "nodes": _table({
        "Spec": fields({"Name": string(limits.NAME_CHARS), "Role": enum(*NODE_ROLES),
                        "Availability": enum(*AVAILABILITIES), "Labels": labels}, required=("Role",)),
        "Description": node_description,
        "Status": node_status,
        "ManagerStatus": nullable(fields({"Leader": boolean, "Reachability": enum(*REACHABILITIES),
                                          "Addr": string(limits.HOSTNAME_CHARS + 6), "Voter": boolean})),
        "Shoal": fields({"PublicKey": public_key, "Endpoints": endpoints, "Metrics": metrics_endpoint, "Dispatcher": dispatcher_name, "Left": timestamp}),
        "Attachments": list_of(node_network_attachment, limits.NETWORKS_PER_NODE)},
        required=("Spec", "Status")),
    "services": _table({
        "Spec": service_spec,
        "PreviousSpec": nullable(service_spec),
        "SpecVersion": version, "PreviousSpecVersion": nullable(version),
        "UpdateStatus": nullable(update_status),
        "JobStatus": fields({"JobIteration": version, "LastExecution": timestamp}),
        "Endpoint": fields({"Spec": endpoint_spec, "Ports": list_of(port),
                            "VirtualIPs": list_of(virtual_ip, limits.NETWORKS_PER_SERVICE + 1)})}, required=("Spec",)),
    "tasks": _table({
        "ServiceID": object_id, "Slot": integer(0, limits.REPLICAS), "NodeID": string(limits.ID_CHARS),
        "Spec": task_template, "ServiceAnnotations": fields({"Name": string(limits.NAME_CHARS), "Labels": labels}),
        "SpecVersion": version, "JobIteration": version,
        "DesiredState": enum(*schema.TASK_STATES), "Status": task_status,
        "Endpoint": fields({"Ports": list_of(port)}),
        "NetworksAttachments": list_of(task_network_attachment, limits.NETWORKS_PER_SERVICE + 1),
        # Shoal's own: RunningAt, the Status.Timestamp of the task's first running report (the updater's
        # monitor window); Restarts, the slot's recent restart moments (epoch seconds) for RestartPolicy.Window.
        "Shoal": fields({"Attempt": integer(), "RestartRefused": message, "Health": enum(*HEALTH_STATES),
                         "Rollback": boolean, "RunningAt": timestamp, "Restarts": list_of(number(0, 1e12))})},
        required=("ServiceID", "DesiredState", "Status")),
    "leases": _table({"Holder": string(limits.ID_CHARS), "Epoch": integer(), "Expires": number(0, 1e12)},
                     required=("Holder", "Epoch", "Expires")),
    "secrets": _table({"Spec": secret_spec, "Sealed": sealed}, required=("Spec", "Sealed")),
    "configs": _table({"Spec": config_spec}, required=("Spec",)),
    "networks": _table({"Spec": network_spec, "DriverState": driver, "IPAMOptions": ipam_options}, required=("Spec",)),
}


def check_object(table: str, obj) -> None:
    """Raise Invalid unless ``obj`` is a valid object of ``table`` (shape, enums, sizes, encoded size)."""
    check = TABLE_CHECKS.get(table)
    if check is None:
        raise Invalid("table", f"unknown table {shown(table)}")
    check(obj, "")
    try:
        size = len(codec.encode(obj))
    except codec.CodecError as exc:
        raise Invalid("", str(exc)) from None
    if size > limits.OBJECT_BYTES:
        raise Invalid("", f"object of {size} bytes, more than the limit of {limits.OBJECT_BYTES}")

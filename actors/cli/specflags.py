"""The flags of ``service create`` and ``service update``, and the ServiceSpec they make.

Docker's CLI is the reference: the same flag names, value formats and
defaults. A flag is either a *scalar* (one spec field: ``--limit-cpu 0.5`` ->
``TaskTemplate.Resources.Limits.NanoCPUs``) or a *collection* (a list or map
field: ``--env`` at create, ``--env-add``/``--env-rm`` at update). One table
drives both commands: :func:`create_spec` builds a new spec, and
:func:`updated_spec` applies an update's flags to the spec read with
``service_inspect`` (removals first, then additions, as Docker does). Flags of
Docker's that name something Shoal does not have (logging drivers, sysctls...)
are declared too, and refused with a one-line error instead of
click's "no such option".

Boolean flags take Docker's forms: ``--init`` and ``--init=false``.
Every problem is a :class:`click.UsageError` naming the flag.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Callable

import click

from actors.cli import flagvalues as fv

SECOND = 1_000_000_000
UPDATE_DEFAULTS = {"Parallelism": 1, "Delay": 0, "FailureAction": "pause", "Monitor": 5 * SECOND,
                   "MaxFailureRatio": 0, "Order": "stop-first"}
RESTART_DEFAULTS = {"Condition": "any", "Delay": 5 * SECOND, "MaxAttempts": 0}
MODES = {"replicated": "Replicated", "global": "Global", "replicated-job": "ReplicatedJob", "global-job": "GlobalJob"}
_CT = "TaskTemplate.ContainerSpec."
_HEALTH = _CT + "Healthcheck."


@dataclass(frozen=True)
class Scalar:
    """A flag that sets one field at ``path``: ``parse`` turns its text into the value; None marks a
    boolean flag (``--init``, ``--init=false``). ``where`` says which commands take it."""
    flag: str
    path: str
    parse: Callable[[str], object] | None
    help: str
    short: str | None = None
    where: tuple[str, ...] = ("create", "update")

    @property
    def key(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Collection:
    """A list (or, with ``is_map``, a map) field at ``path``: ``--NAME`` at create, ``--NAME-add`` and
    ``--NAME-rm`` at update. ``item`` parses a value; an added item replaces any of the same ``key``;
    ``--NAME-rm TEXT`` removes the items for which ``removes(item, TEXT)`` holds. With ``duplicate``, two
    items of one ``key`` given in one command are refused with ``duplicate(item)`` (the later one's)."""
    name: str
    path: str
    item: Callable[[str], object]
    help: str
    rm_help: str
    key: Callable[[object], object] = lambda item: item
    removes: Callable[[object, str], bool] | None = None
    short: str | None = None
    is_map: bool = False
    duplicate: Callable[[object], str] | None = None

    @property
    def flags(self) -> dict[str, str]:
        """click parameter name -> flag, for create (``NAME``) and update (``NAME_add``, ``NAME_rm``)."""
        key = self.name.replace("-", "_")
        return {key: f"--{self.name}", f"{key}_add": f"--{self.name}-add",
                f"{key}_rm": f"--{self.name}-rm"}

    def matches(self, item, text: str) -> bool:
        return self.removes(item, text) if self.removes else self.key(item) == text


def _update_policy(noun: str, participle: str, actions: tuple[str, ...]) -> list[Scalar]:
    """The six ``--update-*`` (or ``--rollback-*``) flags of UpdateConfig (or RollbackConfig)."""
    field = "UpdateConfig." if noun == "update" else "RollbackConfig."
    return [
        Scalar(f"--{noun}-parallelism", field + "Parallelism", fv.whole,
               f"Maximum number of tasks {participle} simultaneously (0 for all at once) [default 1]"),
        Scalar(f"--{noun}-delay", field + "Delay", fv.duration, f"Delay between {noun}s (ns|us|ms|s|m|h) [default 0s]"),
        Scalar(f"--{noun}-failure-action", field + "FailureAction", fv.choice(*actions),
               f"Action on {noun} failure ({'|'.join(actions)}) [default pause]"),
        Scalar(f"--{noun}-monitor", field + "Monitor", fv.duration,
               f"Duration after each task {noun} to monitor for failure (ns|us|ms|s|m|h) [default 5s]"),
        Scalar(f"--{noun}-max-failure-ratio", field + "MaxFailureRatio", fv.ratio,
               f"Failure rate to tolerate during a {noun} [default 0]"),
        Scalar(f"--{noun}-order", field + "Order", fv.choice("start-first", "stop-first"),
               f"{noun.capitalize()} order (start-first|stop-first) [default stop-first]"),
    ]


SCALARS: tuple[Scalar, ...] = (
    Scalar("--image", _CT + "Image", str, "Service image tag", where=("update",)),
    Scalar("--args", _CT + "Args", fv.words, "Service command args", where=("update",)),
    Scalar("--entrypoint", _CT + "Command", fv.words, "Overwrite the default ENTRYPOINT of the image"),
    Scalar("--user", _CT + "User", str, "Username or UID (format: <name|uid>[:<group|gid>])", "-u"),
    Scalar("--workdir", _CT + "Dir", str, "Working directory inside the container", "-w"),
    Scalar("--hostname", _CT + "Hostname", str,
           "Container hostname ({{.Service.Name}}, {{.Task.Slot}}, {{.Node.Hostname}} ...)"),
    Scalar("--stop-signal", _CT + "StopSignal", str, "Signal to stop the container"),
    Scalar("--stop-grace-period", _CT + "StopGracePeriod", fv.duration,
           "Time to wait before force killing a container (ns|us|ms|s|m|h) [default 10s]"),
    Scalar("--init", _CT + "Init", None, "Use an init inside each service container to forward signals and reap processes"),
    Scalar("--read-only", _CT + "ReadOnly", None, "Mount the container's root filesystem as read only"),
    Scalar("--tty", _CT + "TTY", None, "Allocate a pseudo-TTY", "-t"),
    Scalar("--health-cmd", _HEALTH + "Test", lambda text: ["CMD-SHELL", text], "Command to run to check health"),
    Scalar("--health-interval", _HEALTH + "Interval", fv.duration, "Time between running the check (ms|s|m|h)"),
    Scalar("--health-timeout", _HEALTH + "Timeout", fv.duration, "Maximum time to allow one check to run (ms|s|m|h)"),
    Scalar("--health-retries", _HEALTH + "Retries", fv.whole, "Consecutive failures needed to report unhealthy"),
    Scalar("--health-start-period", _HEALTH + "StartPeriod", fv.duration,
           "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)"),
    Scalar("--health-start-interval", _HEALTH + "StartInterval", fv.duration,
           "Time between running the check during the start period (ms|s|m|h)"),
    Scalar("--limit-cpu", "TaskTemplate.Resources.Limits.NanoCPUs", fv.nano_cpus, "Limit CPUs"),
    Scalar("--limit-memory", "TaskTemplate.Resources.Limits.MemoryBytes", fv.memory_bytes, "Limit Memory"),
    Scalar("--limit-pids", "TaskTemplate.Resources.Limits.Pids", fv.whole,
           "Limit maximum number of processes (0 = unlimited)"),
    Scalar("--reserve-cpu", "TaskTemplate.Resources.Reservations.NanoCPUs", fv.nano_cpus, "Reserve CPUs"),
    Scalar("--reserve-memory", "TaskTemplate.Resources.Reservations.MemoryBytes", fv.memory_bytes, "Reserve Memory"),
    Scalar("--replicas-max-per-node", "TaskTemplate.Placement.MaxReplicas", fv.whole,
           "Maximum number of tasks per node (0 = unlimited)"),
    Scalar("--restart-condition", "TaskTemplate.RestartPolicy.Condition", fv.choice("none", "on-failure", "any"),
           "Restart when condition is met (none|on-failure|any) [default any]"),
    Scalar("--restart-delay", "TaskTemplate.RestartPolicy.Delay", fv.duration,
           "Delay between restart attempts (ns|us|ms|s|m|h) [default 5s]"),
    Scalar("--restart-max-attempts", "TaskTemplate.RestartPolicy.MaxAttempts", fv.whole,
           "Maximum number of restarts before giving up"),
    Scalar("--restart-window", "TaskTemplate.RestartPolicy.Window", fv.duration,
           "Window used to evaluate the restart policy (ns|us|ms|s|m|h)"),
    *_update_policy("update", "updated", ("pause", "continue", "rollback")),
    *_update_policy("rollback", "rolled back", ("pause", "continue")),
    Scalar("--endpoint-mode", "EndpointSpec.Mode", fv.choice("vip", "dnsrr"),
           "Endpoint mode (vip or dnsrr) [default vip]"),
    Scalar("--rebalance", "Shoal.Rebalance", None,
           "Even out this service's spread when nodes join (Shoal; --rebalance=false keeps tasks where they are) "
           "[default true]"),
)


def _env_removes(item: str, text: str) -> bool:
    return fv.env_key(item) == text


COLLECTIONS: tuple[Collection, ...] = (
    Collection("env", _CT + "Env", fv.env_item, "Set environment variables (KEY=VALUE)",
               "Remove an environment variable (KEY)", key=fv.env_key, removes=_env_removes, short="-e"),
    Collection("label", "Labels", fv.key_value, "Service labels (KEY=VALUE)", "Remove a service label (KEY)",
               short="-l", is_map=True),
    Collection("container-label", _CT + "Labels", fv.key_value, "Container labels (KEY=VALUE)",
               "Remove a container label (KEY)", is_map=True),
    Collection("constraint", "TaskTemplate.Placement.Constraints", str, "Placement constraints (node.labels.zone==a)",
               "Remove a constraint (as it was added)"),
    Collection("placement-pref", "TaskTemplate.Placement.Preferences", fv.placement_pref,
               "Placement preference (spread=node.labels.zone)", "Remove a placement preference (spread=...)",
               removes=lambda item, text: item == fv.placement_pref(text)),
    Collection("network", "TaskTemplate.Networks", fv.network, "Network attachments (NAME or name=NAME,alias=ALIAS)",
               "Remove a network attachment (its name or id)", key=lambda entry: entry["Target"]),
    Collection("publish", "EndpointSpec.Ports", fv.publish,
               "Publish a port (8080:80, or mode=host,target=80,published=8080)",
               "Remove a published port by its target port (80 or 80/udp)",
               key=lambda port: (port["TargetPort"], port["Protocol"]),
               removes=lambda port, text: (port["TargetPort"], port.get("Protocol", "tcp")) == fv.published_key(text),
               short="-p"),
    Collection("mount", _CT + "Mounts", fv.mount, "Attach a filesystem mount (type=bind,source=/a,target=/b,readonly)",
               "Remove a mount by its target path", key=lambda mount: mount["Target"]),
    Collection("group", _CT + "Groups", str, "Set one or more supplementary user groups for the container",
               "Remove a supplementary user group"),
    Collection("dns", _CT + "DNSConfig.Nameservers", str, "Set custom DNS servers", "Remove a custom DNS server"),
    Collection("dns-option", _CT + "DNSConfig.Options", str, "Set DNS options", "Remove a DNS option"),
    Collection("dns-search", _CT + "DNSConfig.Search", str, "Set custom DNS search domains", "Remove a DNS search domain"),
    Collection("host", _CT + "Hosts", fv.host, "Set one or more custom host-to-IP mappings (host:ip)",
               "Remove a custom host-to-IP mapping (host:ip, or host)",
               removes=lambda entry, text: fv.host_matches(entry, fv.host_key(text))),
    Collection("secret", _CT + "Secrets", fv.file_reference("Secret", ""),
               "Specify secrets to expose to the service (NAME or source=NAME,target=PATH,uid=,gid=,mode=)",
               "Remove a secret (its name)", key=lambda ref: ref["File"]["Name"],
               removes=fv.file_reference_matches("Secret"), duplicate=fv.duplicate_target("Secret")),
    Collection("config", _CT + "Configs", fv.file_reference("Config", "/"),
               "Specify configurations to expose to the service (NAME or source=NAME,target=PATH,uid=,gid=,mode=)",
               "Remove a configuration file (its name)", key=lambda ref: ref["File"]["Name"],
               removes=fv.file_reference_matches("Config"), duplicate=fv.duplicate_target("Config")),
    Collection("ulimit", _CT + "Ulimits", fv.ulimit, "Ulimit options (nofile=1024:2048)", "Remove a ulimit by its name",
               key=lambda limit: limit["Name"], removes=lambda limit, text: limit["Name"] == fv.ulimit_name(text)),
)

# Docker flags naming what Shoal does not have yet: refused, never silently dropped. A list family
# (``secret``) is ``--secret`` at create and ``--secret-add``/``--secret-rm`` at update.
UNSUPPORTED_LISTS = {"generic-resource": "Shoal schedules CPU, memory and pids only",
                     "sysctl": "not part of Shoal's container spec yet"}
UNSUPPORTED_VALUES = {"--log-driver": "tasks log to the engine's default driver",
                      "--log-opt": "tasks log to the engine's default driver",
                      "--oom-score-adj": "not part of Shoal's container spec yet",
                      "--credential-spec": "Windows only", "--isolation": "Windows only"}
UNSUPPORTED_SWITCHES = {"--with-registry-auth": "Shoal's nodes pull with their engine's own credentials",
                        "--no-resolve-image": "Shoal never resolves image digests (images are used as named)"}


def _unsupported(command: str) -> dict[str, str]:
    """Refused value-taking flags of ``command`` -> why."""
    lists = {(f"--{name}",) if command == "create" else (f"--{name}-add", f"--{name}-rm"): why
             for name, why in UNSUPPORTED_LISTS.items()}
    return {**{flag: why for flags, why in lists.items() for flag in flags}, **UNSUPPORTED_VALUES}


# -- click wiring ------------------------------------------------------------------------------

def _bool_text(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "t"):
        return True
    if lowered in ("false", "0", "f"):
        return False
    raise ValueError("use true or false")


_METAVARS = {fv.duration: "duration", fv.whole: "uint", fv.nano_cpus: "decimal", fv.memory_bytes: "bytes",
             fv.ratio: "float", fv.words: "command"}


def _refusal(why: str):
    def refuse(ctx, param, value):
        if value:
            raise click.UsageError(f"{param.opts[0]} is not supported: {why}")
    return refuse


def options(command: str):
    """A decorator adding every spec flag of ``command`` (``create`` or ``update``) to a click command."""
    decorators = []
    for scalar in SCALARS:
        if command in scalar.where:
            names = [scalar.flag] + ([scalar.short] if scalar.short else [])
            metavar = _METAVARS.get(scalar.parse, "string") if scalar.parse else "[=true|false]"
            decorators.append(click.option(*names, scalar.key, default=None, help=scalar.help, metavar=metavar))
    decorators.append(click.option("--no-healthcheck", is_flag=True, default=None,
                                   help="Disable any container-specified HEALTHCHECK"))
    decorators.append(click.option("--cap-add", multiple=True, help="Add Linux capabilities"))
    decorators.append(click.option("--cap-drop", multiple=True, help="Drop Linux capabilities"))
    for collection in COLLECTIONS:
        create_key, add_key, rm_key = collection.flags
        if command == "create":
            short = [collection.short] if collection.short else []
            decorators.append(click.option(collection.flags[create_key], *short, create_key, multiple=True,
                                           help=collection.help))
        else:
            decorators.append(click.option(collection.flags[add_key], add_key, multiple=True, help=collection.help))
            decorators.append(click.option(collection.flags[rm_key], rm_key, multiple=True, help=collection.rm_help))
    if command == "create":
        decorators.append(click.option("--env-file", "env_file", multiple=True,
                                       help="Read in a file of environment variables"))
    for flag, why in _unsupported(command).items():
        decorators.append(click.option(flag, multiple=True, hidden=True, expose_value=False, callback=_refusal(why)))
    for flag, why in UNSUPPORTED_SWITCHES.items():
        decorators.append(click.option(flag, is_flag=True, hidden=True, expose_value=False, callback=_refusal(why)))

    def decorate(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return decorate


class SpecCommand(click.Command):
    """A click command that reads Docker's boolean forms: a bare ``--init`` means ``--init=true``
    (so it never takes the next word), ``--init=false`` turns it off."""

    def parse_args(self, ctx, args):
        booleans = {scalar.flag: scalar.flag for scalar in SCALARS if scalar.parse is None}
        booleans.update({scalar.short: scalar.flag for scalar in SCALARS if scalar.parse is None and scalar.short})
        taking_value = {name for param in self.params if isinstance(param, click.Option) and not param.is_flag
                        for name in param.opts + param.secondary_opts}
        rewritten, position = [], 0
        while position < len(args):
            token = args[position]
            if token == "--" or not token.startswith("-") and not ctx.allow_interspersed_args:
                rewritten.extend(args[position:])
                break
            if token in booleans:
                token = f"{booleans[token]}=true"
            elif token in taking_value and "=" not in token:
                rewritten.append(token)
                position += 1
                token = args[position] if position < len(args) else None
                if token is None:
                    break
            rewritten.append(token)
            position += 1
        return super().parse_args(ctx, rewritten)


# -- building specs ----------------------------------------------------------------------------

def _parsed(flag: str, parse: Callable[[str], object], text: str):
    try:
        return parse(text)
    except ValueError as exc:
        raise click.UsageError(f'invalid argument "{text}" for "{flag}" flag: {exc}') from None


def _parent(spec: dict, path: str) -> tuple[dict, str]:
    """(the map holding ``path``'s last key, that key), creating the maps on the way."""
    *parents, leaf = path.split(".")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    return node, leaf


def _container(spec: dict, path: str, make):
    """The list or map at ``path``, made with ``make`` when absent."""
    node, leaf = _parent(spec, path)
    if node.get(leaf) is None:
        node[leaf] = make()
    return node[leaf]


def _set(spec: dict, path: str, value) -> None:
    node, leaf = _parent(spec, path)
    node[leaf] = value


def _apply_scalars(spec: dict, values: dict) -> None:
    for scalar in SCALARS:
        text = values.get(scalar.key)
        if text is None:
            continue
        value = _parsed(scalar.flag, scalar.parse or _bool_text, text)
        _set(spec, scalar.path, value)


def _apply_collections(spec: dict, values: dict, adding: str) -> None:
    """Removals (``NAME_rm``) then additions (the ``adding`` key of each collection's flags)."""
    for collection in COLLECTIONS:
        flags = collection.flags
        create_key, update_key, rm_key = flags
        add_key = create_key if adding == "create" else update_key
        removals, additions = values.get(rm_key) or (), values.get(add_key) or ()
        if collection.name == "env" and adding == "create":
            additions = tuple(_env_file_entries(values.get("env_file") or ())) + tuple(additions)
        if not removals and not additions:
            continue
        if collection.is_map:
            mapping = _container(spec, collection.path, dict)
            for text in removals:
                mapping.pop(text, None)
            for text in additions:
                key, value = _parsed(flags[add_key], collection.item, text)
                mapping[key] = value
            continue
        items = _container(spec, collection.path, list)
        items[:] = [item for item in items if not any(collection.matches(item, text) for text in removals)]
        added = []
        for text in additions:
            item = _parsed(flags[add_key], collection.item, text)
            if collection.duplicate and any(collection.key(other) == collection.key(item) for other in added):
                raise click.UsageError(collection.duplicate(item))
            added.append(item)
            items[:] = [old for old in items if collection.key(old) != collection.key(item)] + [item]


def _env_file_entries(paths) -> list[str]:
    entries = []
    for path in paths:
        entries += _parsed("--env-file", lambda p: fv.env_file(p, dict(os.environ)), path)
    return entries


def _check_health(values: dict) -> None:
    if values.get("no_healthcheck") and any(values.get(s.key) is not None for s in SCALARS if s.path.startswith(_HEALTH)):
        raise click.UsageError("--no-healthcheck conflicts with --health-* options")


def _apply_health_off(spec: dict, values: dict) -> None:
    if values.get("no_healthcheck"):
        _set(spec, _CT + "Healthcheck", {"Test": ["NONE"]})


def _apply_capabilities(spec: dict, values: dict) -> None:
    """``--cap-add X`` adds X to CapabilityAdd and takes it out of CapabilityDrop; ``--cap-drop`` the reverse."""
    container = spec["TaskTemplate"]["ContainerSpec"]
    for flag, field, other in (("cap_add", "CapabilityAdd", "CapabilityDrop"),
                               ("cap_drop", "CapabilityDrop", "CapabilityAdd")):
        for capability in values.get(flag) or ():
            container[other] = [c for c in container.get(other) or [] if c != capability]
            if capability not in container.setdefault(field, []):
                container[field].append(capability)


def _mode(mode: str, replicas: int | None, max_concurrent: int | None) -> dict:
    if replicas is not None and mode not in ("replicated", "replicated-job"):
        raise click.UsageError("replicas can only be used with replicated or replicated-job mode")
    if max_concurrent is not None and mode != "replicated-job":
        raise click.UsageError("max-concurrent can only be used with replicated-job mode")
    if mode == "replicated":
        return {"Replicated": {"Replicas": 1 if replicas is None else replicas}}
    if mode == "replicated-job":
        concurrent = 1 if max_concurrent is None else max_concurrent
        return {"ReplicatedJob": {"MaxConcurrent": concurrent,
                                  "TotalCompletions": concurrent if replicas is None else replicas}}
    return {MODES[mode]: {}}


def create_spec(name: str, image: str, args: list[str], mode: str, replicas: int | None,
                max_concurrent: int | None, values: dict) -> dict:
    """The ServiceSpec ``service create`` sends: Docker's defaults (restart any after 5s, update and
    rollback policies), then every flag in ``values`` (click's parameters by name)."""
    if mode not in MODES:
        raise click.UsageError(f"invalid mode {mode!r}: use {', '.join(MODES)}")
    _check_health(values)
    jobs = mode.endswith("-job")
    spec = {"Name": name, "Labels": {},
            "TaskTemplate": {"ContainerSpec": {"Image": image, "Args": list(args)},
                             # A job's task that completed must not run again: Docker's jobs restart on failure only.
                             "RestartPolicy": {**RESTART_DEFAULTS, "Condition": "on-failure" if jobs else "any"},
                             "ForceUpdate": 0},
            "Mode": _mode(mode, replicas, max_concurrent),
            "UpdateConfig": dict(UPDATE_DEFAULTS), "RollbackConfig": dict(UPDATE_DEFAULTS),
            "EndpointSpec": {"Ports": []}}
    _apply_health_off(spec, values)
    _apply_scalars(spec, values)
    _apply_collections(spec, values, "create")
    _apply_capabilities(spec, values)
    return spec


def updated_spec(current: dict, values: dict, replicas: int | None = None, max_concurrent: int | None = None,
                 force: bool = False) -> dict:
    """``current`` (a service's Spec) changed by the update flags in ``values``; ``force`` bumps
    TaskTemplate.ForceUpdate so every task is replaced even when nothing else changed."""
    _check_health(values)
    spec = copy.deepcopy(current)
    spec.setdefault("TaskTemplate", {}).setdefault("ContainerSpec", {})
    _apply_health_off(spec, values)
    _apply_scalars(spec, values)
    _apply_collections(spec, values, "update")
    _apply_capabilities(spec, values)
    mode = spec.get("Mode") or {"Replicated": {}}
    if replicas is not None:
        if "Replicated" in mode:
            mode["Replicated"]["Replicas"] = replicas
        elif "ReplicatedJob" in mode:
            mode["ReplicatedJob"]["TotalCompletions"] = replicas
        else:
            raise click.UsageError("replicas can only be used with replicated or replicated-job mode")
    if max_concurrent is not None:
        if "ReplicatedJob" not in mode:
            raise click.UsageError("max-concurrent can only be used with replicated-job mode")
        mode["ReplicatedJob"]["MaxConcurrent"] = max_concurrent
    spec["Mode"] = mode
    if force:
        spec["TaskTemplate"]["ForceUpdate"] = spec["TaskTemplate"].get("ForceUpdate", 0) + 1
    return spec

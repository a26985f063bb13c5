"""A loaded project as Shoal's specs, named and labelled as ``docker stack deploy`` names them.

Every object the stack creates is ``STACK_NAME`` (unless the file gives it a
``name``) and carries the label ``com.docker.stack.namespace=STACK``; a service
also carries ``com.docker.stack.image`` (the image as the file wrote it), its
containers the namespace label too. A service that names no network joins
``STACK_default``, created for it; each service is reachable on each of its
networks by its short name (an alias), as in Docker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from actors.cli.specflags import RESTART_DEFAULTS, UPDATE_DEFAULTS
from actors.stack.compose import Project
from actors.common import constraints
from actors.stack.errors import ComposeError
from transport import limits, model

NAMESPACE = "com.docker.stack.namespace"
IMAGE = "com.docker.stack.image"
DEFAULT_NETWORK = "default"
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class Declared:
    """A network, secret or config of the stack: ``name`` as the cluster knows it; ``spec`` to create it
    (None when external); ``data`` for a secret or config made by the stack."""
    key: str
    name: str
    spec: dict | None
    data: bytes | None = None


@dataclass
class Stack:
    """What a deploy makes: networks, secrets and configs by compose name, and each service's spec."""
    name: str
    networks: dict[str, Declared] = field(default_factory=dict)
    secrets: dict[str, Declared] = field(default_factory=dict)
    configs: dict[str, Declared] = field(default_factory=dict)
    services: dict[str, dict] = field(default_factory=dict)


def check_stack_name(name: str) -> None:
    """ComposeError unless ``name`` can prefix Docker-style object names."""
    if not _STACK_NAME.fullmatch(name) or len(name) > limits.NAME_CHARS - 2:
        raise ComposeError(f"invalid stack name {name!r}: use letters, digits, '_', '.', '-' "
                           f"(at most {limits.NAME_CHARS - 2})")


def stack_labels(stack: str, labels: dict | None = None) -> dict[str, str]:
    """``labels`` plus the namespace label."""
    return {**(labels or {}), NAMESPACE: stack}


def convert(project: Project, stack: str) -> Stack:
    """The Stack named ``stack`` that ``project`` describes; ComposeError for a reference to something not
    declared, or a name too long for the cluster."""
    check_stack_name(stack)
    config, out = project.config, Stack(stack)
    used_networks = {name for service in config["services"].values()
                     for name in (service.get("networks") or {DEFAULT_NETWORK: None})}
    declared_networks = dict(config["networks"])
    if DEFAULT_NETWORK in used_networks:
        declared_networks.setdefault(DEFAULT_NETWORK, {"labels": {}, "external": False})
    for key, network in declared_networks.items():
        out.networks[key] = Declared(key, *_network(stack, key, network, project))
    for section, target in (("secrets", out.secrets), ("configs", out.configs)):
        for key, entry in config[section].items():
            name = _scoped(stack, key, entry, project, (section, key))
            spec = None if entry["external"] else {"Name": name, "Labels": stack_labels(stack, entry["labels"])}
            target[key] = Declared(key, name, spec, entry.get("data"))
    for key, service in sorted(config["services"].items()):
        out.services[key] = service_spec(stack, key, service, out, project)
    return out


def _scoped(stack: str, key: str, entry: dict, project: Project, path: tuple) -> str:
    name = entry.get("name") or (key if entry["external"] else f"{stack}_{key}")
    if len(name) > limits.NAME_CHARS or not _STACK_NAME.fullmatch(name):
        raise project.positions.error(path, f"invalid name {name!r}: use letters, digits, '_', '.', '-' "
                                            f"(at most {limits.NAME_CHARS})")
    return name


def _network(stack: str, key: str, network: dict, project: Project) -> tuple[str, dict | None]:
    name = _scoped(stack, key, network, project, ("networks", key))
    if network["external"]:
        return name, None
    spec = {"Name": name, "Labels": stack_labels(stack, network["labels"]),
            "DriverConfiguration": {"Name": "overlay", "Options": {}}, "Internal": network.get("internal", False)}
    if network.get("subnet"):
        spec["IPAMOptions"] = {"Driver": {"Name": "default"},
                               "Configs": [{spec_key: network[compose_key]
                                            for spec_key, compose_key in (("Subnet", "subnet"), ("Gateway", "gateway"))
                                            if network.get(compose_key)}]}
    try:
        model.network_spec(spec, "spec")
    except model.Invalid as exc:
        raise project.positions.error(("networks", key), f"invalid {exc}") from None
    return name, spec


def service_spec(stack: str, key: str, service: dict, out: Stack, project: Project) -> dict:
    """The ServiceSpec of the compose service ``key``: Docker's defaults as ``service create`` has them,
    then what the file says."""
    path = ("services", key)
    name = f"{stack}_{key}"
    if len(name) > limits.NAME_CHARS:
        raise project.positions.error(path, f"service name {name} is longer than {limits.NAME_CHARS} characters")
    if not service.get("image"):
        raise project.positions.error(path, "a service needs an image (Swarm does not build images)")
    deploy = service.get("deploy") or {}
    container = _container(stack, key, service, out, project)
    spec = {"Name": name,
            "Labels": stack_labels(stack, {**_texts(deploy.get("labels")), IMAGE: service["image"]}),
            "TaskTemplate": {"ContainerSpec": container,
                             "RestartPolicy": _restart(deploy, service),
                             "Resources": _resources(deploy.get("resources") or {}),
                             "Placement": _placement(deploy.get("placement") or {}),
                             "Networks": _attachments(key, service, out, project),
                             "ForceUpdate": 0},
            "Mode": _mode(deploy, project, path),
            "UpdateConfig": _policy(deploy.get("update_config")),
            "RollbackConfig": _policy(deploy.get("rollback_config")),
            "EndpointSpec": {"Mode": deploy.get("endpoint_mode", "vip"),
                             "Ports": sorted(service.get("ports", []), key=lambda p: (
                                 p["Protocol"], p["TargetPort"], p["PublishedPort"], p["PublishMode"]))}}
    _check(spec, project, path)
    return spec


def _check(spec: dict, project: Project, path: tuple) -> None:
    """ComposeError (at the service) for a spec the control API would refuse by its model or its placement
    rules, so that the deploy stops before its first write."""
    try:
        model.service_spec(spec, "spec")
        placement = spec["TaskTemplate"]["Placement"]
        constraints.parse(placement.get("Constraints") or [])
        for preference in placement.get("Preferences") or []:
            constraints.parse_spread(preference["Spread"]["SpreadDescriptor"])
    except (model.Invalid, ValueError) as exc:
        raise project.positions.error(path, f"invalid {exc}" if isinstance(exc, model.Invalid) else str(exc)) from None
    if placement.get("MaxReplicas") and "Replicated" not in spec["Mode"] and "ReplicatedJob" not in spec["Mode"]:
        raise project.positions.error(path + ("deploy", "placement"), "max_replicas_per_node can only be used with "
                                                                      "replicated or replicated-job mode")


def _texts(pairs: dict | None) -> dict[str, str]:
    return {key: value or "" for key, value in (pairs or {}).items()}


def _container(stack: str, key: str, service: dict, out: Stack, project: Project) -> dict:
    container = {"Image": service["image"], "Labels": stack_labels(stack, _texts(service.get("labels")))}
    for compose_key, field_ in (("entrypoint", "Command"), ("command", "Args"), ("hostname", "Hostname"),
                                ("working_dir", "Dir"), ("user", "User"), ("group_add", "Groups"),
                                ("stop_grace_period", "StopGracePeriod"), ("stop_signal", "StopSignal"),
                                ("init", "Init"), ("tty", "TTY"), ("stdin_open", "OpenStdin"),
                                ("read_only", "ReadOnly"), ("extra_hosts", "Hosts"), ("cap_add", "CapabilityAdd"),
                                ("cap_drop", "CapabilityDrop")):
        if compose_key in service:
            container[field_] = service[compose_key]
    if service.get("ulimits"):
        container["Ulimits"] = sorted(service["ulimits"], key=lambda limit: limit["Name"])
    environment = service.get("environment") or {}
    if environment:
        container["Env"] = sorted(k if v is None else f"{k}={v}" for k, v in environment.items())
    dns = {field_: service[compose_key] for compose_key, field_ in (("dns", "Nameservers"), ("dns_search", "Search"),
                                                                   ("dns_opt", "Options")) if compose_key in service}
    if dns:
        container["DNSConfig"] = dns
    if "healthcheck" in service:
        container["Healthcheck"] = {_HEALTH[k]: v for k, v in service["healthcheck"].items()}
    mounts = [_mount(stack, mount, out, project, ("services", key, "volumes")) for mount in service.get("volumes", [])]
    if mounts:
        container["Mounts"] = mounts
    for section, name_field in (("secrets", "SecretName"), ("configs", "ConfigName")):
        references = [_reference(entry, getattr(out, section), section, name_field, project, ("services", key, section))
                      for entry in service.get(section, [])]
        if references:  # sorted as Docker sorts them, so that order alone never rolls a service
            container[section.capitalize()] = sorted(references, key=lambda reference: reference[name_field])
    return container


_HEALTH = {"test": "Test", "interval": "Interval", "timeout": "Timeout", "retries": "Retries",
           "start_period": "StartPeriod", "start_interval": "StartInterval"}


def _reference(entry: dict, declared: dict[str, Declared], section: str, name_field: str, project: Project,
               path: tuple) -> dict:
    """A ContainerSpec secret or config entry (by name: the control API resolves the id) for the service's
    ``entry``; the target defaults to the source, which the executor puts under /run/secrets/ for a secret
    and / for a config, as Docker does."""
    source = entry["source"]
    if source not in declared:
        raise project.positions.error(path, f"undefined {section[:-1]} {source!r}: declare it in the top-level "
                                            f"{section}")
    return {"File": {"Name": entry.get("target") or source, "UID": entry.get("uid", "0"),
                     "GID": entry.get("gid", "0"), "Mode": entry.get("mode", 0o444)},
            name_field: declared[source].name}


def _mount(stack: str, mount: dict, out: Stack, project: Project, path: tuple) -> dict:
    """A compose mount with a named volume's Source scoped and its driver and labels from the top level."""
    mount = dict(mount)
    if mount["Type"] != "volume" or not mount.get("Source"):
        return mount
    volumes = project.config["volumes"]
    source = mount["Source"]
    if source not in volumes:
        raise project.positions.error(path, f"undefined volume {source!r}: declare it in the top-level volumes")
    volume = volumes[source]
    mount["Source"] = _scoped(stack, source, volume, project, ("volumes", source))
    if volume["external"]:
        return mount
    options = dict(mount.get("VolumeOptions") or {})
    options["Labels"] = stack_labels(stack, volume["labels"])
    if volume.get("driver"):
        options["DriverConfig"] = {"Name": volume["driver"], "Options": volume.get("driver_opts") or {}}
    mount["VolumeOptions"] = options
    return mount


def _attachments(key: str, service: dict, out: Stack, project: Project) -> list[dict]:
    """The service's networks by name, each with the aliases the file gives plus the service's short name."""
    entries = []
    for network, options in (service.get("networks") or {DEFAULT_NETWORK: None}).items():
        if network not in out.networks:
            raise project.positions.error(("services", key, "networks"),
                                          f"service {key!r} refers to undefined network {network!r}")
        aliases = list((options or {}).get("aliases", []))
        if key not in aliases:
            aliases.append(key)
        entries.append({"Target": out.networks[network].name, "Aliases": aliases})
    return sorted(entries, key=lambda entry: entry["Target"])


def _mode(deploy: dict, project: Project, path: tuple) -> dict:
    mode = deploy.get("mode", "replicated")
    replicas = deploy.get("replicas")
    if replicas is not None and mode not in ("replicated", "replicated-job"):
        raise project.positions.error(path + ("deploy", "replicas"), "replicas can only be used with replicated "
                                                                     "or replicated-job mode")
    if mode == "replicated":
        return {"Replicated": {"Replicas": 1 if replicas is None else replicas}}
    if mode == "replicated-job":
        count = 1 if replicas is None else replicas
        return {"ReplicatedJob": {"MaxConcurrent": count, "TotalCompletions": count}}
    return {"Global": {}} if mode == "global" else {"GlobalJob": {}}


def _restart(deploy: dict, service: dict) -> dict:
    jobs = deploy.get("mode", "").endswith("-job")
    policy = deploy.get("restart_policy") or service.get("restart") or {}
    out = {**RESTART_DEFAULTS, "Condition": "on-failure" if jobs else "any"}
    for compose_key, field_ in (("condition", "Condition"), ("delay", "Delay"), ("max_attempts", "MaxAttempts"),
                                ("window", "Window")):
        if compose_key in policy:
            out[field_] = policy[compose_key]
    return out


def _resources(resources: dict) -> dict:
    out = {}
    for compose_key, field_ in (("limits", "Limits"), ("reservations", "Reservations")):
        amounts = resources.get(compose_key)
        if amounts:
            out[field_] = {name: amounts[k] for k, name in (("cpus", "NanoCPUs"), ("memory", "MemoryBytes"),
                                                            ("pids", "Pids")) if k in amounts}
    return out


def _placement(placement: dict) -> dict:
    out = {}
    if placement.get("constraints"):
        out["Constraints"] = placement["constraints"]
    if placement.get("preferences"):
        out["Preferences"] = [{"Spread": {"SpreadDescriptor": spread}} for spread in placement["preferences"]]
    if placement.get("max_replicas_per_node"):
        out["MaxReplicas"] = placement["max_replicas_per_node"]
    return out


def _policy(policy: dict | None) -> dict:
    out = dict(UPDATE_DEFAULTS)
    for compose_key, field_ in (("parallelism", "Parallelism"), ("delay", "Delay"), ("failure_action", "FailureAction"),
                                ("monitor", "Monitor"), ("max_failure_ratio", "MaxFailureRatio"), ("order", "Order")):
        if compose_key in (policy or {}):
            out[field_] = policy[compose_key]
    return out

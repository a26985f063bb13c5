"""A task's container, as the engine's create request: ContainerSpec, Resources and host-mode ports
turned into docker-py's ``create_container`` and ``create_host_config`` arguments, as Swarm does.

Pure: :func:`create_arguments` reads only the task and the node it runs on.
Swarm's templates are expanded in the hostname, the environment and the
mounts (templates.py). Each option maps as in Docker's swarm executor:
Command replaces the image's entrypoint and Args follow it; Mounts go to the
engine as they are (the engine's mount type has the spec's shape); Hosts
entries ``IP name [alias...]`` become ``name:IP`` extra hosts; Resources
Limits become the container's CPU, memory and pids limits and the memory
reservation its soft limit (a CPU reservation only guides placement).

A task on networks (``NetworksAttachments``) is attached to each network's
bridge network on the engine (actors/network/bridges.py) with its allocated
IPv4 address and the MAC derived from it: the first at create, the others
connected before start (:attr:`CreateArguments.networks`); its DNS servers
are the host's (dns.container_nameservers) followed by the spec's or the
host's own. A task on no network keeps the engine's default bridge.
"""

from __future__ import annotations

import copy
import dataclasses

from actors.executor import core, templates
from actors.network import dns, nft, overlay
from transport import schema


@dataclasses.dataclass(frozen=True)
class CreateArguments:
    """Keyword arguments of docker-py's ``create_container`` (without name and labels) and
    ``create_host_config``."""

    container: dict
    host_config: dict
    networks: tuple[tuple[str, str], ...] = ()  # (engine network, IPv4 address) to connect before the start


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A task's place on one network: the network's id, its bridge network's name on the engine, and
    the task's IPv4 address there (None if the allocator gave none)."""

    network_id: str
    engine_network: str
    address: str | None


def endpoints(task: dict) -> list[Endpoint]:
    """The task's endpoints, one per network it is attached to, in its ``NetworksAttachments`` order."""
    found = []
    for attachment in task.get("NetworksAttachments") or ():
        network = attachment.get("Network") or {}
        addresses = attachment.get("Addresses") or []
        found.append(Endpoint(network["ID"], overlay.docker_network_name(
            network["ID"], schema.get_path(network, "Spec.Name") or network["ID"]),
            nft.address_of(addresses[0]) if addresses else None))
    return found


def network_options(task: dict, network_state: dict | None, resolvers: list[str]) -> tuple[dict, dict, tuple]:
    """The container and host-config arguments that attach the task to its first network, and the
    (engine network, address) pairs of the others; empty for a task on no network (the default bridge).
    ``resolvers``: the host's own DNS servers, used after the host's when the spec names none."""
    attached = endpoints(task)
    if not attached:
        return {}, {}, ()
    first = attached[0]
    endpoint = {"IPAMConfig": {"IPv4Address": first.address}} if first.address else {}
    container = {"networking_config": {"EndpointsConfig": {first.engine_network: endpoint}},
                 "mac_address": overlay.derived_mac(first.address) if first.address else None}
    spec_servers = schema.get_path(task, "Spec.ContainerSpec.DNSConfig.Nameservers") or []
    servers = dns.container_nameservers(network_state or {"Networks": []},
                                        [endpoint.network_id for endpoint in attached], spec_servers or resolvers)
    host_config = {"network_mode": first.engine_network, "dns": servers or None}
    return container, host_config, tuple((e.engine_network, e.address) for e in attached[1:])


def host_port_bindings(task: dict) -> dict:
    """docker-py port bindings (``"80/tcp": 8080``) of the task's host-mode published ports.

    A host-mode port without a published port gets one the engine picks.
    """
    return {f"{port['TargetPort']}/{port.get('Protocol') or 'tcp'}": port.get("PublishedPort") or None
            for port in schema.get_path(task, "Endpoint.Ports") or []
            if port.get("PublishMode") == "host"}


def exposed_ports(task: dict) -> list[tuple[int, str]]:
    """The container ports to expose for the task's host-mode published ports, as docker-py's
    ``(port, protocol)`` pairs (a ``"80/tcp"`` string would get a second ``/tcp``)."""
    return [(port["TargetPort"], port.get("Protocol") or "tcp")
            for port in schema.get_path(task, "Endpoint.Ports") or [] if port.get("PublishMode") == "host"]


def extra_hosts(entries: list[str]) -> list[str]:
    """Docker's ``name:IP`` extra hosts for ContainerSpec.Hosts entries ``IP name [alias...]``
    (the hosts(5) format); an entry without a name adds nothing, as in Swarm."""
    hosts = []
    for entry in entries:
        parts = entry.split()
        hosts.extend(f"{name}:{parts[0]}" for name in parts[1:])
    return hosts


def expanded_mount(mount: dict, fields: dict) -> dict:
    """A spec mount with templates expanded in its source, target, volume labels and driver options."""
    mount = copy.deepcopy(mount)
    for key in ("Source", "Target"):
        if mount.get(key):
            mount[key] = templates.expand(mount[key], fields)
    volume = mount.get("VolumeOptions") or {}
    for values in (volume.get("Labels"), (volume.get("DriverConfig") or {}).get("Options")):
        for key, value in (values or {}).items():
            values[key] = templates.expand(value, fields)
    return mount


def resource_options(resources: dict) -> dict:
    """``create_host_config`` arguments for a task's Resources: limits (NanoCPUs, MemoryBytes,
    Pids) and the memory reservation; zero or absent means unlimited, as in Docker."""
    limits, reservations = resources.get("Limits") or {}, resources.get("Reservations") or {}
    chosen = {"nano_cpus": limits.get("NanoCPUs"), "mem_limit": limits.get("MemoryBytes"),
              "pids_limit": limits.get("Pids"), "mem_reservation": reservations.get("MemoryBytes")}
    return {key: value for key, value in chosen.items() if value}


def create_arguments(task: dict, node: dict, network_state: dict | None = None,
                     resolvers: list[str] = (), file_mounts: list[dict] = ()) -> CreateArguments:
    """The engine arguments that create ``task``'s container on ``node`` (its id and Description), on
    a host whose network state is ``network_state`` and whose own DNS servers are ``resolvers``, with
    ``file_mounts`` (the bind mounts of its secret and config files, taskfiles.bind_mounts) after the
    spec's mounts.

    Raises templates.TemplateError for a template that cannot be expanded.
    """
    spec = schema.get_path(task, "Spec.ContainerSpec") or {}
    fields = templates.context(task, node)
    dns = spec.get("DNSConfig") or {}
    ports = host_port_bindings(task)
    host_config = {
        "port_bindings": ports or None,
        "mounts": [expanded_mount(mount, fields) for mount in spec.get("Mounts") or []] + list(file_mounts) or None,
        "read_only": spec.get("ReadOnly") or None,
        "init": spec.get("Init"),
        "group_add": spec.get("Groups") or None,
        "cap_add": spec.get("CapabilityAdd") or None,
        "cap_drop": spec.get("CapabilityDrop") or None,
        "ulimits": spec.get("Ulimits") or None,
        "dns": dns.get("Nameservers") or None,
        "dns_search": dns.get("Search") or None,
        "dns_opt": dns.get("Options") or None,
        "extra_hosts": extra_hosts(spec.get("Hosts") or []) or None,
        **resource_options(schema.get_path(task, "Spec.Resources") or {}),
    }
    container = {
        "image": spec.get("Image", ""),
        "entrypoint": spec.get("Command") or None,
        "command": spec.get("Args") or None,
        "environment": [templates.expand(entry, fields) for entry in spec.get("Env") or []] or None,
        "hostname": templates.expand(spec["Hostname"], fields) if spec.get("Hostname") else None,
        "user": spec.get("User") or None,
        "working_dir": spec.get("Dir") or None,
        "tty": bool(spec.get("TTY")),
        "stdin_open": bool(spec.get("OpenStdin")),
        "healthcheck": spec.get("Healthcheck") or None,
        "stop_signal": spec.get("StopSignal") or None,
        "stop_timeout": core.stop_grace_seconds(task),
        "ports": exposed_ports(task) or None,
    }
    on_networks, network_host_config, others = network_options(task, network_state, list(resolvers))
    container.update(on_networks)
    host_config.update(network_host_config)  # None values are dropped below
    return CreateArguments({k: v for k, v in container.items() if v is not None},
                           {k: v for k, v in host_config.items() if v is not None}, others)

"""What a deploy or a removal writes, decided from the stack and what the cluster holds. Pure.

Everything a deploy can check is checked here, before its first write: the
external networks, secrets and configs exist; no object of the stack's names
belongs to something else; each service's secrets and configs can be mounted
together; no service changes mode; a config keeps its data (configs and
secrets are immutable). A service is updated only when its spec
differs from the stored one, so an unchanged service keeps its tasks; the
update rolls out under the service's own update policy.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass

from actors.common import datarefs
from actors.stack.convert import NAMESPACE, Stack
from actors.network import objects
from actors.stack.errors import ComposeError
from transport import schema


@dataclass(frozen=True)
class Step:
    """One control API request (``kind`` with ``body``) and the line printed before it is sent (none when
    empty: Docker says nothing as it updates an existing secret or config)."""
    message: str
    kind: str
    body: dict


def of_stack(objects, stack: str) -> list[dict]:
    """The objects (services, networks, secrets, configs) labelled as ``stack``'s, by name."""
    return sorted((o for o in objects if (schema.get_path(o, "Spec.Labels") or {}).get(NAMESPACE) == stack),
                  key=lambda o: o["Spec"]["Name"])


def stack_names(services) -> dict[str, int]:
    """stack name -> number of its services, for ``stack ls``."""
    counts: dict[str, int] = {}
    for service in services:
        stack = (schema.get_path(service, "Spec.Labels") or {}).get(NAMESPACE)
        if stack is not None:
            counts[stack] = counts.get(stack, 0) + 1
    return dict(sorted(counts.items()))


def deploy(stack: Stack, services: list[dict], networks: list[dict], secrets: list[dict], configs: list[dict],
           prune: bool = False) -> list[Step]:
    """The writes that bring the cluster (its ``services``, ``networks``, ``secrets`` and ``configs``, as
    the control API lists them) to ``stack``: prune (services of the stack no longer in the file, with
    ``prune``), then networks, secrets, configs, then services created or updated. ComposeError (before any
    write) for what the cluster would refuse."""
    by_name = {s["Spec"]["Name"]: s for s in services}
    wanted = {spec["Name"] for spec in stack.services.values()}
    pruned = [s for s in of_stack(services, stack.name) if s["Spec"]["Name"] not in wanted] if prune else []
    _check_ports(stack, [s for s in services if s not in pruned])  # a pruned service's ports are free again
    _check_subnets(stack, networks)
    _check_targets(stack)
    steps = [Step(f"Removing service {s['Spec']['Name']}", "service_rm", {"ref": s["ID"]}) for s in pruned]
    network_ids = {n["Spec"]["Name"]: n["ID"] for n in networks}
    for kind, declared, existing in (("network", stack.networks, networks), ("secret", stack.secrets, secrets),
                                     ("config", stack.configs, configs)):
        current = {o["Spec"]["Name"]: o for o in existing}
        for entry in declared.values():
            found = current.get(entry.name)
            if entry.spec is None:
                if found is None:
                    raise ComposeError(_missing_external(kind, entry.name))
                continue
            if found is None:
                body = {"spec": entry.spec} if entry.data is None else {"spec": entry.spec, "data": entry.data}
                steps.append(Step(f"Creating {kind} {entry.name}", f"{kind}_create", body))
            else:
                _check_kept(kind, found, entry, stack.name)
                if kind != "network":  # as Docker: its labels follow the file, other data is refused
                    steps.append(Step("", f"{kind}_update", {"ref": found["ID"], "version": schema.version_of(found),
                                                             "spec": entry.spec, "data": entry.data}))
    secret_ids = {s["Spec"]["Name"]: s["ID"] for s in secrets}
    config_ids = {c["Spec"]["Name"]: c["ID"] for c in configs}
    for spec in stack.services.values():
        current = by_name.get(spec["Name"])
        if current is None:
            steps.append(Step(f"Creating service {spec['Name']}", "service_create", {"spec": spec}))
            continue
        _check_service(current, spec, stack.name)
        spec = copy.deepcopy(spec)
        # A deploy has no --force: the stored ForceUpdate stays, so an unchanged service keeps its tasks.
        spec["TaskTemplate"]["ForceUpdate"] = schema.get_path(current, "Spec.TaskTemplate.ForceUpdate", 0)
        if _comparable(current["Spec"]) != _comparable(_with_ids(spec, network_ids, secret_ids, config_ids)):
            steps.append(Step(f"Updating service {spec['Name']} (id: {current['ID']})", "service_update",
                              {"ref": current["ID"], "version": schema.version_of(current), "spec": spec}))
    return steps


def update_again(step: Step, read: dict, current: dict) -> Step:
    """``step`` (a service update the control API refused as out of sequence) at ``current``'s version, when
    the service's spec is still the one ``read`` had, which the deploy compared against (only its status
    moved, as the updater writes it during a rollout); ComposeError when someone changed the spec meanwhile,
    which a deploy must not overwrite."""
    if current["Spec"] != read["Spec"]:
        raise ComposeError(f"service {current['Spec']['Name']} was changed by someone else during the deploy: "
                           "deploy again")
    return Step(step.message, step.kind, {**step.body, "version": schema.version_of(current)})


def remove(stack: str, services: list[dict], networks: list[dict], secrets: list[dict],
           configs: list[dict]) -> list[Step]:
    """``stack rm``: the stack's services, then its secrets, configs and networks (what it created;
    external objects carry no stack label). An empty list when the stack has nothing."""
    steps = []
    for kind, found in (("service", services), ("secret", secrets), ("config", configs), ("network", networks)):
        steps += [Step(f"Removing {kind} {o['Spec']['Name']}", f"{kind}_rm", {"ref": o["ID"]})
                  for o in of_stack(found, stack)]
    return steps


def _published(ports) -> list[tuple[str, int]]:
    return [(port.get("Protocol") or "tcp", port["PublishedPort"]) for port in ports or []
            if (port.get("PublishMode") or "ingress") == "ingress" and port.get("PublishedPort")]


def _check_ports(stack: Stack, services: list[dict]) -> None:
    """ComposeError when a service of the stack publishes (in ingress mode) a port that a service outside
    the stack holds or asks for, or that another of the stack's services (or itself, twice) publishes."""
    names = {spec["Name"] for spec in stack.services.values()}
    holders = {key: service["Spec"]["Name"] for service in services if service["Spec"]["Name"] not in names
               for key in _published(schema.get_path(service, "Endpoint.Ports"))
               + _published(schema.get_path(service, "Spec.EndpointSpec.Ports"))}
    for spec in stack.services.values():
        own: set = set()
        for protocol, number in _published(spec["EndpointSpec"]["Ports"]):
            if (protocol, number) in own:
                raise ComposeError(f"service {spec['Name']}: port {number}/{protocol} is published more than once")
            if (protocol, number) in holders:
                raise ComposeError(f"service {spec['Name']}: port {number}/{protocol} is already in use by service "
                                   f"'{holders[(protocol, number)]}'")
            own.add((protocol, number))
        holders.update({key: spec["Name"] for key in own})


def _check_subnets(stack: Stack, networks: list[dict]) -> None:
    """ComposeError when a network the stack creates asks for a subnet overlapping another network's."""
    taken = [(ipaddress.IPv4Network(config["Subnet"], strict=False), network["Spec"]["Name"])
             for network in networks
             for config in (objects.allocated_config(network) or {}, objects.requested_config(network))
             if config.get("Subnet")]
    for declared in stack.networks.values():
        configs = schema.get_path(declared.spec or {}, "IPAMOptions.Configs") or []
        if declared.spec is None or declared.name in {n["Spec"]["Name"] for n in networks} or not configs:
            continue
        subnet = ipaddress.IPv4Network(configs[0]["Subnet"])
        for other, name in taken:
            if subnet.overlaps(other):
                raise ComposeError(f"network {declared.name}: subnet {subnet} overlaps subnet {other} of "
                                   f"network {name}")
        taken.append((subnet, declared.name))


def _missing_external(kind: str, name: str) -> str:
    if kind == "network":
        return (f"network {name!r} is declared as external, but could not be found. You need to create a "
                "swarm-scoped network before the stack is deployed")
    return f"{kind} not found: {name} (declared as external)"


def _check_targets(stack: Stack) -> None:
    """ComposeError when a service's secrets or configs cannot all be mounted (a target with '..', two at one
    path): the control API would refuse the service after the stack's networks and secrets were written."""
    for spec in stack.services.values():
        refusal = datarefs.target_refusal(schema.get_path(spec, "TaskTemplate.ContainerSpec") or {})
        if refusal:
            raise ComposeError(f"service {spec['Name']}: {refusal}")


def _check_kept(kind: str, found: dict, entry, stack: str) -> None:
    """ComposeError when the existing object ``found`` of the stack's name is not the stack's, or a config
    whose data or a network whose options the file changes (networks, secrets and configs are created once
    and kept, never silently left different from the file)."""
    owner = (schema.get_path(found, "Spec.Labels") or {}).get(NAMESPACE)
    if owner != stack:
        raise ComposeError(f"{kind} {entry.name} already exists and is not part of stack {stack}")
    if kind == "config" and schema.get_path(found, "Spec.Data") != entry.data:
        raise ComposeError(f"config {entry.name} exists with other data, and a config cannot change: give it a "
                           f"new name in the file (e.g. {entry.name}_v2)")
    if kind == "network":
        changed = [what for what, old, new in (
            ("labels", found["Spec"].get("Labels") or {}, entry.spec["Labels"]),
            ("internal", bool(found["Spec"].get("Internal")), entry.spec["Internal"]),
            ("ipam", objects.requested_config(found), objects.requested_config({"Spec": entry.spec}))) if old != new]
        if changed:
            raise ComposeError(f"network {entry.name} exists with other {', '.join(changed)}, and a network is not "
                               "updated: remove the stack (or the network) first, or name it anew")


def _check_service(current: dict, spec: dict, stack: str) -> None:
    owner = (schema.get_path(current, "Spec.Labels") or {}).get(NAMESPACE)
    if owner != stack:
        raise ComposeError(f"service {spec['Name']} already exists and is not part of stack {stack}")
    if schema.service_mode(current) != schema.service_mode({"Spec": spec}):
        raise ComposeError(f"service {spec['Name']}: mode change is not allowed ({schema.service_mode(current)} "
                           f"-> {schema.service_mode({'Spec': spec})}); remove the service or the stack first")


def _with_ids(spec: dict, network_ids: dict, secret_ids: dict, config_ids: dict) -> dict:
    """``spec`` with network, secret and config names as the ids the stored spec holds (a name not in the
    cluster yet stays: the spec then differs, as it must)."""
    spec = copy.deepcopy(spec)
    for entry in spec["TaskTemplate"].get("Networks") or []:
        entry["Target"] = network_ids.get(entry["Target"], entry["Target"])
    container = spec["TaskTemplate"]["ContainerSpec"]
    for field, ids in (("Secrets", secret_ids), ("Configs", config_ids)):
        name_key, id_key = field[:-1] + "Name", field[:-1] + "ID"
        for reference in container.get(field) or []:
            if reference[name_key] in ids:
                reference[id_key] = ids[reference[name_key]]
    return spec


def _comparable(value):
    """``value`` with empty maps, lists and None dropped and networks in one order, so two specs that mean
    the same compare equal."""
    if isinstance(value, dict):
        out = {key: _comparable(item) for key, item in value.items()}
        if isinstance(out.get("Networks"), list):
            out["Networks"] = sorted(out["Networks"], key=lambda entry: entry.get("Target", ""))
        return {key: item for key, item in out.items() if item not in (None, {}, [])}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value

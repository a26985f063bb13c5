"""The control API's networks: checking what ``network create`` asks and what a service attaches to,
who uses a network, and what ``network inspect`` shows. Pure: tables in, a spec or an answer out.

Refusals follow Docker's: a name taken, a subnet that overlaps another
network's (allocated or asked for), a gateway outside its subnet, a driver
other than ``overlay``, a second ingress network; removing a network a
service or a task still uses; attaching a service to ``ingress`` by hand, or
twice to one network; publishing through the mesh in ``dnsrr`` mode.
"""

from __future__ import annotations

import copy

from actors.controlapi.resolve import resolve
from actors.controlapi.specs import invalid
from actors.network import ipam, objects
from transport import model, schema
from transport.rpc import RpcError

DNSRR_INGRESS = "port published with ingress mode can't be used with dnsrr mode"


def checked_network_spec(spec, networks: dict[str, dict]) -> dict:
    """``spec`` (a network's ``Spec`` as ``network create`` sends it) with Docker's defaults filled in, once
    it passes the model and the checks above against the existing ``networks``; RpcError otherwise."""
    if not isinstance(spec, dict):
        raise invalid("a network spec must be a map")
    try:
        model.name(spec.get("Name"), "Name")
    except model.Invalid:
        raise invalid(f"invalid network name {model.shown(spec.get('Name'))}: use letters, digits, '_', '.', '-'") from None
    try:
        model.network_spec(spec, "spec")
    except model.Invalid as exc:
        raise invalid(f"invalid {exc}") from None
    spec = copy.deepcopy(spec)
    driver = spec.setdefault("DriverConfiguration", {"Name": objects.DRIVER})
    driver.setdefault("Options", {})
    if driver["Name"] != objects.DRIVER:
        raise invalid(f"network driver {model.shown(driver['Name'])} is not supported: Shoal's networks are overlay")
    spec.setdefault("Labels", {})
    for flag in ("Attachable", "Internal", "Ingress"):
        spec.setdefault(flag, False)
    ipam_options = spec.setdefault("IPAMOptions", {})
    ipam_driver = ipam_options.setdefault("Driver", {"Name": objects.IPAM_DRIVER})
    if ipam_driver.get("Name") != objects.IPAM_DRIVER:
        raise invalid(f"IPAM driver {model.shown(ipam_driver.get('Name'))} is not supported: use default")
    for config in ipam_options.get("Configs") or []:
        check_config(config, networks)
    if not ipam_options.get("Configs"):
        ipam_options.pop("Configs", None)
    named = [n for n in networks.values() if schema.get_path(n, "Spec.Name") == spec["Name"]]
    if named:
        raise RpcError("name_conflict", f"network with name {spec['Name']} already exists ({named[0]['ID']})")
    if spec["Ingress"]:
        ingress = objects.find_ingress(networks)
        if ingress is not None:
            raise RpcError("refused", f"an ingress network already exists: {ingress['Spec']['Name']} ({ingress['ID']})")
    if spec["Attachable"]:
        raise invalid("attachable networks are not supported: only service tasks get addresses on Shoal's "
                      "networks, a standalone container cannot be given one")
    return spec


def check_config(config: dict, networks: dict[str, dict]) -> None:
    """RpcError ``invalid`` unless the ``{Subnet, Gateway, IPRange}`` asked for is well formed and its subnet
    overlaps no other network's (allocated or asked for)."""
    subnet_text = config.get("Subnet")
    if not subnet_text:
        if config.get("Gateway") or config.get("IPRange"):
            raise invalid("a gateway or an IP range needs a subnet (--subnet)")
        return
    if config.get("IPRange"):
        raise invalid("--ip-range is not supported: addresses come from the whole subnet")
    try:
        subnet = ipam.parse_subnet(subnet_text)
        if config.get("Gateway"):
            ipam.parse_gateway(config["Gateway"], subnet)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    for other in networks.values():
        for taken in (objects.allocated_config(other) or {}, objects.requested_config(other)):
            if taken.get("Subnet") and subnet.overlaps(ipam.parse_subnet(taken["Subnet"])):
                raise RpcError("refused", f"subnet {subnet} overlaps subnet {taken['Subnet']} of network "
                                          f"{other['Spec']['Name']}")


def resolve_network(networks: dict[str, dict], ref) -> dict:
    """The network ``ref`` names (id, name, or unique id prefix); RpcError ``not_found``/``ambiguous``."""
    return resolve(networks, "networks", ref)


def users(network: dict, services: dict[str, dict], tasks: dict[str, dict], nodes: dict[str, dict]) -> list[str]:
    """Names of the services using ``network``: attached by their spec, holding a VIP on it, publishing
    through the mesh (for ingress), or with a task that still holds an address on it."""
    network_id = network["ID"]
    names = set()
    for service in services.values():
        spec = service.get("Spec") or {}
        if network_id in objects.service_network_ids(service) \
                or network_id in [vip.get("NetworkID") for vip in objects.virtual_ips(service)] \
                or objects.is_ingress(network) and objects.publishes_ingress(spec):
            names.add(spec.get("Name") or service["ID"])
    for task in tasks.values():
        if objects.task_holds_addresses(task, nodes) and network_id in objects.attachment_network_ids(task):
            names.add(schema.get_path(services.get(task.get("ServiceID"), {}), "Spec.Name")
                      or schema.get_path(task, "ServiceAnnotations.Name") or task.get("ServiceID", ""))
    return sorted(names)


def removal_refusal(network: dict, services, tasks, nodes) -> str | None:
    """Why ``network`` cannot be removed now, or None."""
    using = users(network, services, tasks, nodes)
    if not using:
        return None
    if objects.is_ingress(network):
        return f"ingress network cannot be removed because service {', '.join(using)} depends on it"
    return f"network {network['Spec']['Name']} is in use by service {', '.join(using)}"


def resolved_service_spec(spec: dict, networks: dict[str, dict]) -> dict:
    """A copy of the (model-valid) service ``spec`` with each ``TaskTemplate.Networks`` target resolved to a
    network id; RpcError when one is unknown, is ``ingress``, comes twice, or the endpoint mode and the
    ports cannot go together (dnsrr with mesh ports), or the mesh has no ingress network."""
    spec = copy.deepcopy(spec)
    entries = objects.spec_networks(spec.get("TaskTemplate"))
    seen = set()
    for entry in entries:
        network = resolve_network(networks, entry["Target"])
        if objects.is_ingress(network):
            raise invalid(f"service cannot be explicitly attached to the ingress network {network['Spec']['Name']!r}")
        if network["ID"] in seen:
            raise invalid(f"service is attached to network {network['Spec']['Name']} more than once")
        seen.add(network["ID"])
        entry["Target"] = network["ID"]
    if objects.publishes_ingress(spec):
        if objects.endpoint_mode(spec) == objects.DNSRR:
            raise invalid(DNSRR_INGRESS)
        if objects.find_ingress(networks) is None:
            raise invalid("publishing in ingress mode needs the ingress network, and there is none "
                          "(create one: shoal network create --ingress NAME)")
    return spec


def inspected(network: dict, services: dict[str, dict], tasks: dict[str, dict], nodes: dict[str, dict]) -> dict:
    """The network as ``network inspect`` shows it: the object, plus ``Services`` (name -> its VIP on the
    network and its tasks holding an address there, as Docker's verbose inspect) and ``Peers`` (each node
    with an address on it: hostname, its data address and that address)."""
    network_id = network["ID"]
    shown = copy.deepcopy(network)
    attached: dict[str, dict] = {}
    for service in services.values():
        vip = next((v["Addr"] for v in objects.virtual_ips(service) if v.get("NetworkID") == network_id), None)
        if vip is not None or network_id in objects.service_network_ids(service):
            attached[service["Spec"]["Name"]] = {"VIP": ipam.bare(vip) if vip else "", "Tasks": []}
    for task in sorted(tasks.values(), key=lambda t: (t.get("ServiceID", ""), t.get("Slot") or 0, t["ID"])):
        if not objects.task_holds_addresses(task, nodes):
            continue
        for held_network, address in objects.held_addresses(task):
            if held_network != network_id:
                continue
            service = services.get(task.get("ServiceID"), {})
            name = schema.get_path(service, "Spec.Name") or schema.get_path(task, "ServiceAnnotations.Name") or ""
            entry = attached.setdefault(name, {"VIP": "", "Tasks": []})
            node = nodes.get(task.get("NodeID") or "", {})
            entry["Tasks"].append({"Name": f"{schema.task_name(name, task)}.{task['ID']}", "ID": task["ID"],
                                   "EndpointIP": ipam.bare(address), "State": schema.get_path(task, "Status.State"),
                                   "NodeID": task.get("NodeID") or "",
                                   "Info": {"Host IP": schema.get_path(node, "Status.Addr", "")}})
    shown["Services"] = attached
    shown["Peers"] = [{"Name": schema.get_path(node, "Description.Hostname", ""), "IP": schema.get_path(node, "Status.Addr", ""),
                       "Address": ipam.bare(address)}
                      for node in sorted(nodes.values(), key=lambda n: n["ID"])
                      for held_network, address in objects.held_addresses(node, "Attachments") if held_network == network_id]
    return shown

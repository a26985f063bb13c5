"""Reading the store's network objects and the network parts of services, tasks and nodes.

One definition of each fact every network component reads (docs/networking.md,
## Networks and addresses): what makes a network allocated, its subnet,
gateway and VXLAN id, which networks a service or task is attached to, whether
a service publishes a port through the routing mesh, and which tasks still hold
their addresses. The shapes are Docker's:

- network: ``Spec {Name, Labels, DriverConfiguration, IPAMOptions (as asked),
  Attachable, Internal, Ingress}``, and from the allocator ``DriverState`` (the
  VXLAN id under :data:`VNI_OPTION`) and ``IPAMOptions`` (what was allocated);
- service: ``Spec.TaskTemplate.Networks [{Target, Aliases}]``,
  ``Spec.EndpointSpec.Mode`` (``vip``/``dnsrr``), ``Endpoint.VirtualIPs
  [{NetworkID, Addr}]``;
- task: ``NetworksAttachments [{Network {ID, Spec, DriverState, IPAMOptions},
  Addresses, Aliases}]``; node: ``Attachments [{Network {ID}, Addresses}]``.
"""

from __future__ import annotations

from transport import schema

DRIVER = "overlay"
IPAM_DRIVER = "default"
VNI_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
INGRESS_NAME = "ingress"
VIP = "vip"
DNSRR = "dnsrr"
INGRESS_MODE = "ingress"


def ingress_network(network_id: str) -> dict:
    """The ``ingress`` network object ``swarm init`` creates. As in Docker, it names no subnet: created first,
    it gets the first of the default address pool (10.0.0.0/24, gateway 10.0.0.1, unless ``swarm init
    --default-addr-pool`` says otherwise)."""
    return {"ID": network_id,
            "Spec": {"Name": INGRESS_NAME, "Labels": {}, "DriverConfiguration": {"Name": DRIVER, "Options": {}},
                     "IPAMOptions": {"Driver": {"Name": IPAM_DRIVER}},
                     "Attachable": False, "Internal": False, "Ingress": True}}


def is_ingress(network: dict) -> bool:
    """True for the cluster's routing-mesh network."""
    return bool(schema.get_path(network, "Spec.Ingress"))


def find_ingress(networks: dict[str, dict]) -> dict | None:
    """The ingress network among ``networks`` (id -> network), or None."""
    return next((network for network in networks.values() if is_ingress(network)), None)


def requested_config(network: dict) -> dict:
    """The ``{Subnet, Gateway}`` the user asked for (either may be absent; {} when none)."""
    configs = schema.get_path(network, "Spec.IPAMOptions.Configs") or []
    return dict(configs[0]) if configs else {}


def allocated_config(network: dict) -> dict | None:
    """The allocated ``{Subnet, Gateway}``, or None while the network is not allocated."""
    configs = schema.get_path(network, "IPAMOptions.Configs") or []
    return dict(configs[0]) if configs and configs[0].get("Subnet") else None


def vni_of(network: dict) -> int | None:
    """The network's allocated VXLAN id, or None."""
    text = schema.get_path(network, "DriverState.Options", {}).get(VNI_OPTION)
    try:
        return int(str(text).split(",")[0]) if text is not None else None
    except ValueError:
        return None


def is_allocated(network: dict) -> bool:
    """True once the allocator gave the network its subnet and VXLAN id."""
    return allocated_config(network) is not None and vni_of(network) is not None


def allocation(vni: int, subnet: str, gateway: str) -> dict:
    """The fields the allocator writes on a network: ``DriverState`` and ``IPAMOptions``."""
    return {"DriverState": {"Name": DRIVER, "Options": {VNI_OPTION: str(vni)}},
            "IPAMOptions": {"Driver": {"Name": IPAM_DRIVER}, "Configs": [{"Subnet": subnet, "Gateway": gateway}]}}


def summary(network: dict) -> dict:
    """What a task's attachment copies of its network: ``{ID, Spec, DriverState, IPAMOptions}``."""
    return {"ID": network["ID"], "Spec": network.get("Spec") or {},
            "DriverState": network.get("DriverState") or {}, "IPAMOptions": network.get("IPAMOptions") or {}}


def spec_networks(task_template: dict | None) -> list[dict]:
    """``TaskTemplate.Networks`` (``[{Target, Aliases}]``) of a service spec's task template or a task's spec."""
    return list((task_template or {}).get("Networks") or [])


def service_network_ids(service: dict) -> list[str]:
    """Ids of the networks ``service``'s spec attaches its tasks to, in the spec's order."""
    return [entry["Target"] for entry in spec_networks(schema.get_path(service, "Spec.TaskTemplate"))]


def endpoint_mode(service_spec: dict) -> str:
    """``vip`` (the default) or ``dnsrr``."""
    return schema.get_path(service_spec, "EndpointSpec.Mode") or VIP


def publishes_ingress(service_spec: dict) -> bool:
    """True if the spec publishes a port through the routing mesh (``PublishMode`` ingress, the default)."""
    ports = schema.get_path(service_spec, "EndpointSpec.Ports") or []
    return any((port.get("PublishMode") or INGRESS_MODE) == INGRESS_MODE for port in ports)


def attachment_network_ids(obj: dict, field: str = "NetworksAttachments") -> list[str]:
    """Ids of the networks of a task's ``NetworksAttachments`` (or a node's ``Attachments``)."""
    return [schema.get_path(attachment, "Network.ID") for attachment in obj.get(field) or []]


def held_addresses(obj: dict, field: str = "NetworksAttachments") -> list[tuple[str, str]]:
    """``(network id, address)`` of each address in a task's ``NetworksAttachments`` (or a node's
    ``Attachments``)."""
    return [(schema.get_path(attachment, "Network.ID"), address)
            for attachment in obj.get(field) or [] for address in attachment.get("Addresses") or []]


def virtual_ips(service: dict) -> list[dict]:
    """The service's allocated ``Endpoint.VirtualIPs`` (``[{NetworkID, Addr}]``)."""
    return list(schema.get_path(service, "Endpoint.VirtualIPs") or [])


def task_holds_addresses(task: dict, nodes: dict[str, dict]) -> bool:
    """True while ``task``'s addresses are its own: it has not ended, and its node (if it has one) exists."""
    state = schema.get_path(task, "Status.State") or schema.NEW
    node_id = task.get("NodeID")
    return not schema.is_terminal(state) and (not node_id or node_id in nodes)

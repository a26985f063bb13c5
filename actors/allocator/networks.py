"""The allocator's decision for networks: a VXLAN id and a subnet for each network that has none.

A network that names its subnet (``Spec.IPAMOptions.Configs[0].Subnet``) gets
it unless it overlaps one already allocated (then it stays unallocated and
:func:`network_ops` says why); one that does not gets the first free subnet of
the cluster's ``SubnetSize`` in its ``DefaultAddrPool``, avoiding the subnets
other networks asked for. Older networks are served first. The gateway is the
one asked for, or the subnet's first host address.
"""

from __future__ import annotations

from actors.common.viewindex import patch_op
from actors.network import ipam, objects
from transport import schema


def address_pool_settings(cluster: dict | None) -> tuple[list[str], int]:
    """The cluster's ``DefaultAddrPool`` and ``SubnetSize`` (Docker's defaults when unset)."""
    pools = (cluster or {}).get("DefaultAddrPool") or list(ipam.DEFAULT_ADDR_POOL)
    return list(pools), int((cluster or {}).get("SubnetSize") or ipam.DEFAULT_SUBNET_SIZE)


def allocated_subnets(networks: dict[str, dict]) -> dict[str, object]:
    """Network id -> allocated subnet (an ``IPv4Network``) of each allocated network."""
    subnets = {}
    for network_id, network in networks.items():
        config = objects.allocated_config(network)
        if config is not None:
            try:
                subnets[network_id] = ipam.parse_subnet(config["Subnet"])
            except ValueError:
                continue
    return subnets


def requested_subnet(network: dict):
    """The subnet the network's spec asks for (an ``IPv4Network``), or None; ValueError when malformed."""
    text = objects.requested_config(network).get("Subnet")
    return ipam.parse_subnet(text) if text else None


def network_ops(networks: dict[str, dict], cluster: dict | None) -> tuple[list[dict], dict[str, str]]:
    """Patches allocating every unallocated network, and why each one left unallocated could not be."""
    pools, size = address_pool_settings(cluster)
    taken = list(allocated_subnets(networks).values())
    vnis = {objects.vni_of(network) for network in networks.values() if objects.is_allocated(network)}
    waiting = sorted((network for network in networks.values() if not objects.is_allocated(network)),
                     key=lambda network: (network.get("CreatedAt") or "", network["ID"]))
    asked = {}
    for network in waiting:
        try:
            asked[network["ID"]] = requested_subnet(network)
        except ValueError:
            asked[network["ID"]] = None
    ops, problems = [], {}
    for network in waiting:
        try:
            subnet = requested_subnet(network)
            if subnet is not None:
                blocker = ipam.overlapping(subnet, taken)
                if blocker is not None:
                    raise ValueError(f"subnet {subnet} overlaps subnet {blocker} of another network")
            else:
                others = [asked_subnet for other_id, asked_subnet in asked.items()
                          if asked_subnet is not None and other_id != network["ID"]]
                subnet = ipam.next_subnet(pools, size, taken + others)
            gateway_text = objects.requested_config(network).get("Gateway")
            gateway = ipam.parse_gateway(gateway_text, subnet) if gateway_text else ipam.default_gateway(subnet)
            vni = ipam.lowest_free_vni(vnis)
        except (ValueError, ipam.Exhausted) as exc:
            problems[network["ID"]] = f"network {schema.get_path(network, 'Spec.Name', network['ID'])}: {exc}"
            continue
        taken.append(subnet)
        vnis.add(vni)
        ops.append(patch_op("networks", network, objects.allocation(vni, str(subnet), str(gateway))))
    return ops, problems

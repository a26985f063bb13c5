"""The engine's side of a host's networks: one Docker bridge network per Shoal network.

Each carries the network's subnet and gateway (``--internal`` when the
network is), the bridge name overlay.bridge_name gives, the overlay's MTU,
and the labels ``shoal.cluster.id`` and ``shoal.network.id``, by which it is
found again (after a restart, or when another host on the same engine made
it). Containers are attached to it with their allocated addresses
(actors/executor/options.py); the overlay plane puts the VXLAN device on its
bridge. Blocking: call off the event loop.
"""

from __future__ import annotations

import ipaddress
from typing import Callable

import docker
import docker.errors
import docker.types

from actors.network import overlay

LABEL_CLUSTER = "shoal.cluster.id"
LABEL_NETWORK = "shoal.network.id"


class BridgeError(Exception):
    """The engine refused to make or find a network's bridge; the message says why, in its words."""


class Bridges:
    """The Docker bridge networks of cluster ``cluster_id`` on the engine ``client()`` reaches."""

    def __init__(self, cluster_id: str, client: Callable[[], docker.DockerClient]):
        self.cluster_id = cluster_id
        self._client = client

    def _find(self, network_id: str) -> dict | None:
        found = self._client().api.networks(filters={"label": [f"{LABEL_CLUSTER}={self.cluster_id}",
                                                                f"{LABEL_NETWORK}={network_id}"]})
        return found[0] if found else None

    def ensure(self, network: dict) -> bool:
        """Make the bridge network of ``network`` (a host state's network) unless the engine has it; True
        when it was made now. Another host sharing the engine may make it at the same moment: then its
        network is used. A bridge of this cluster's that holds an overlapping subnet is a removed network's
        (the allocator never gives two live networks overlapping subnets) that no host has taken down yet:
        it is removed, when no container is on it, and the bridge made again."""
        if self._find(network["ID"]) is not None:
            return False
        try:
            self._create(network)
        except docker.errors.APIError as exc:
            if self._find(network["ID"]) is not None:
                return True
            if not self._remove_left_behind(network):
                holders = ", ".join(self._overlapping(network["Subnet"]))
                held = f" (the subnet is held by the engine's network {holders})" if holders else ""
                raise BridgeError(f"cannot make the bridge of network {network['Name']}: "
                                  f"{exc.explanation or exc}{held}") from None
            try:
                self._create(network)
            except docker.errors.APIError as again:
                if self._find(network["ID"]) is None:
                    raise BridgeError(f"cannot make the bridge of network {network['Name']}: "
                                      f"{again.explanation or again}") from None
        return True

    def _create(self, network: dict) -> None:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=network["Subnet"],
                                                                           gateway=network["Gateway"])])
        self._client().api.create_network(
            overlay.docker_network_name(network["ID"], network["Name"]), driver="bridge",
            ipam=ipam, internal=bool(network.get("Internal")), check_duplicate=True,
            options={"com.docker.network.bridge.name": overlay.bridge_name(network["ID"]),
                     "com.docker.network.driver.mtu": str(overlay.VXLAN_MTU)},
            labels={LABEL_CLUSTER: self.cluster_id, LABEL_NETWORK: network["ID"]})

    def _remove_left_behind(self, network: dict) -> bool:
        """Remove this cluster's bridges of other networks whose subnet overlaps ``network``'s; True when
        at least one was removed."""
        wanted = ipaddress.ip_network(network["Subnet"])
        removed = False
        for found in self._client().api.networks(filters={"label": f"{LABEL_CLUSTER}={self.cluster_id}"}):
            other = (found.get("Labels") or {}).get(LABEL_NETWORK)
            if not other or other == network["ID"]:
                continue
            if any(config.get("Subnet") and ipaddress.ip_network(config["Subnet"], strict=False).overlaps(wanted)
                   for config in (found.get("IPAM") or {}).get("Config") or ()):
                removed = self.remove(other) or removed
        return removed

    def _overlapping(self, subnet: str) -> list[str]:
        """Names of the engine's networks whose subnet overlaps ``subnet`` (a Docker network of another
        cluster, or of anything else, left on the engine), so an operator knows what to remove."""
        wanted = ipaddress.ip_network(subnet)
        return sorted(found["Name"] for found in self._client().api.networks()
                      for config in (found.get("IPAM") or {}).get("Config") or ()
                      if config.get("Subnet") and ipaddress.ip_network(config["Subnet"], strict=False).overlaps(wanted))

    def remove(self, network_id: str) -> bool:
        """Remove the bridge network of ``network_id`` unless a container is on it; True when it is gone."""
        found = self._find(network_id)
        if found is None:
            return True
        api = self._client().api
        try:
            if api.inspect_network(found["Id"]).get("Containers"):
                return False
            api.remove_network(found["Id"])
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # a container was attached meanwhile ("has active endpoints")
            if exc.status_code != 403:
                raise BridgeError(f"cannot remove the bridge of network {network_id}: "
                                  f"{exc.explanation or exc}") from None
            return False
        return True

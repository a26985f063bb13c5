"""The host's overlay plane: its part of each network, kept in line with the host network state.

The network agent (agent.py) hands :meth:`OverlayPlane.apply` each new state
first, before DNS and load balancing. Per network of the state it makes the
Docker bridge network (bridges.py), reads what the kernel has
(netlink.observe), and carries out overlay.plan's changes. A network that
left the state, and every network at :meth:`OverlayPlane.stop`, loses this
host's address and its VXLAN device; its bridge network is removed unless
another host sharing the namespace still uses it, or once no container is
on it any more (tried again at each apply). A network that fails does not
keep the others from being programmed; the failure is raised at the end,
so the agent tries again. Blocking: one call at a time, off the event loop.
"""

from __future__ import annotations

import logging
from typing import Callable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from actors.network import netlink, overlay
from actors.network.bridges import BridgeError, Bridges

log = logging.getLogger(__name__)


class OverlayError(Exception):
    """Some networks could not be programmed; the message names each with the reason."""


class OverlayPlane:
    """The overlay plane of a host whose data address (its node's ``Status.Addr``) is ``data_addr``."""

    def __init__(self, bridges: Bridges, data_addr: str, netns: Callable[[], IPRoute] = IPRoute):
        """Make bridges with ``bridges``; ``netns()`` opens the netlink socket of the namespace to program
        (by default this process's)."""
        self._bridges = bridges
        self._data_addr = data_addr
        self._netns = netns
        self._programmed: dict[str, dict] = {}  # network id -> the state's network, as last programmed
        self._added: dict[str, frozenset[str]] = {}  # network id -> addresses this host put on its bridge
        self._leaving: dict[str, dict] = {}  # left networks whose bridge a container still held: tried again
        self._written: dict[str, overlay.Kernel] = {}  # network id -> what the kernel had after the last apply

    def apply(self, state: dict) -> None:
        """Program every network of ``state`` and take this host out of those that left it."""
        wanted = {network["ID"]: network for network in state["Networks"]}
        errors = []
        with self._netns() as ipr:
            for network in wanted.values():
                try:
                    self._program(ipr, network)
                except (BridgeError, NetlinkError, OverlayError) as exc:
                    errors.append(f"network {network['Name']}: {exc}")
            for network_id in sorted(set(self._programmed) - set(wanted)):
                self._leaving[network_id] = self._programmed.pop(network_id)
            for network_id in sorted(set(self._leaving)):
                if network_id in wanted:
                    del self._leaving[network_id]
                    continue
                try:
                    self._leave(ipr, network_id)
                except (BridgeError, NetlinkError) as exc:
                    errors.append(f"leaving network {self._leaving[network_id]['Name']}: {exc}")
        if errors:
            raise OverlayError("; ".join(errors))

    def programmed(self) -> set[str]:
        """Ids of the networks in place on this host now (for the agent, in the thread that applies)."""
        return set(self._programmed)

    def _program(self, ipr: IPRoute, network: dict) -> None:
        # The engine is asked every time: a bridge network removed behind the host's back (a user's
        # `docker network prune` takes one no container is on yet) is made and programmed again.
        if not self._bridges.ensure(network) and self._programmed.get(network["ID"]) == network:
            return
        have = netlink.observe(ipr, network["ID"], self._written.pop(network["ID"], None))
        if have.bridge_mac is None:
            raise OverlayError(f"the engine made no bridge {overlay.bridge_name(network['ID'])}")
        added = self._added.get(network["ID"], frozenset())
        changes = overlay.plan(network, self._data_addr, have, added)
        netlink.apply(ipr, changes)
        self._written[network["ID"]] = overlay.after(have, changes)  # only once every change is made
        self._added[network["ID"]] = frozenset([network["NodeAddress"]] if network.get("NodeAddress") else [])
        if network["ID"] not in self._programmed:
            log.info("overlay network %s programmed: bridge %s, %d changes", network["Name"],
                     overlay.bridge_name(network["ID"]), len(changes))
        self._programmed[network["ID"]] = network

    def _leave(self, ipr: IPRoute, network_id: str) -> None:
        """Take this host's address and (unless another host uses it) the VXLAN device off a network it
        left, and remove its bridge network; one a container still holds is tried again next apply."""
        network = self._leaving[network_id]
        added = self._added.get(network_id, frozenset())
        have = netlink.observe(ipr, network_id, self._written.pop(network_id, None))
        netlink.apply(ipr, overlay.plan_removal(network_id, network.get("Gateway"), have, added))
        self._added.pop(network_id, None)
        if overlay.others_on_bridge(have, network.get("Gateway"), added) or self._bridges.remove(network_id):
            del self._leaving[network_id]
            log.info("overlay network %s left", network["Name"])

    def stop(self) -> None:
        """Take this host out of every network it programmed (at host stop)."""
        self.apply({"Networks": [], "Services": []})

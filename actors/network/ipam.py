"""IP address management, pure: subnets from a pool, addresses in a subnet, VXLAN ids.

Modelled on Docker's default IPAM as Swarm drives it:

- a network without a subnet gets the first subnet of the cluster's
  ``SubnetSize`` inside its ``DefaultAddrPool`` that overlaps no subnet in
  use (:func:`next_subnet`);
- in a subnet the network and broadcast addresses are never handed out and
  the gateway (by default the first host address) is reserved; addresses are
  handed out *serially*: after the last one handed out, wrapping round at the
  end, so an address just released is reused as late as possible
  (:class:`AddressPool`);
- VXLAN ids are the lowest free from 4096 up (:func:`lowest_free_vni`).

Addresses are written as Docker writes them: ``10.0.1.5/24`` (address and the
subnet's prefix length) in attachments, ``10.0.1.5`` alone where a bare
address is meant.
"""

from __future__ import annotations

import ipaddress

VNI_FIRST = 4096
VNI_LAST = (1 << 24) - 1
SMALLEST_PREFIX = 30  # a /30 holds one address beside its gateway; /31 and /32 hold none
DEFAULT_ADDR_POOL = ("10.0.0.0/8",)
DEFAULT_SUBNET_SIZE = 24


class Exhausted(Exception):
    """Nothing is left to hand out; the message says what, for users."""


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """The IPv4 subnet ``text`` names (``10.0.1.0/24``, host bits zero, /30 or larger); ValueError saying why not."""
    try:
        subnet = ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        raise ValueError(f"invalid subnet {text!r}: use an IPv4 CIDR such as 10.0.9.0/24") from None
    if subnet.version != 4:
        raise ValueError(f"invalid subnet {text}: only IPv4 subnets are supported")
    if str(subnet) != text:
        raise ValueError(f"invalid subnet {text}: host bits are set (did you mean {subnet}?)")
    if subnet.prefixlen > SMALLEST_PREFIX:
        raise ValueError(f"invalid subnet {text}: it must be a /{SMALLEST_PREFIX} or larger")
    return subnet


def parse_gateway(text: str, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """The gateway ``text`` names, a host address of ``subnet``; ValueError saying why not."""
    try:
        gateway = ipaddress.IPv4Address(text)
    except (TypeError, ValueError):
        raise ValueError(f"invalid gateway {text!r}: use an IPv4 address") from None
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise ValueError(f"gateway {text} is not a host address of subnet {subnet}")
    return gateway


def default_gateway(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """The first host address of ``subnet``, Docker's default gateway."""
    return subnet.network_address + 1


def bare(address: str) -> str:
    """``10.0.1.5`` from ``10.0.1.5/24`` (unchanged when it has no prefix)."""
    return address.partition("/")[0]


def overlapping(subnet: ipaddress.IPv4Network, others) -> ipaddress.IPv4Network | None:
    """The first of ``others`` (subnets) that overlaps ``subnet``, or None."""
    return next((other for other in others if subnet.overlaps(other)), None)


def next_subnet(pools, size: int, taken) -> ipaddress.IPv4Network:
    """The first ``/size`` subnet in ``pools`` (CIDR strings, in order) overlapping none of ``taken``;
    Exhausted when every pool is full. Costs one step per subnet of ``taken`` in the way, not one per
    candidate."""
    taken = sorted(taken, key=lambda subnet: int(subnet.network_address))
    for text in pools:
        pool = ipaddress.IPv4Network(text)
        if size < pool.prefixlen:
            continue
        step = 1 << (32 - size)
        start, end = int(pool.network_address), int(pool.broadcast_address)
        while start + step - 1 <= end:
            candidate = ipaddress.IPv4Network((start, size))
            blocker = overlapping(candidate, taken)
            if blocker is None:
                return candidate
            after = int(blocker.broadcast_address) + 1
            start = max(start + step, (after + step - 1) // step * step)
    raise Exhausted(f"no free /{size} subnet left in the address pool {', '.join(pools)}")


def lowest_free_vni(taken) -> int:
    """The lowest VXLAN id from VNI_FIRST not in ``taken``; Exhausted when none is left."""
    taken = set(taken)
    vni = VNI_FIRST
    while vni in taken:
        vni += 1
    if vni > VNI_LAST:
        raise Exhausted("no free VXLAN id left")
    return vni


class AddressPool:
    """The addresses of one subnet and who holds them (a count per address: a holder claims and releases
    its own, so two claims of one address by mistake never free it early)."""

    def __init__(self, subnet: str, gateway: str | None = None):
        self.subnet = parse_subnet(subnet)
        self.gateway = parse_gateway(gateway, self.subnet) if gateway else default_gateway(self.subnet)
        self._first = int(self.subnet.network_address) + 1
        self._last = int(self.subnet.broadcast_address) - 1
        self._held: dict[int, int] = {}
        self._cursor = int(self.subnet.network_address)  # the last address handed out; the next is searched after it

    def __len__(self) -> int:
        """How many addresses are held."""
        return len(self._held)

    def capacity(self) -> int:
        """How many addresses the subnet can hand out (its hosts but the gateway)."""
        return self._last - self._first  # hosts (last - first + 1) minus the gateway

    def _number(self, address: str) -> int | None:
        try:
            number = int(ipaddress.IPv4Address(bare(address)))
        except ValueError:
            return None
        if not self._first <= number <= self._last or number == int(self.gateway):
            return None
        return number

    def claim(self, address: str) -> bool:
        """Record ``address`` (``A.B.C.D`` or ``A.B.C.D/N``) as held once more; False (nothing recorded)
        when it is not an address this subnet hands out."""
        number = self._number(address)
        if number is None:
            return False
        self._held[number] = self._held.get(number, 0) + 1
        return True

    def release(self, address: str) -> None:
        """Undo one :meth:`claim` of ``address`` (nothing when it was not held)."""
        number = self._number(address)
        count = self._held.get(number, 0) if number is not None else 0
        if count > 1:
            self._held[number] = count - 1
        elif count == 1:
            del self._held[number]

    def clear(self) -> None:
        """Forget every holder, keeping the place of the last address handed out (reuse stays delayed)."""
        self._held.clear()

    def holds(self, address: str) -> bool:
        """True if ``address`` is held."""
        number = self._number(address)
        return number is not None and number in self._held

    def allocate(self) -> str:
        """Hold the next free address after the last one handed out (wrapping round) and return it as
        ``A.B.C.D/N``; Exhausted when every address is held."""
        if len(self._held) >= self.capacity():
            raise Exhausted(f"no free address left in subnet {self.subnet}")
        number = self._cursor
        while True:
            number = self._first if number >= self._last else number + 1
            if number != int(self.gateway) and number not in self._held:
                break
        self._held[number] = 1
        self._cursor = number
        return f"{ipaddress.IPv4Address(number)}/{self.subnet.prefixlen}"

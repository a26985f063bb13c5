"""Published ports: who holds each, and the ports a service's endpoint gets (core.py decides when).

A service's ports are *allocated* when its ``Endpoint.Spec`` equals its
``Spec.EndpointSpec``. Otherwise :func:`assign_ports` assigns them:

- ``ingress`` ports are unique per protocol across the cluster: a requested
  ``PublishedPort`` held by another service is a conflict, and a dynamic one
  (``PublishedPort`` 0 or absent) gets the lowest free port of Swarm's range
  30000-32767 (keeping the port the service had for that target, if any);
- ``host`` ports are published on each task's node, so they are not
  cluster-unique and are taken as given.

On a conflict nothing is written for the service; its new tasks stay ``new``
and say why in ``Status.Err`` (core.py). :func:`check_ports` lets the control
API refuse a conflicting spec up front.
"""

from __future__ import annotations

import copy

from actors.common.viewindex import ViewIndex
from transport import schema

TCP = "tcp"
INGRESS = "ingress"
HOST = "host"
DYNAMIC_PORTS = range(30000, 32768)
WAITING_MESSAGE = "waiting for port allocation"


class PortConflict(Exception):
    """A requested port cannot be had; the message says why, for users."""


class PortBook:
    """Who holds each cluster-wide (ingress) port: ``(protocol, port) -> (service id, service name)``."""

    def __init__(self, holders: dict[tuple[str, int], tuple[str, str]] | None = None):
        self.holders = dict(holders or {})

    def copy(self) -> "PortBook":
        """An independent copy, to try an allocation without committing it."""
        return PortBook(self.holders)

    def add_service(self, service: dict, ports: list[dict]) -> None:
        """Record the ingress ``ports`` (normalised) as held by ``service``; unpublished ones are skipped."""
        for port in ports:
            if port["PublishMode"] == INGRESS and port["PublishedPort"]:
                self.holders[(port["Protocol"], port["PublishedPort"])] = holder_of(service)

    def release(self, service_id: str) -> None:
        """Forget every port held by ``service_id``."""
        self.holders = {key: holder for key, holder in self.holders.items() if holder[0] != service_id}

    def claim(self, protocol: str, number: int, service: dict) -> None:
        """Take ``number``/``protocol`` for ``service``; PortConflict if someone (or the service itself) has it."""
        holder = self.holders.get((protocol, number))
        if holder is None:
            self.holders[(protocol, number)] = holder_of(service)
        elif holder[0] == service["ID"]:
            raise PortConflict(f"port {number}/{protocol} is published more than once")
        else:
            raise PortConflict(f"port {number}/{protocol} is already in use by service '{holder[1]}'")

    def lowest_free(self, protocol: str) -> int:
        """The lowest port of the dynamic range free for ``protocol``; PortConflict if none is."""
        for number in DYNAMIC_PORTS:
            if (protocol, number) not in self.holders:
                return number
        raise PortConflict(f"no free {protocol} port left in {DYNAMIC_PORTS.start}-{DYNAMIC_PORTS.stop - 1}")


def holder_of(service: dict) -> tuple[str, str]:
    """The (id, name) pair a PortBook records for ``service``."""
    return service.get("ID") or "", schema.get_path(service, "Spec.Name", "")


def normalized_port(port: dict) -> dict:
    """A port config with Docker's defaults filled in (tcp, ingress, PublishedPort 0 = dynamic)."""
    result = copy.deepcopy(port)
    result["Protocol"] = port.get("Protocol") or TCP
    result["PublishMode"] = port.get("PublishMode") or INGRESS
    result["TargetPort"] = int(port.get("TargetPort") or 0)
    result["PublishedPort"] = int(port.get("PublishedPort") or 0)
    return result


def requested_ports(service_spec: dict) -> list[dict]:
    """The normalised ``EndpointSpec.Ports`` of a service spec."""
    return [normalized_port(port) for port in schema.get_path(service_spec, "EndpointSpec.Ports") or []]


def assign_ports(service: dict, book: PortBook, previous: list[dict]) -> list[dict]:
    """Allocated ports for ``service``'s spec, claimed in ``book``; raises PortConflict.

    Explicit ingress ports are claimed first; dynamic ones then reuse the
    service's ``previous`` dynamic port for the same target, or take the lowest free.
    """
    requested = requested_ports(service.get("Spec") or {})
    for port in requested:
        if port["PublishMode"] == INGRESS and port["PublishedPort"]:
            book.claim(port["Protocol"], port["PublishedPort"], service)
    reusable = {(port["Protocol"], port["TargetPort"]): port["PublishedPort"] for port in previous
                if port["PublishMode"] == INGRESS and port["PublishedPort"] in DYNAMIC_PORTS}
    for port in requested:
        if port["PublishMode"] == INGRESS and not port["PublishedPort"]:
            kept = reusable.pop((port["Protocol"], port["TargetPort"]), None)
            if kept is None or (port["Protocol"], kept) in book.holders:
                kept = book.lowest_free(port["Protocol"])
            book.claim(port["Protocol"], kept, service)
            port["PublishedPort"] = kept
    return requested


def allocated_ports(service: dict) -> list[dict]:
    """The service's current ``Endpoint.Ports``, normalised (empty if none)."""
    return [normalized_port(port) for port in schema.get_path(service, "Endpoint.Ports") or []]


def endpoint_spec(service: dict) -> dict:
    """The service's requested ``Spec.EndpointSpec`` ({} if none)."""
    return schema.get_path(service, "Spec.EndpointSpec") or {}


def is_allocated(service: dict) -> bool:
    """True if the service's ``Endpoint`` ports were allocated for its current ``EndpointSpec``."""
    endpoint = service.get("Endpoint")
    return endpoint is not None and (endpoint.get("Spec") or {}) == endpoint_spec(service)


def check_ports(view, service_spec: dict, service_id: str | None = None) -> str | None:
    """Why ``service_spec`` cannot get its ports, or None if it can.

    Checks against the ports other services hold or explicitly request (the
    service ``service_id`` itself, when updating, is left out). For the control
    API's validation of create and update; allocates nothing.
    """
    index = ViewIndex(view)
    book = PortBook()
    for other in index.services.values():
        if other["ID"] != service_id:
            book.add_service(other, allocated_ports(other) + requested_ports(other.get("Spec") or {}))
    try:
        assign_ports({"ID": service_id or "", "Spec": service_spec}, book, previous=[])
    except PortConflict as conflict:
        return str(conflict)
    return None

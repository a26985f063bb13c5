"""Whether a task was made from its service's current spec: one rule for the orchestrator's updater and
rebalancer and for the CLI's progress, so what the CLI waits for is what the orchestrator rolls."""

from __future__ import annotations

from transport import schema


def is_dirty(task: dict, service: dict) -> bool:
    """True if ``task`` was made from another spec than ``service``'s: its ``Spec`` differs from
    ``Spec.TaskTemplate``, or its host-mode ports from the spec's (a task not allocated yet gets the
    current ports, so only allocated ports are compared). A replicas change never makes a task dirty.

    Unlike Swarm, a change of placement constraints alone replaces tasks whose node still meets them."""
    if (task.get("Spec") or {}) != (schema.get_path(service, "Spec.TaskTemplate") or {}):
        return True
    endpoint = task.get("Endpoint")
    return endpoint is not None and (host_ports(endpoint.get("Ports"))
                                     != host_ports(schema.get_path(service, "Spec.EndpointSpec.Ports")))


def host_ports(ports) -> list[tuple]:
    """The host-mode entries of a port list as sorted (protocol, target, published) tuples."""
    return sorted((port.get("Protocol") or "tcp", port.get("TargetPort") or 0, port.get("PublishedPort") or 0)
                  for port in ports or [] if port.get("PublishMode") == "host")

"""Checking service specs (Docker's shape) before they reach the store."""

from __future__ import annotations

import re

from transport.rpc import RpcError

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
RESTART_CONDITIONS = ("any", "on-failure", "none")


def invalid(message: str) -> RpcError:
    """The error for a spec the API refuses."""
    return RpcError("invalid", message)


def check_service_spec(spec: dict) -> None:
    """Raise RpcError ``invalid`` naming the first problem of ``spec``; return None when it is acceptable."""
    if not isinstance(spec, dict):
        raise invalid("a service spec must be a map")
    name = spec.get("Name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid(f"invalid service name {name!r}: use letters, digits, '_', '.', '-' (at most 63)")
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    if not isinstance(container.get("Image"), str) or not container["Image"].strip():
        raise invalid("a service needs an image")
    for field in ("Command", "Args", "Env"):
        value = container.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise invalid(f"ContainerSpec.{field} must be a list of strings")
    _check_mode(spec.get("Mode") or {})
    _check_restart(spec["TaskTemplate"].get("RestartPolicy") or {})
    for port in (spec.get("EndpointSpec") or {}).get("Ports") or []:
        _check_port(port)


def _check_mode(mode: dict) -> None:
    if "Global" in mode:
        return
    replicas = (mode.get("Replicated") or {}).get("Replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(f"invalid replicas value {replicas!r}: must be a whole number >= 0")


def _check_restart(policy: dict) -> None:
    condition = policy.get("Condition", "any")
    if condition not in RESTART_CONDITIONS:
        raise invalid(f"invalid restart condition {condition!r}: use any, on-failure or none")
    for field in ("Delay", "MaxAttempts", "Window"):
        value = policy.get(field, 0)
        if not isinstance(value, int) or value < 0:
            raise invalid(f"invalid restart {field.lower()} {value!r}: must be >= 0")


def _check_port(port: dict) -> None:
    if port.get("Protocol", "tcp") not in ("tcp", "udp", "sctp"):
        raise invalid(f"invalid protocol {port.get('Protocol')!r}: use tcp or udp")
    if port.get("PublishMode", "ingress") not in ("ingress", "host"):
        raise invalid(f"invalid publish mode {port.get('PublishMode')!r}: use ingress or host")
    target, published = port.get("TargetPort"), port.get("PublishedPort", 0)
    if not isinstance(target, int) or not 1 <= target <= 65535:
        raise invalid(f"invalid target port {target!r}: must be 1-65535")
    if not isinstance(published, int) or not 0 <= published <= 65535:
        raise invalid(f"invalid published port {published!r}: must be 1-65535")

"""Checking what clients send the control API (Docker's shapes) before it reaches the store.

The object model (transport/model.py) decides what a valid spec is; these
functions add what only a request can be refused for (an image to run, a
mode the orchestrator carries out) and phrase the common mistakes the way
Docker's CLI does.
"""

from __future__ import annotations

from transport import limits, model
from transport.pages import encoded_size
from transport.rpc import RpcError

# Modes the orchestrator reconciles; the model knows Docker's others (jobs, global) by shape only.
SUPPORTED_MODES = ("Replicated",)


def invalid(message: str) -> RpcError:
    """The error for a request the API refuses."""
    return RpcError("invalid", message)


def checked(rule: model.Check, value, what: str):
    """``value`` when it passes the model's ``rule``; else RpcError ``invalid`` naming ``what`` and the problem."""
    try:
        rule(value, what)
    except model.Invalid as exc:
        raise invalid(f"invalid {exc}") from None
    return value


def check_service_spec(spec: dict) -> None:
    """Raise RpcError ``invalid`` naming the first problem of ``spec``; return None when it is acceptable."""
    if not isinstance(spec, dict):
        raise invalid("a service spec must be a map")
    name = spec.get("Name")
    try:
        model.name(name, "Name")
    except model.Invalid:
        raise invalid(f"invalid service name {model.shown(name)}: use letters, digits, '_', '.', '-' "
                      f"(at most {limits.NAME_CHARS})") from None
    mode = spec.get("Mode")
    if isinstance(mode, dict) and isinstance(mode.get("Replicated"), dict) and "Replicas" in mode["Replicated"]:
        check_replicas(mode["Replicated"]["Replicas"])
    checked(model.service_spec, spec, "spec")
    size = encoded_size(spec)
    if size > limits.SPEC_BYTES:
        raise invalid(f"service spec of {size} bytes is larger than the limit of {limits.SPEC_BYTES} "
                      "(the service keeps it and its previous spec within one store object)")
    if not image_of(spec):
        raise invalid("a service needs an image")
    kind = next(iter(mode or {"Replicated": {}}))
    if kind not in SUPPORTED_MODES:
        raise invalid(f"{kind} services are not supported yet: use replicated mode")


def with_defaults(spec: dict) -> dict:
    """A copy of the valid ``spec`` with Docker's default mode where it names none: replicated, and
    1 replica when ``Replicated`` gives no ``Replicas``."""
    mode = dict(spec.get("Mode") or {"Replicated": {}})
    if "Replicated" in mode:
        mode["Replicated"] = {"Replicas": 1, **mode["Replicated"]}
    return {**spec, "Mode": mode}


def image_of(spec: dict) -> str:
    """The image a service spec names ('' when none)."""
    return ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", "").strip()


def check_replicas(replicas) -> int:
    """``replicas`` when it is a whole number in 0..REPLICAS; RpcError ``invalid`` in Docker's words otherwise."""
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(f"invalid replicas value {model.shown(replicas)}: must be a whole number >= 0")
    if replicas > limits.REPLICAS:
        raise invalid(f"invalid replicas value {replicas}: a service may have at most {limits.REPLICAS} replicas")
    return replicas

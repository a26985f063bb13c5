"""Checking what clients send the control API (Docker's shapes) before it reaches the store.

The object model (transport/model.py) decides what a valid spec is; these
functions add what only a request can be refused for (an image to run, a
mode the orchestrator carries out) and phrase the common mistakes the way
Docker's CLI does.
"""

from __future__ import annotations

import copy

from actors.common import constraints, jobs
from transport import limits, model, schema
from transport.pages import encoded_size
from transport.rpc import RpcError

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
    for kind in ("Global", "GlobalJob"):
        if isinstance(mode, dict) and isinstance(mode.get(kind), dict) and "Replicas" in mode[kind]:
            raise invalid("replicas can only be used with replicated or replicated-job mode")
    checked(model.service_spec, spec, "spec")
    size = encoded_size(spec)
    if size > limits.SPEC_BYTES:
        raise invalid(f"service spec of {size} bytes is larger than the limit of {limits.SPEC_BYTES} "
                      "(the service keeps it and its previous spec within one store object)")
    if not image_of(spec):
        raise invalid("a service needs an image")
    kind = next(iter(mode or {"Replicated": {}}))
    check_placement(spec, kind)
    check_resources(spec)


def with_defaults(spec: dict) -> dict:
    """A copy of the valid ``spec`` with Docker's default mode where it names none: replicated, and
    1 replica when ``Replicated`` gives no ``Replicas``; a replicated job runs 1 task at a time unless
    ``MaxConcurrent`` says otherwise, and ``TotalCompletions`` defaults to ``MaxConcurrent``."""
    mode = dict(spec.get("Mode") or {"Replicated": {}})
    if "Replicated" in mode:
        mode["Replicated"] = {"Replicas": 1, **mode["Replicated"]}
    if "ReplicatedJob" in mode:
        concurrent, total = jobs.replicated_limits({"Spec": {"Mode": mode}})
        mode["ReplicatedJob"] = {"MaxConcurrent": concurrent, "TotalCompletions": total}
    return {**spec, "Mode": mode}


def check_mode_change(service: dict, spec: dict) -> None:
    """RpcError ``invalid`` when ``spec`` would change ``service``'s mode (Swarm refuses it too)."""
    if schema.service_mode(service) != schema.service_mode({"Spec": spec}):
        raise invalid("service mode change is not allowed")


def scaled_spec(service: dict, replicas: int) -> dict:
    """``service``'s spec scaled to ``replicas`` (a replicated job's TotalCompletions, which runs it
    again); RpcError ``invalid`` for the other modes, as Docker says it."""
    spec = copy.deepcopy(service["Spec"])
    mode = schema.service_mode(service)
    if mode == "replicated":
        spec["Mode"] = {"Replicated": {"Replicas": replicas}}
    elif mode == "replicated-job":
        spec["Mode"]["ReplicatedJob"]["TotalCompletions"] = replicas
    else:
        raise invalid(f"{service['Spec']['Name']}: scale can only be used with replicated or replicated-job mode")
    return spec


def job_changes(service: dict | None, spec: dict, now: float) -> dict:
    """What writing ``spec`` over ``service`` (None at create) changes beside the spec: for a job, a
    ``JobStatus`` with a new iteration from ``now`` (the first is 0); nothing for other modes."""
    if not jobs.is_job({"Spec": spec}):
        return {}
    previous = schema.get_path(service or {}, "JobStatus.JobIteration.Index")
    return {"JobStatus": {"JobIteration": {"Index": 0 if previous is None else previous + 1},
                          "LastExecution": schema.format_time(now)}}


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


# Above any machine's: a reservation or limit past these is a typo, not a big node (a reservation
# merely larger than every node of the cluster is accepted, and waits for a node that has it).
MAX_CPUS = 1 << 16
MAX_MEMORY_BYTES = 1 << 50  # 1 PiB
MIN_NANO_CPUS = 1_000_000  # swarmkit's minimums
MIN_MEMORY_BYTES = 4 << 20


def check_placement(spec: dict, kind: str) -> None:
    """Raise RpcError ``invalid`` if the valid ``spec`` of mode ``kind`` has a constraint Docker refuses
    (with Docker's message), a spread preference over something other than a label, or a replicas-per-node
    limit in a global mode."""
    placement = schema.get_path(spec, "TaskTemplate.Placement") or {}
    try:
        constraints.parse(placement.get("Constraints") or [])
        for preference in placement.get("Preferences") or []:
            if "Spread" not in preference:
                raise ValueError("a placement preference must be a spread (spread=node.labels.<name>)")
            constraints.parse_spread(preference["Spread"]["SpreadDescriptor"])
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if placement.get("MaxReplicas") and kind not in ("Replicated", "ReplicatedJob"):
        raise invalid("replicas-max-per-node can only be used with replicated or replicated-job mode")


def check_resources(spec: dict) -> None:
    """Raise RpcError ``invalid`` if the valid ``spec`` reserves or limits CPUs or memory below swarmkit's
    minimums (Docker's messages) or above any machine's, or reserves more memory than it limits."""
    resources = schema.get_path(spec, "TaskTemplate.Resources") or {}
    for amounts in (resources.get("Reservations") or {}, resources.get("Limits") or {}):
        cpus, memory = amounts.get("NanoCPUs") or 0, amounts.get("MemoryBytes") or 0
        if cpus and cpus < MIN_NANO_CPUS:
            raise invalid(f"invalid cpu value {cpus / 1e9:g}: Must be at least {MIN_NANO_CPUS / 1e9:g}")
        if cpus > MAX_CPUS * 1_000_000_000:
            raise invalid(f"invalid cpu value {cpus / 1e9:g}: Must be at most {MAX_CPUS}")
        if memory and memory < MIN_MEMORY_BYTES:
            raise invalid(f"invalid memory value {memory}: Must be at least 4MiB")
        if memory > MAX_MEMORY_BYTES:
            raise invalid(f"invalid memory value {memory}: Must be at most 1PiB")
    reserved = schema.get_path(resources, "Reservations.MemoryBytes") or 0
    limit = schema.get_path(resources, "Limits.MemoryBytes") or 0
    if limit and reserved > limit:
        # The engine would refuse to create every container of the service.
        raise invalid(f"memory reservation {reserved} is larger than the memory limit {limit}")

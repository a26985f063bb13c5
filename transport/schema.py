"""The object schema shared by every actor: tables, task states, ids, times.

Objects in the store are plain dicts that use Docker's field names
(``ID``, ``Version.Index``, ``Spec.Name``, ``Status.State`` ...), so the CLI
can show them as ``docker ... inspect`` does.  Shoal-only fields live under
the ``Shoal`` key of an object.  See docs/architecture.md for the full
description of each table and of who writes which field.
"""

from __future__ import annotations

import datetime as _dt
import functools as _functools
import string as _string

from transport import limits, text

TABLES = ("cluster", "nodes", "services", "tasks", "secrets", "configs", "networks", "leases")

# Tables whose objects carry a unique ``Spec.Name``.
NAMED_TABLES = ("services", "secrets", "configs", "networks")

# Task states, in lifecycle order (Docker's lowercase names).
NEW = "new"
PENDING = "pending"
ASSIGNED = "assigned"
ACCEPTED = "accepted"
PREPARING = "preparing"
STARTING = "starting"
RUNNING = "running"
COMPLETE = "complete"
SHUTDOWN = "shutdown"
FAILED = "failed"
REJECTED = "rejected"
REMOVE = "remove"
ORPHANED = "orphaned"

TASK_STATES = (NEW, PENDING, ASSIGNED, ACCEPTED, PREPARING, STARTING, RUNNING,
               COMPLETE, SHUTDOWN, FAILED, REJECTED, REMOVE, ORPHANED)
_ORDER = {state: rank for rank, state in enumerate(TASK_STATES)}
TERMINAL_STATES = frozenset((COMPLETE, SHUTDOWN, FAILED, REJECTED, ORPHANED, REMOVE))

# Node states and availabilities (Docker's names).
NODE_UNKNOWN = "unknown"
NODE_READY = "ready"
NODE_DOWN = "down"
ACTIVE = "active"
PAUSE = "pause"
DRAIN = "drain"

_ID_ALPHABET = _string.ascii_lowercase + _string.digits


def state_rank(state: str) -> int:
    """Position of ``state`` in the task lifecycle; raises KeyError if unknown."""
    return _ORDER[state]


def is_terminal(state: str) -> bool:
    """True if a task in ``state`` will never run again."""
    return state in TERMINAL_STATES


def new_id() -> str:
    """A fresh random object id: 25 lowercase letters and digits, like Docker's."""
    import secrets  # here, not at the top: it costs the CLI's start ~10 ms (OpenSSL) and the CLI makes no ids

    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(25))


def format_time(epoch_seconds: float) -> str:
    """RFC 3339 UTC time with nanoseconds, as Docker prints CreatedAt."""
    second = int(epoch_seconds)
    nanos = int(round((epoch_seconds - second) * 1e9))
    if nanos >= 1_000_000_000:  # the fraction rounded up to a whole second
        second, nanos = second + 1, nanos - 1_000_000_000
    return _second_text(second) + f"{nanos:09d}Z"


def parse_time(text: str) -> float:
    """Inverse of :func:`format_time`: RFC 3339 UTC string to epoch seconds."""
    if not text:
        return 0.0
    base, _, frac = text.rstrip("Z").partition(".")
    return _second_of(base) + (float("0." + frac) if frac else 0.0)


# The store stamps, and validates, a time on every object it writes, many within one second: the
# calendar work for a second is done once (strftime and strptime cost more than the rest of a small write).
@_functools.lru_cache(maxsize=4096)
def _second_text(second: int) -> str:
    return _dt.datetime.fromtimestamp(second, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")


@_functools.lru_cache(maxsize=4096)
def _second_of(base: str) -> float:
    return _dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.timezone.utc).timestamp()


def stored_time(text) -> float:
    """Epoch seconds of a time read from an object; 0 (long past) when absent or unparseable. The store
    refuses bad times (transport/model.py), but a reader must not crash on one written before it did."""
    try:
        return parse_time(text) if isinstance(text, str) else 0.0
    except (ValueError, OverflowError):
        return 0.0


def get_path(obj: dict, dotted: str, default=None):
    """Value at ``a.b.c`` inside nested dicts, or ``default`` when any step is missing."""
    node = obj
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def version_of(obj: dict) -> int:
    """The store version (``Version.Index``) of an object, 0 if it has none."""
    return int(get_path(obj, "Version.Index", 0) or 0)


def task_status(state: str, message: str, timestamp: float, err: str = "", **extra) -> dict:
    """A task ``Status`` dict in Docker's shape; ``message`` and ``err`` (often an engine's words) are
    made printable and cut to their limits, so the store never refuses a status for its text."""
    status = {"Timestamp": format_time(timestamp), "State": state,
              "Message": text.clipped(text.escaped(message), limits.STATUS_MESSAGE_CHARS)}
    if err:
        status["Err"] = text.clipped(text.escaped(err), limits.STATUS_ERR_CHARS)
    status.update(extra)
    return status


def service_mode(service: dict) -> str:
    """``replicated``, ``global``, ``replicated-job`` or ``global-job`` for a service object."""
    mode = get_path(service, "Spec.Mode", {}) or {}
    for key, name in (("Replicated", "replicated"), ("Global", "global"),
                      ("ReplicatedJob", "replicated-job"), ("GlobalJob", "global-job")):
        if key in mode:
            return name
    return "replicated"


def desired_replicas(service: dict) -> int:
    """Replica count of a replicated service (0 for other modes)."""
    return int(get_path(service, "Spec.Mode.Replicated.Replicas", 0) or 0)


def task_name(service_name: str, task: dict) -> str:
    """Docker's task name: ``web.3`` for a slot, ``web.<node id>`` for a global task."""
    slot = task.get("Slot")
    return f"{service_name}.{slot}" if slot else f"{service_name}.{task.get('NodeID', '')}"

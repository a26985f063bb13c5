"""What ``swarm update`` may change in the cluster's spec, checked before it is proposed."""

from __future__ import annotations

from actors.common import heartbeat
from transport import limits, model, schema
from transport.rpc import RpcError

HEARTBEAT_PATH = "Spec.Dispatcher.HeartbeatPeriod"
HISTORY_PATH = "Spec.Orchestration.TaskHistoryRetentionLimit"
# request field -> (the cluster's path, why a value is refused or None when it is fine)
SETTINGS = {
    "dispatcher_heartbeat": (HEARTBEAT_PATH, heartbeat.refusal),
    "task_history_limit": (HISTORY_PATH, lambda value: None if isinstance(value, int) and not isinstance(value, bool)
                           and 0 <= value <= limits.LIST_ITEMS else
                           f"invalid task history limit {model.shown(value)}: it must be between 0 and "
                           f"{limits.LIST_ITEMS}"),
}


def cluster_changes(cluster: dict, body: dict) -> dict:
    """The patch (path -> value) that an update request ``body`` asks of ``cluster``: ``dispatcher_heartbeat``
    (nanoseconds) and ``task_history_limit``, each optional; only what differs from ``cluster``. RpcError
    ``invalid`` for an unknown field or a value out of its bounds (the message names them)."""
    unknown = sorted(set(body) - set(SETTINGS))
    if unknown:
        raise RpcError("invalid", f"unknown swarm setting {model.shown(unknown[0])}: use "
                                  + " or ".join(SETTINGS))
    changes = {}
    for field, value in body.items():
        if value is None:
            continue
        path, refusal = SETTINGS[field]
        reason = refusal(value)
        if reason:
            raise RpcError("invalid", reason)
        if schema.get_path(cluster, path) != value:
            changes[path] = value
    return changes

"""What the dispatcher writes to the store and sends to nodes, as pure functions.

- :func:`assignments_for` is the set of tasks a node must know about.
- :func:`status_ops` turns a node's status reports into store patches, keeping
  a task's state from moving backwards and ignoring tasks that are not the node's.
- :func:`node_down_ops` / :func:`node_ready_ops` write node liveness.
- :func:`stale_ready_nodes` finds nodes the store shows ready that have had no
  session for the grace period (e.g. after the dispatcher itself restarted).
"""

from __future__ import annotations

from transport import schema


def assignments_for(tasks: dict[str, dict], node_id: str) -> list[dict]:
    """Tasks placed on ``node_id`` that the scheduler has assigned (state >= assigned), by id."""
    assigned_rank = schema.state_rank(schema.ASSIGNED)
    chosen = [task for task in tasks.values()
              if task.get("NodeID") == node_id and schema.state_rank(task["Status"]["State"]) >= assigned_rank]
    return sorted(chosen, key=lambda task: task["ID"])


def digest(assignments: list[dict]) -> tuple:
    """A cheap fingerprint of an assignment set: (id, version) pairs."""
    return tuple((task["ID"], schema.version_of(task)) for task in assignments)


def status_ops(tasks: dict[str, dict], node_id: str, reports: dict[str, dict]) -> list[dict]:
    """Store patches for ``reports`` (task id -> Status) sent by ``node_id``.

    A report is dropped when the task is gone, is not on this node, or would
    move its state backwards (or sideways out of a terminal state).
    """
    ops = []
    for task_id, status in reports.items():
        task = tasks.get(task_id)
        if task is None or task.get("NodeID") != node_id:
            continue
        current = task["Status"]["State"]
        if schema.is_terminal(current) or schema.state_rank(status["State"]) < schema.state_rank(current):
            continue
        if status == task["Status"]:
            continue
        ops.append({"op": "patch", "table": "tasks", "id": task_id, "set": {"Status": status}, "missing_ok": True})
    return ops


def node_ready_ops(node: dict, description: dict, addr: str, now: float) -> list[dict]:
    """Mark ``node`` ready with its reported ``description``."""
    return [{"op": "patch", "table": "nodes", "id": node["ID"], "missing_ok": True,
             "set": {"Status": {"State": schema.NODE_READY, "Addr": addr, "Message": "",
                                "Timestamp": schema.format_time(now)},
                     "Description": description}}]


def node_down_ops(node_id: str, message: str, now: float) -> list[dict]:
    """Mark ``node_id`` down, saying why."""
    return [{"op": "patch", "table": "nodes", "id": node_id, "missing_ok": True,
             "set": {"Status.State": schema.NODE_DOWN, "Status.Message": message,
                     "Status.Timestamp": schema.format_time(now)}}]


def stale_ready_nodes(nodes: dict[str, dict], live_node_ids: set[str], unserved_since: dict[str, float],
                      now: float, grace: float) -> list[str]:
    """Ready nodes without a live session for longer than ``grace``.

    ``unserved_since`` (node id -> first time seen without a session) is
    updated in place: entries are added for newly unserved nodes and dropped
    for nodes that have a session again.
    """
    stale = []
    for node_id, node in nodes.items():
        if node_id in live_node_ids or node["Status"]["State"] != schema.NODE_READY:
            unserved_since.pop(node_id, None)
            continue
        first = unserved_since.setdefault(node_id, now)
        if now - first > grace:
            stale.append(node_id)
    return stale

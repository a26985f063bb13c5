"""What the dispatcher writes to the store and sends to nodes, as pure functions.

- :func:`assignments_for` is the set of tasks a node must know about.
- :func:`status_ops` turns a node's status reports into store patches, keeping
  a task's state from moving backwards and ignoring tasks that are not the node's.
- :func:`node_down_ops` / :func:`node_ready_ops` write node liveness, each
  checked against the version of the node the dispatcher decided from: a
  dispatcher whose view lags cannot mark down a node that reconnected
  elsewhere, nor bring back one that left (the write fails as a conflict).
- :func:`stale_ready_nodes` finds nodes the store shows ready that have had no
  session for the grace period (e.g. after the dispatcher itself restarted),
  among the nodes this dispatcher answers for (:func:`answers_for`).

Several dispatchers run, one or more per manager (named by
``hostconfig.dispatcher_name``); each node's session is with one of them,
recorded in the node's ``Shoal.Dispatcher``. A dispatcher renews a
presence lease (:func:`presence_lease_name`) while it runs, so the others can
tell when the nodes of a dead dispatcher are theirs to look after.
"""

from __future__ import annotations

from actors.common.leases import is_live
from transport import schema


def assignments_for(tasks: dict[str, dict], node_id: str) -> list[dict]:
    """Tasks placed on ``node_id`` that the scheduler has assigned (state >= assigned), by id. ``tasks``
    may be every task or only the node's (``TaskIndex.on_node``: what the dispatcher passes)."""
    assigned_rank = schema.state_rank(schema.ASSIGNED)
    chosen = [task for task in tasks.values()
              if task.get("NodeID") == node_id and schema.state_rank(task["Status"]["State"]) >= assigned_rank]
    return sorted(chosen, key=lambda task: task["ID"])


def digest(assignments: list[dict]) -> tuple:
    """A cheap fingerprint of what a node acts on in an assignment set: (id, desired state) pairs.

    Once a task is assigned, its spec, slot, node and ports never change; what
    others write to it afterwards is its desired state (the orchestrator) and
    the fields of the node's own status reports (``Status``, ``Shoal.Health``,
    ``Shoal.RunningAt``, written by the dispatcher), which the node already
    knows. So the set is pushed again when a task comes, goes or is told to
    stop, not after every report the node sends (each push carries all the
    node's tasks: pushing after every report cost O(tasks on the node) per
    report)."""
    return tuple((task["ID"], task.get("DesiredState")) for task in assignments)


def status_ops(tasks: dict[str, dict], node_id: str, reports: dict[str, dict]) -> list[dict]:
    """Store patches for ``reports`` (task id -> Status, with an optional Health) sent by ``node_id``.

    A report is dropped when the task is gone, is not on this node, or would
    move its state backwards (or sideways out of a terminal state). The first
    running report also sets ``Shoal.RunningAt`` to its timestamp; a report's
    Health goes to the task's ``Shoal.Health``.
    """
    ops = []
    for task_id, report in reports.items():
        task = tasks.get(task_id)
        if task is None or task.get("NodeID") != node_id:
            continue
        status = {key: value for key, value in report.items() if key != "Health"}
        current = task["Status"]["State"]
        if schema.is_terminal(current) or schema.state_rank(status["State"]) < schema.state_rank(current):
            continue
        changes = {"Status": status}
        if "Health" in report:
            changes["Shoal.Health"] = report["Health"]
        if all(schema.get_path(task, path) == value for path, value in changes.items()):
            continue
        if status["State"] == schema.RUNNING and current != schema.RUNNING and status.get("Timestamp"):
            # Kept once the status moves on: the updater's monitor window runs from here (orchestrator/update.py).
            changes["Shoal.RunningAt"] = status["Timestamp"]
        ops.append({"op": "patch", "table": "tasks", "id": task_id, "set": changes, "missing_ok": True})
    return ops


def node_ready_ops(node: dict, description: dict, addr: str, now: float, dispatcher: str) -> list[dict]:
    """Mark ``node`` ready with its reported ``description``, in session with ``dispatcher``, if it is
    still at the version seen."""
    return [{"op": "patch", "table": "nodes", "id": node["ID"], "version": schema.version_of(node),
             "set": {"Status": {"State": schema.NODE_READY, "Addr": addr, "Message": "",
                                "Timestamp": schema.format_time(now)},
                     "Description": description, "Shoal.Dispatcher": dispatcher}}]


def presence_lease_name(dispatcher: str) -> str:
    """The lease a running dispatcher keeps renewing, held in its name (``NODE`` or ``NODE/K``: an id
    has no ``/``, so ``dispatcher.NODE.K`` for a further instance)."""
    return f"dispatcher.{dispatcher.replace('/', '.')}"


def live_dispatchers(leases: dict[str, dict], nodes: dict[str, dict], now: float) -> set[str]:
    """Dispatchers (their holders' names) whose presence lease is live at ``now``: not expired, and not on a
    manager the Raft leader reports unreachable (actors/common/leases.py)."""
    prefix = presence_lease_name("")
    return {lease["Holder"] for lease_id, lease in leases.items()
            if lease_id.startswith(prefix) and is_live(lease, nodes, now)}


def answers_for(node: dict, me: str, live: set[str]) -> bool:
    """True when dispatcher ``me`` looks after ``node``: its session is with ``me``, or with a dispatcher that is gone."""
    owner = schema.get_path(node, "Shoal.Dispatcher")
    return owner == me or owner not in live


def expiry_shows_gone(node: dict | None, me: str) -> bool:
    """Whether a session of dispatcher ``me`` that went unheard shows its node gone: only while the node's
    latest session is still with ``me``. A node that opened one with another dispatcher since was alive
    then (it moved: a dispatcher started that it prefers, or the one it left stopped); if that dispatcher
    is gone as well, :func:`stale_ready_nodes` judges the node, with the orphan grace."""
    return node is not None and schema.get_path(node, "Shoal.Dispatcher") == me


def node_down_ops(node: dict, message: str, now: float) -> list[dict]:
    """Mark ``node`` down, saying why, if it is still at the version seen (missing: nothing to do)."""
    return [{"op": "patch", "table": "nodes", "id": node["ID"], "version": schema.version_of(node), "missing_ok": True,
             "set": {"Status.State": schema.NODE_DOWN, "Status.Message": message,
                     "Status.Timestamp": schema.format_time(now)}}]


def stale_ready_nodes(nodes: dict[str, dict], live_node_ids: set[str], unserved_since: dict[str, float],
                      now: float, me: str, live: set[str], own_grace: float, orphan_grace: float) -> list[str]:
    """Ready nodes that dispatcher ``me`` answers for and that have had no session with it for too long:
    ``own_grace`` for its own nodes (time to reconnect after it restarted), ``orphan_grace`` for the nodes
    of a dispatcher that is gone (``live`` lists those still running).

    ``unserved_since`` (node id -> first time seen without a session) is
    updated in place: entries are added for newly unserved nodes and dropped
    for nodes that have a session again or are another live dispatcher's.
    """
    stale = []
    for node_id, node in nodes.items():
        if (node_id in live_node_ids or node["Status"]["State"] != schema.NODE_READY
                or not answers_for(node, me, live)):
            unserved_since.pop(node_id, None)
            continue
        first = unserved_since.setdefault(node_id, now)
        owner = schema.get_path(node, "Shoal.Dispatcher")
        # A node whose session was with its own host's dispatcher, now gone, lost its host (or that host's
        # actors cannot write): it has no other dispatcher to move to, so it gets no time to.
        grace = own_grace if owner == me else 0.0 if owner == node_id else orphan_grace
        if now - first > grace:
            stale.append(node_id)
    return stale
